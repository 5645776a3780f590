/** What every long-running command does around its process. */
import { describeError } from './errors.js';

/**
 * Stops a component, then calls `done`. A stop that fails is reported on stderr and makes
 * the exit code 1, rather than becoming an unhandled rejection.
 */
export function stopAndReport(what: string, stop: () => Promise<void>, done: () => void): void {
  stop()
    .catch((err: unknown) => {
      process.exitCode = 1;
      process.stderr.write(`${what}: stopping: ${describeError(err)}\n`);
    })
    .finally(done);
}
