// The HTTP client: one typed function per endpoint, over undici.
import { Agent, request } from 'undici';
import type { Problem, SessionResponse, User, UserResponse } from '../server/shared/api.js';
import { ApiError, UnreachableError } from './errors.js';

const dispatcher = new Agent({ connectTimeout: 10_000, headersTimeout: 30_000, bodyTimeout: 30_000 });

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
    try {
      response = await request(new URL(path, `${this.server}/`), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        dispatcher,
        // A CLI makes a call or two: close the socket so nothing keeps the process alive.
        reset: true,
      });
    } catch (error) {
      const { code, message } = error as { code?: string; message?: string };
      throw new UnreachableError(this.server, code ?? message ?? 'network error');
    }
    const text = await response.body.text();
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
