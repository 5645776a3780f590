/** Images in a real node's containerd (namespace k8s.io, the one the CRI uses). */
import { execFile } from 'node:child_process';
import { KosmosError } from '../../common/errors.js';
import { CRI_NAMESPACE } from '../image/containerd.js';

export { importImageArchive } from '../image/containerd.js';
export { inspectImageArchive } from '../image/archive.js';

/** The names a node's containerd holds. */
/** The images a node's containerd holds: each reference with the digest of its manifest. */
export async function listImages(ctr: string, socket: string): Promise<Map<string, string>> {
  return await new Promise((resolve, reject) => {
    execFile(
      ctr,
      ['-a', socket, '-n', CRI_NAMESPACE, 'images', 'ls'],
      { timeout: 60_000 },
      (err, out, stderr) => {
        if (err) reject(new KosmosError(`ctr images ls on ${socket}: ${`${stderr}`.trim() || err.message}`));
        else resolve(parseImageList(out));
      },
    );
  });
}

/** `ctr images ls` output (REF TYPE DIGEST SIZE PLATFORMS LABELS) as reference → digest. */
export function parseImageList(out: string): Map<string, string> {
  const images = new Map<string, string>();
  for (const line of out.split('\n').slice(1)) {
    const [ref, , digest] = line.trim().split(/\s+/);
    if (ref && digest?.startsWith('sha256:')) images.set(ref, digest);
  }
  return images;
}
