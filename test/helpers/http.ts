// A small JSON client over undici for driving the daemon in tests.
import { Agent, request } from 'undici';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

const agents = new Map<string, Agent>();
/** An agent bound to a local source address: 127.0.0.2 looks like another client to the daemon. */
function agentFor(localAddress: string | undefined): Agent | undefined {
  if (!localAddress) return undefined;
  let agent = agents.get(localAddress);
  if (!agent) {
    agent = new Agent({ localAddress });
    agents.set(localAddress, agent);
  }
  return agent;
}

export async function api(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  options: { token?: string; headers?: Record<string, string>; raw?: string | Buffer; from?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let payload: string | Buffer | undefined = options.raw;
  if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] ??= 'application/json';
  }
  const dispatcher = agentFor(options.from);
  const response = await request(new URL(path, base), {
    method: method as 'GET',
    headers,
    body: payload,
    ...(dispatcher ? { dispatcher } : {}),
  });
  const text = await response.body.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.statusCode, headers: response.headers, text, json };
}
