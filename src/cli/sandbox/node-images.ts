/** Images in a real node's containerd (namespace k8s.io, the one the CRI uses). */
import { execFile } from 'node:child_process';
import { KosmosError } from '../../common/errors.js';
import { CRI_NAMESPACE } from '../image/containerd.js';

export { importImageArchive } from '../image/containerd.js';
export { inspectImageArchive } from '../image/archive.js';

/** The names a node's containerd holds. */
export async function listImages(ctr: string, socket: string): Promise<string[]> {
  return await new Promise((resolve, reject) => {
    execFile(
      ctr,
      ['-a', socket, '-n', CRI_NAMESPACE, 'images', 'ls', '-q'],
      { timeout: 60_000 },
      (err, out, stderr) => {
        if (err) reject(new KosmosError(`ctr images ls on ${socket}: ${`${stderr}`.trim() || err.message}`));
        else resolve(out.split('\n').filter(Boolean));
      },
    );
  });
}
