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

/** A non-2xx answer of a Kubernetes apiserver: its HTTP status, Status reason and details. */
export class KubeApiError extends KosmosError {
  // Plain fields, not parameter properties: the agent-pod test runs src/ with Node's type
  // stripping, which refuses them.
  readonly status: number;
  readonly reason: string;
  readonly details?: unknown;
  constructor(status: number, reason: string, message: string, details?: unknown) {
    super(message);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
    this.details = details;
  }
}

/** A resource quantity that does not parse, in the apiserver's words. */
export class QuantityError extends KosmosError {
  constructor(input: string) {
    super(
      `quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': "${input}"`,
    );
    this.name = 'QuantityError';
  }
}

/** A request body the scheduler extender protocol cannot read: answered with the message, not a 500. */
export class BadRequest extends KosmosError {
  constructor(message: string) {
    super(message);
    this.name = 'BadRequest';
  }
}

export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}
