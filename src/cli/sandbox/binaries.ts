/**
 * Finds the control-plane binaries (kube-apiserver, kube-controller-manager,
 * kube-scheduler, etcd, kwok): KOSMOS_K8S_BIN or KUBEBUILDER_ASSETS when they hold all of
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

export async function ensureBinaries(): Promise<Binaries> {
  for (const v of ['KOSMOS_K8S_BIN', 'KUBEBUILDER_ASSETS']) {
    const dir = process.env[v];
    if (dir) {
      const found = binariesIn(dir);
      if (found) return found;
    }
  }
  const script = join(projectRoot(), 'scripts', 'build-control-plane.sh');
  const dir = await new Promise<string>((resolve, reject) => {
    const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', (e) => reject(new UserError(`could not run ${script}: ${e.message}`)));
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last) resolve(last);
      else reject(new UserError(`building the control plane failed (exit ${code}); see the messages above`));
    });
  });
  const found = binariesIn(dir);
  if (!found) throw new UserError(`control-plane build reported ${dir} but it lacks some binaries`);
  return found;
}
