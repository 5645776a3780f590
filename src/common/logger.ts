/** Structured JSON logs, one object per line, with a level; to stderr so stdout stays for command output. */

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

function envLevel(): Level {
  const l = process.env['KOSMOS_LOG_LEVEL'];
  return l === 'debug' || l === 'info' || l === 'warn' || l === 'error' ? l : 'info';
}

export function errorFields(err: unknown): Record<string, unknown> {
  if (err instanceof Error) return { error: err.message, ...(err.cause ? { cause: String(err.cause) } : {}) };
  return { error: String(err) };
}

/**
 * Starts work nobody awaits (a timer's tick, an event's reaction) with its failure logged:
 * a rejection nobody handles would otherwise end the process, or vanish behind `void`.
 */
export function logFailure(work: Promise<unknown>, log: Logger, msg: string): void {
  work.catch((err: unknown) => log.error(msg, errorFields(err)));
}

export function createLogger(
  component: string,
  base: Record<string, unknown> = {},
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const min = ORDER[envLevel()];
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    write(
      `${JSON.stringify({ time: new Date().toISOString(), level, component, msg, ...base, ...fields })}\n`,
    );
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(component, { ...base, ...fields }, write),
  };
}
