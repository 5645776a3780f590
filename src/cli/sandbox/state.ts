/** What `sandbox up` started, on disk, so `status` and `down` work from any later process. */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Topology } from './topology.js';
import type { HealthProbe } from './processes.js';

export interface ComponentState {
  name: string;
  cluster?: string;
  node?: string;
  /** How often the supervisor started it again after it exited. */
  restarts?: number;
  pid: number;
  port: number;
  command: string;
  /** A string of the running program's command line that tells it is ours (pid reuse). */
  hint?: string;
  args: string[];
  env?: Record<string, string>;
  logFile: string;
  health: HealthProbe;
}

export interface SandboxState {
  version: 1;
  topology: Topology;
  bare: boolean;
  redisUrl: string;
  ports: Record<string, number>;
  components: ComponentState[];
  /** The machine's global sysctls before the first kubelet started, put back by `down`. */
  sysctls?: Record<string, string>;
  /** Shared paths real nodes create (device-plugin socket folder, libcni cache) that did not exist before. */
  createdPaths?: string[];
}

export function sandboxDir(): string {
  return resolve(process.env['KOSMOS_SANDBOX_DIR'] ?? join(process.cwd(), '.kosmos', 'sandbox'));
}

export function stateFile(dir = sandboxDir()): string {
  return join(dir, 'state.json');
}

export function readState(dir = sandboxDir()): SandboxState | undefined {
  const f = stateFile(dir);
  if (!existsSync(f)) return undefined;
  return JSON.parse(readFileSync(f, 'utf8')) as SandboxState;
}

export function writeState(state: SandboxState, dir = sandboxDir()): void {
  mkdirSync(dir, { recursive: true });
  const tmp = `${stateFile(dir)}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2));
  renameSync(tmp, stateFile(dir)); // atomic: a crash never leaves a half-written state
}

export function kubeconfigPath(cluster: string, dir = sandboxDir()): string {
  return join(dir, cluster, 'kubeconfig');
}
