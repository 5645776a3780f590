/**
 * What an image archive holds, read from the file alone: `docker save` archives
 * (manifest.json with RepoTags) and OCI archives (an image layout: index.json, blobs/sha256),
 * plain or gzipped. Anything else (unreadable, empty, not a tar, a tar of no image, a
 * truncated or corrupt archive) is refused with one line saying why, before any runtime sees it.
 */
import { createHash } from 'node:crypto';
import { createReadStream, openSync, readSync, closeSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { UserError } from '../../common/errors.js';
import { ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, MEDIA_TYPES } from './oci.js';
import { normalizeReference } from './reference.js';
import { TarError, tarEntries } from './tar.js';

export type ArchiveFormat = 'oci' | 'docker';

export interface ArchiveImage {
  /**
   * The names the archive gives the image: full references (docker archives' RepoTags
   * normalised as containerd does, OCI's io.containerd.image.name), or a bare tag (an OCI
   * org.opencontainers.image.ref.name without a full name, which ctr needs --base-name for).
   */
  refs: string[];
  /** The image id: the digest of its config. */
  id: string;
  /** The manifest's digest (OCI archives; containerd makes its own for docker archives). */
  manifestDigest?: string;
}

export interface ArchiveInfo {
  file: string;
  format: ArchiveFormat;
  images: ArchiveImage[];
}

/** One entry of an archive as inspection keeps it: JSON-sized entries with their bytes. */
export interface ArchiveFile {
  size: number;
  /** The sha256 of the content (hex). */
  sha256: string;
  data?: Buffer;
}

/** Entries up to this size are kept in memory (manifests, configs, index); layers are not. */
const KEEP_BYTES = 4 << 20;

const clean = (p: string) => p.replace(/^\.\//, '').replace(/^\/+/, '');

function magic(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(6);
    const n = readSync(fd, b, 0, 6, 0);
    return b.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** A compression other than gzip, by its magic bytes. */
function otherCompression(b: Buffer): string | undefined {
  if (b.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
  if (b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (b.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  return undefined;
}

/** Reads every entry of an archive; refuses what is no readable tar. */
export async function readArchiveFiles(file: string): Promise<Map<string, ArchiveFile>> {
  let size: number;
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new UserError(`${file}: is a folder, not an image archive`);
    size = st.size;
    closeSync(openSync(file, 'r'));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(
      `${file}: cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  if (size === 0) throw new UserError(`${file}: empty file, not an image archive`);
  const head = magic(file);
  const other = otherCompression(head);
  if (other)
    throw new UserError(
      `${file}: compressed with ${other}; decompress it first (gzip and plain tar are read)`,
    );
  const gzipped = head[0] === 0x1f && head[1] === 0x8b;
  const source: Readable = gzipped ? createReadStream(file).pipe(createGunzip()) : createReadStream(file);
  const files = new Map<string, ArchiveFile>();
  try {
    for await (const { header, body } of tarEntries(source)) {
      if (header.type !== 'file') continue;
      const h = createHash('sha256');
      const keep: Buffer[] | undefined = header.size <= KEEP_BYTES ? [] : undefined;
      for await (const chunk of body) {
        h.update(chunk);
        keep?.push(chunk);
      }
      const entry: ArchiveFile = { size: header.size, sha256: h.digest('hex') };
      if (keep) entry.data = Buffer.concat(keep);
      files.set(clean(header.path), entry);
    }
  } catch (e) {
    source.destroy();
    if (e instanceof TarError)
      throw new UserError(
        `${file}: ${e.message === 'not a tar archive' ? 'not a tar archive (nor a gzipped one)' : e.message}`,
      );
    const code = (e as NodeJS.ErrnoException).code;
    if (gzipped && code?.startsWith('Z_'))
      throw new UserError(`${file}: corrupt or truncated gzip: ${(e as Error).message}`);
    throw new UserError(`${file}: cannot read it: ${(e as Error).message}`);
  }
  if (files.size === 0 && !gzipped)
    throw new UserError(`${file}: a tar archive with no files, not an image archive`);
  return files;
}

class Refusal extends Error {}

function json<T>(files: Map<string, ArchiveFile>, path: string): T {
  const f = files.get(path);
  if (!f) throw new Refusal(`lacks ${path} (truncated or incomplete archive?)`);
  if (!f.data) throw new Refusal(`${path} is too large (${f.size} bytes) to be a JSON document`);
  try {
    return JSON.parse(f.data.toString('utf8')) as T;
  } catch {
    throw new Refusal(`${path} is not valid JSON`);
  }
}

interface Desc {
  mediaType?: string;
  digest?: string;
  size?: number;
  annotations?: Record<string, string>;
}

const blobPath = (digest: string) => {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw new Refusal(`descriptor digest "${digest}" is not sha256:<64 hex digits>`);
  return `blobs/sha256/${m[1]}`;
};

/** A blob the archive must hold, with the size and digest its descriptor says. */
function blob(files: Map<string, ArchiveFile>, d: Desc, what: string): ArchiveFile {
  const path = blobPath(d.digest ?? '');
  const f = files.get(path);
  if (!f) throw new Refusal(`lacks the ${what} ${path} (truncated or incomplete archive?)`);
  if (`sha256:${f.sha256}` !== d.digest)
    throw new Refusal(`${path} does not match its digest (corrupt archive)`);
  if (d.size !== undefined && f.size !== d.size)
    throw new Refusal(`${path} has ${f.size} bytes, its descriptor says ${d.size}`);
  return f;
}

function ociImages(files: Map<string, ArchiveFile>): ArchiveImage[] {
  const out: ArchiveImage[] = [];
  const visit = (index: { manifests?: Desc[] }, refs: string[]) => {
    if (!Array.isArray(index.manifests)) throw new Refusal('index.json has no manifests list');
    for (const d of index.manifests) {
      const a = d.annotations ?? {};
      const name = a[ANNOTATION_IMAGE_NAME] ?? a[ANNOTATION_REF_NAME];
      const names = name ? [name] : refs;
      const f = blob(files, d, 'manifest');
      const doc = json<{ mediaType?: string; manifests?: Desc[]; config?: Desc; layers?: Desc[] }>(
        files,
        blobPath(d.digest ?? ''),
      );
      const type = d.mediaType ?? doc.mediaType;
      if (type === MEDIA_TYPES.index || type === MEDIA_TYPES.dockerManifestList || doc.manifests) {
        visit(doc, names);
        continue;
      }
      if (!doc.config) throw new Refusal(`manifest ${d.digest} has no config`);
      blob(files, doc.config, 'config');
      for (const l of doc.layers ?? []) blob(files, l, 'layer');
      out.push({ refs: names, id: doc.config.digest ?? '', manifestDigest: `sha256:${f.sha256}` });
    }
  };
  visit(json(files, 'index.json'), []);
  return out;
}

function dockerImages(files: Map<string, ArchiveFile>): ArchiveImage[] {
  const manifest = json<unknown>(files, 'manifest.json');
  if (!Array.isArray(manifest)) throw new Refusal('manifest.json is not a list of images');
  return manifest.map((m: { Config?: string; RepoTags?: string[] | null; Layers?: string[] }, i) => {
    if (typeof m?.Config !== 'string') throw new Refusal(`manifest.json[${i}].Config: Required value`);
    const config = files.get(clean(m.Config));
    if (!config) throw new Refusal(`lacks ${m.Config}, the config of manifest.json[${i}] (truncated?)`);
    for (const l of m.Layers ?? [])
      if (!files.has(clean(l))) throw new Refusal(`lacks the layer ${l} of manifest.json[${i}] (truncated?)`);
    const refs = (m.RepoTags ?? []).map((t) => {
      try {
        return normalizeReference(t);
      } catch {
        throw new Refusal(`manifest.json[${i}].RepoTags: "${t}" is not an image reference`);
      }
    });
    return { refs, id: `sha256:${config.sha256}` };
  });
}

/** The images of an archive's entries (pure: what readArchiveFiles read). */
export function archiveImages(files: Map<string, ArchiveFile>): {
  format: ArchiveFormat;
  images: ArchiveImage[];
} {
  let format: ArchiveFormat;
  let images: ArchiveImage[];
  if (files.has('index.json')) {
    format = 'oci';
    images = ociImages(files);
  } else if (files.has('manifest.json')) {
    format = 'docker';
    images = dockerImages(files);
  } else
    throw new Refusal(
      'a tar archive but not an image: it has neither index.json (OCI) nor manifest.json (docker save)',
    );
  if (images.length === 0) throw new Refusal('holds no image');
  return { format, images };
}

/** The images an archive file holds: their names and ids. Throws a one-line UserError if none. */
export async function inspectImageArchive(file: string): Promise<ArchiveInfo> {
  const files = await readArchiveFiles(file);
  try {
    return { file, ...archiveImages(files) };
  } catch (e) {
    if (e instanceof Refusal) throw new UserError(`${file}: ${e.message}`);
    throw e;
  }
}
