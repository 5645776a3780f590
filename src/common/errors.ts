/** Errors that carry what was being done, so a log line or CLI message says it in one line. */
export class KosmosError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KosmosError';
  }
}

/** A user-facing error: its message is printed as is, without a stack. */
export class UserError extends KosmosError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UserError';
  }
}

export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}
