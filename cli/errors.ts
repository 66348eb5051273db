// The CLI's few error kinds, each with its exit code. main() is the only place that exits.

export const EXIT = { ok: 0, refused: 1, usage: 2, unreachable: 3, notLoggedIn: 4 } as const;

export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Wrong or missing arguments: exit 2. The message names the flag to pass. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(EXIT.usage, 'usage', message);
  }
}

/** No session, or the server no longer accepts it: exit 4. */
export class NotLoggedInError extends CliError {
  constructor(message = 'You are not logged in. Run `taskmaster login`.') {
    super(EXIT.notLoggedIn, 'not_logged_in', message);
  }
}

/** The server could not be reached: exit 3. */
export class UnreachableError extends CliError {
  constructor(
    server: string,
    readonly why: string,
  ) {
    super(EXIT.unreachable, 'server_unreachable', `Cannot reach the TaskMaster server at ${server} (${why}). Is taskmasterd running? Pass --server or set TASKMASTER_SERVER.`);
  }
}

/** The server answered with a refusal: exit 1, unless it was about the session (exit 4). */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly fieldErrors: Record<string, string> | undefined,
    readonly retryAfterSeconds: number | undefined,
    /** With otp_required at login: the challenge to finish with (`POST /v1/sessions/otp`). */
    readonly challenge?: string,
  ) {
    super(status === 401 && code === 'unauthenticated' ? EXIT.notLoggedIn : EXIT.refused, code, message);
    this.name = 'ApiError';
  }
}
