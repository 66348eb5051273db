// A small JSON client over undici for driving the daemon in tests. Every answer it receives is
// checked against the OpenAPI document the daemon serves (server/openapi.json): an undocumented
// status, content type, header or body field throws, naming the operation.
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
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
  const reply = { status: response.statusCode, headers: response.headers, text, json };
  checkAgainstDocument(method, new URL(path, base).pathname, reply);
  return reply;
}

// ---- the OpenAPI document as the tests hold the daemon to it ---------------------------------------

type Json = Record<string, unknown>;
interface ResponseSpec {
  description: string;
  headers?: Record<string, { required?: boolean; schema?: { type?: string; minimum?: number } }>;
  content?: Record<string, { schema: Json }>;
}
/** What answers a request: its label for messages and the responses documented for it, by status. */
interface Expected {
  label: string;
  responses: Record<string, ResponseSpec | { $ref: string }>;
}
interface Route {
  template: string;
  pattern: RegExp;
  templated: number;
  operations: Record<string, { operationId: string; responses: Expected['responses'] }>;
}

const COMPONENTS_ID = 'https://taskmaster.local/openapi.json/components';

class ApiDescription {
  private readonly ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly routes: Route[];

  constructor(private readonly document: Json) {
    addFormats.default(this.ajv);
    const components = document.components as { schemas: Json };
    this.ajv.addSchema({ $id: COMPONENTS_ID, $defs: this.local(components.schemas) });
    const paths = document.paths as Record<string, Route['operations']>;
    this.routes = Object.entries(paths)
      .map(([template, operations]) => ({
        template,
        // As @koa/router matches: case-insensitive, an optional trailing slash, a parameter is one segment.
        pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}/?$`, 'i'),
        templated: (template.match(/\{/g) ?? []).length,
        operations,
      }))
      // A concrete path wins over a templated one (/v1/sessions/current before /v1/sessions/{id}).
      .sort((a, b) => a.templated - b.templated);
  }

  /** What the document says answers `method path`: an operation, or one of `x-other-requests`. */
  expected(method: string, path: string): Expected {
    const other = this.document['x-other-requests'] as Record<'unknownPath' | 'otherMethod' | 'options', Expected['responses']>;
    const route = this.routes.find((candidate) => candidate.pattern.test(path));
    if (!route) return { label: `an unknown path (${method} ${path})`, responses: other.unknownPath };
    // Every GET also answers HEAD, as the document's description says.
    const operation = route.operations[method.toLowerCase()] ?? (method === 'HEAD' ? route.operations.get : undefined);
    if (!operation && method === 'OPTIONS') return { label: `OPTIONS ${route.template}`, responses: other.options };
    if (!operation) return { label: `a method ${route.template} does not take (${method})`, responses: other.otherMethod };
    return { label: `${operation.operationId} (${method} ${route.template})`, responses: operation.responses };
  }

  check(method: string, path: string, reply: { status: number; headers: Reply['headers']; text: string; json: unknown }): void {
    const { label, responses } = this.expected(method, path);
    const contentType = String(reply.headers['content-type'] ?? '');
    const fail = (problem: string) => {
      throw new Error(`The answer is not in the OpenAPI document (server/openapi.json; npm run openapi rebuilds it): ${label} answered ${reply.status} ${contentType || '(no content type)'}: ${problem}\nbody: ${reply.text.slice(0, 600)}`);
    };
    const status = String(reply.status);
    const documented = responses[status] ?? responses[`${status[0]}XX`] ?? responses.default;
    if (!documented) return fail(`status ${status} is not documented (documented: ${Object.keys(responses).join(', ')})`);
    const response = this.resolve(documented);

    for (const [name, header] of Object.entries(response.headers ?? {})) {
      const value = reply.headers[name.toLowerCase()];
      if (value === undefined) {
        if (header.required) fail(`the required header ${name} is missing`);
        continue;
      }
      if (header.schema?.type === 'integer' && !(/^\d+$/.test(String(value)) && Number(value) >= (header.schema.minimum ?? 0))) {
        fail(`the header ${name} is ${String(value)}, not an integer of at least ${header.schema.minimum ?? 0}`);
      }
    }

    if (!response.content) {
      if (reply.text !== '') fail('this response has no body in the document');
      return;
    }
    const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
    const content = response.content[mediaType];
    if (!content) return fail(`content type ${mediaType || '(none)'} is not documented (documented: ${Object.keys(response.content).join(', ')})`);
    if (method === 'HEAD') return; // the headers of the GET, no body
    const isJson = mediaType === 'application/json' || mediaType.endsWith('+json');
    if (isJson && reply.json === undefined) return fail('the body is not JSON');
    const validate = this.validator(`${label} ${status} ${mediaType}`, content.schema);
    if (!validate(isJson ? reply.json : reply.text)) fail(`the body does not match its schema:\n${formatErrors(validate.errors)}`);
  }

  private resolve(response: ResponseSpec | { $ref: string }): ResponseSpec {
    if (!('$ref' in response)) return response;
    const name = /^#\/components\/responses\/(.+)$/.exec(response.$ref)?.[1];
    const resolved = name ? (this.document.components as { responses?: Record<string, ResponseSpec> }).responses?.[name] : undefined;
    if (!resolved) throw new Error(`server/openapi.json: unresolved reference ${response.$ref}`);
    return resolved;
  }

  private validator(key: string, schema: Json): ValidateFunction {
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(this.local(schema));
      this.validators.set(key, validate);
    }
    return validate;
  }

  /** `#/components/schemas/X` as ajv finds it: `$defs/X` of the components schema added above. */
  private local<T>(schema: T): T {
    return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', `"${COMPONENTS_ID}#/$defs/`)) as T;
  }
}

function formatErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map((error) => {
      const { pattern: _inTheMessage, ...params } = error.params as Record<string, unknown>;
      return `  ${error.instancePath || '(body)'} ${error.message ?? ''}${Object.keys(params).length > 0 ? ` ${JSON.stringify(params)}` : ''}`;
    })
    .join('\n');
}

let description: ApiDescription | undefined;
/** Throws unless server/openapi.json documents this answer to `method path` (the path without its query). */
export function checkAgainstDocument(method: string, path: string, reply: Parameters<ApiDescription['check']>[2]): void {
  description ??= new ApiDescription(JSON.parse(readFileSync(new URL('../../server/reference/openapi.json', import.meta.url), 'utf8')) as Json);
  description.check(method.toUpperCase(), path, reply);
}
