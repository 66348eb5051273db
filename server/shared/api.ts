// The HTTP API's types, shared by the daemon and the CLI. Pure: no I/O, no server modules.

export interface User {
  id: string;
  username: string;
  email: string;
  emailVerified: boolean;
  pendingEmail: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface UserResponse {
  user: User;
}

export interface SessionResponse {
  token: string;
  expiresAt: string;
  user: User;
}

/** RFC 9457 problem details, with our stable `code`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  errors?: Record<string, string>;
}

export type ErrorCode =
  | 'invalid_input'
  | 'malformed_json'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'not_found'
  | 'method_not_allowed'
  | 'username_taken'
  | 'email_taken'
  | 'invalid_token'
  | 'expired_token'
  | 'invalid_credentials'
  | 'email_not_verified'
  | 'rate_limited'
  | 'unauthenticated'
  | 'wrong_password'
  | 'service_unavailable'
  | 'internal_error';

export const SESSION_TOKEN_PREFIX = 'tm_';
