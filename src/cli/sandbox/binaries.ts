/**
 * Finds the control-plane binaries (kube-apiserver, kube-controller-manager,
 * kube-scheduler, etcd, kwok, and the real nodes' kubelet, kube-proxy and containerd):
 * KOSMOS_K8S_BIN or KUBEBUILDER_ASSETS when they hold all of
 * them, else the per-user cache that scripts/build-control-plane.sh fills (building once,
 * with progress on stderr).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../common/errors.js';
import { projectRoot } from '../paths.js';

export const CONTROL_PLANE_BINARIES = [
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'etcd',
  'kwok',
  // The real nodes.
  'kubelet',
  'kube-proxy',
  'containerd',
  'containerd-shim-runc-v2',
  'ctr',
] as const;
export type BinaryName = (typeof CONTROL_PLANE_BINARIES)[number];
export type Binaries = Record<BinaryName, string>;

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function binariesIn(dir: string): Binaries | undefined {
  const out: Partial<Binaries> = {};
  for (const b of CONTROL_PLANE_BINARIES) {
    const p = join(dir, b);
    if (!executable(p)) return undefined;
    out[b] = p;
  }
  return out as Binaries;
}

/** `quiet`: say nothing unless a build fails (for commands whose stderr is one line of result). */
export async function ensureBinaries(opts: { quiet?: boolean } = {}): Promise<Binaries> {
  for (const v of ['KOSMOS_K8S_BIN', 'KUBEBUILDER_ASSETS']) {
    const dir = process.env[v];
    if (dir) {
      const found = binariesIn(dir);
      if (found) return found;
    }
  }
  const script = join(projectRoot(), 'scripts', 'build-control-plane.sh');
  const dir = await new Promise<string>((resolve, reject) => {
    const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', opts.quiet ? 'pipe' : 'inherit'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', (e) => reject(new UserError(`could not run ${script}: ${e.message}`)));
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last) resolve(last);
      else
        reject(
          new UserError(
            `building the control plane failed (exit ${code}); ${opts.quiet ? err.trim().split('\n').slice(-3).join(' / ') : 'see the messages above'}`,
          ),
        );
    });
  });
  const found = binariesIn(dir);
  if (!found) throw new UserError(`control-plane build reported ${dir} but it lacks some binaries`);
  return found;
}
