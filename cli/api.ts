// The HTTP client: one typed function per endpoint, over undici.
//
// Start-up matters here (CI scripts call the CLI in loops), and two things in undici cost more
// than the rest of a command together, so:
// - only undici's Client and its request API are loaded (by path), not its index, which pulls in
//   fetch, WebSocket, caches and mocks: about 40 ms saved; the lockfile pins the exact version;
// - undici parses HTTP with a WebAssembly module, and V8's optimising tier for it is pure start-up
//   cost in a process that makes one or two requests: Liftoff, V8's baseline compiler, does it.
import v8 from 'node:v8';
import type { Problem, SessionResponse, User, UserResponse } from '../server/shared/api.js';
import { ApiError, UnreachableError } from './errors.js';

v8.setFlagsFromString('--liftoff-only');
const [{ default: Client }, { default: undiciRequest }] = await Promise.all([
  import('undici/lib/dispatcher/client.js'),
  import('undici/lib/api/api-request.js'),
]);

export class Api {
  constructor(
    readonly server: string,
    private readonly token: string | undefined,
  ) {}

  register(body: { email: string; username: string; password: string }): Promise<UserResponse> {
    return this.call('POST', '/v1/users', body);
  }

  verify(token: string): Promise<UserResponse> {
    return this.call('POST', '/v1/verify', { token });
  }

  resendVerification(email: string): Promise<unknown> {
    return this.call('POST', '/v1/verify/resend', { email });
  }

  login(body: { email: string; password: string }): Promise<SessionResponse> {
    return this.call('POST', '/v1/sessions', body);
  }

  me(): Promise<UserResponse> {
    return this.call('GET', '/v1/me');
  }

  updateMe(body: { username?: string; email?: string; currentPassword?: string }): Promise<UserResponse> {
    return this.call('PATCH', '/v1/me', body);
  }

  logout(): Promise<void> {
    return this.call('DELETE', '/v1/sessions/current');
  }

  private async call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'taskmaster-cli' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response;
    let text: string;
    const url = new URL(path, `${this.server}/`);
    const client = new Client(url.origin, { connectTimeout: 10_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
    try {
      response = await undiciRequest.call(client, {
        path: url.pathname + url.search,
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        // A CLI makes a call or two: close the socket so nothing keeps the process alive.
        reset: true,
      });
      text = await response.body.text();
    } catch (error) {
      const { code, message } = error as { code?: string; message?: string };
      throw new UnreachableError(this.server, code ?? message ?? 'network error');
    } finally {
      void client.close().catch(() => undefined);
    }
    if (response.statusCode >= 200 && response.statusCode < 300) {
      return (text ? JSON.parse(text) : undefined) as T;
    }
    let problem: Partial<Problem> = {};
    try {
      problem = JSON.parse(text) as Partial<Problem>;
    } catch {
      // not ours: a proxy or another server
    }
    const retryAfter = Number(response.headers['retry-after']);
    throw new ApiError(
      response.statusCode,
      problem.code ?? `http_${response.statusCode}`,
      problem.detail ?? `The server answered ${response.statusCode}.`,
      problem.errors,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    );
  }
}

export type { User };
