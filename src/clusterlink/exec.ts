/** Run a program without a shell and return its stdout; the error says which command failed and its stderr. */
import { spawn } from 'node:child_process';
import { KosmosError } from '../common/errors.js';

export function run(cmd: string, args: readonly string[], stdin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', (e) => reject(new KosmosError(`${cmd} ${args.join(' ')}`, { cause: e })));
    p.on('close', (code) =>
      code === 0
        ? resolve(out)
        : reject(new KosmosError(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim()}`)),
    );
    if (stdin !== undefined && p.stdin) {
      // A command that exits early (bad input) closes its stdin; its exit code reports why, not EPIPE.
      p.stdin.on('error', () => undefined);
      p.stdin.end(stdin);
    }
  });
}
