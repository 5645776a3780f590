/**
 * The images every real node of the sandbox has: all that `kosmosctl image build` makes (the
 * pod sandbox image, the Kosmos image, Redis, kube-scheduler, CoreDNS, nginx, the toolbox),
 * built once per content hash into the cache and imported into each node's containerd.
 */
import { buildImages } from '../image/build.js';
import { IMAGE_NAMES, PAUSE_IMAGE } from '../image/images.js';

export { COREDNS_IMAGE, NGINX_IMAGE, PAUSE_IMAGE, TOOLBOX_IMAGE } from '../image/images.js';

export interface NodeImage {
  ref: string;
  file: string;
  /** The image id (config digest) a pod from this image reports. */
  id: string;
  /** The digest of its manifest, which containerd lists it by. */
  manifestDigest: string;
}

export async function sandboxImages(progress: (m: string) => void): Promise<NodeImage[]> {
  const built = await buildImages(IMAGE_NAMES, { progress: (line) => progress(`image: ${line}`) });
  // The pause image first: no pod starts without it.
  return built
    .map((b) => ({ ref: b.ref, file: b.archive, id: b.id, manifestDigest: b.manifestDigest }))
    .sort((a, b) => Number(b.ref === PAUSE_IMAGE) - Number(a.ref === PAUSE_IMAGE));
}
