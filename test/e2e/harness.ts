/**
 * e2e helpers: run kosmosctl and kubectl as a user would, against a sandbox in a folder of
 * its own (KOSMOS_SANDBOX_DIR), so tests never touch the developer's own sandbox.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CLI = join(process.cwd(), 'dist', 'cli', 'main.js');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function newSandboxDir(prefix = 'kosmos-e2e-'): string {
  return join(mkdtempSync(join(tmpdir(), prefix)), 'sandbox');
}

/**
 * Runs kosmosctl asynchronously (long commands must not block vitest's timers); `env` adds to
 * the environment (KUBECONFIG naming the host, as the quick start runs it).
 */
export async function kosmosctl(
  dir: string,
  args: string[],
  input?: string,
  env: Record<string, string> = {},
): Promise<RunResult> {
  return await new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env, KOSMOS_SANDBOX_DIR: dir },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** Throws with the command's output unless it exited 0. */
export function expectOk(r: RunResult, what = 'kosmosctl'): void {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

let kubectlBin: string | undefined;
/** The kubectl built with the control plane (same version as the servers), else the one on PATH. */
export function kubectlPath(): string {
  if (!kubectlBin) {
    const r = spawnSync('bash', [join(process.cwd(), 'scripts', 'build-control-plane.sh')], {
      encoding: 'utf8',
    });
    const dir = r.stdout.trim().split('\n').pop() ?? '';
    kubectlBin = r.status === 0 && dir && existsSync(join(dir, 'kubectl')) ? join(dir, 'kubectl') : 'kubectl';
  }
  return kubectlBin;
}

export function kubectl(kubeconfig: string, args: string[], input?: string): RunResult {
  const r = spawnSync(kubectlPath(), ['--kubeconfig', kubeconfig, ...args], {
    encoding: 'utf8',
    input,
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function eventually<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 60_000,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw last;
    await sleep(intervalMs);
  }
}
