/**
 * Layers: tar streams gzipped into the cache's content-addressed blobs, each remembered by the
 * key of its inputs so an unchanged layer is never made twice; and tar entries made from the
 * files of this machine (owned by 0:0, mtime 0, modes 0755/0644, names sorted).
 */
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { KosmosError } from '../../common/errors.js';
import { writeFileAtomic, type ImageCache } from './cache.js';
import type { Layer } from './oci.js';
import type { TarEntry } from './tar.js';

/** A layer's cache record: the layer and, for Debian layers, the package versions in it. */
export interface LayerRecord extends Layer {
  key: string;
  packages?: Record<string, string>;
}

export function cachedLayer(cache: ImageCache, key: string): LayerRecord | undefined {
  const file = cache.layer(key);
  if (!existsSync(file)) return undefined;
  try {
    const rec = JSON.parse(readFileSync(file, 'utf8')) as LayerRecord;
    const blob = cache.blob(rec.digest);
    if (existsSync(blob) && lstatSync(blob).size === rec.size) return rec;
  } catch {
    // A record that cannot be read is rebuilt.
  }
  return undefined;
}

/** Gzips a layer's tar into the blob store and records it under `key`. */
export async function writeLayer(
  cache: ImageCache,
  key: string,
  comment: string,
  tar: AsyncIterable<Buffer>,
  /** Further facts of the layer, known once its tar has been read (Debian package versions). */
  extra: () => Pick<LayerRecord, 'packages'> = () => ({}),
): Promise<LayerRecord> {
  const diff = createHash('sha256');
  const gz = createHash('sha256');
  let size = 0;
  // Written aside and renamed, so blobs/ only ever holds complete blobs named by their digest.
  const tmp = join(cache.root, 'tmp', `layer-${process.pid}-${key.slice(0, 16)}.gz`);
  mkdirSync(dirname(tmp), { recursive: true });
  try {
    await pipeline(
      Readable.from(tar),
      async function* (src: AsyncIterable<Buffer>) {
        for await (const c of src) {
          diff.update(c);
          yield c;
        }
      },
      createGzip({ level: 6 }),
      async function* (src: AsyncIterable<Buffer>) {
        for await (const c of src) {
          gz.update(c);
          size += c.length;
          yield c;
        }
      },
      createWriteStream(tmp),
    );
    const digest = `sha256:${gz.digest('hex')}`;
    mkdirSync(dirname(cache.blob(digest)), { recursive: true });
    renameSync(tmp, cache.blob(digest));
    const rec: LayerRecord = {
      key,
      digest,
      diffId: `sha256:${diff.digest('hex')}`,
      size,
      comment,
      ...extra(),
    };
    writeFileAtomic(cache.layer(key), JSON.stringify(rec, null, 2));
    return rec;
  } finally {
    rmSync(tmp, { force: true });
  }
}

const byPath = (a: TarEntry, b: TarEntry) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** A file of this machine at `imagePath` (no leading slash) in the layer. */
export function fileEntry(hostPath: string, imagePath: string, mode?: number): TarEntry {
  const st = lstatSync(hostPath);
  if (!st.isFile()) throw new KosmosError(`${hostPath}: not a regular file`);
  return {
    path: imagePath.replace(/^\//, ''),
    type: 'file',
    mode: mode ?? (st.mode & 0o111 ? 0o755 : 0o644),
    size: st.size,
    data: () => createReadStream(hostPath),
  };
}

export const dirEntry = (imagePath: string, mode = 0o755, owner = 0): TarEntry => ({
  path: `${imagePath.replace(/^\//, '').replace(/\/$/, '')}/`,
  type: 'dir',
  mode,
  uid: owner,
  gid: owner,
});

export const textEntry = (imagePath: string, text: string, mode = 0o644): TarEntry => ({
  path: imagePath.replace(/^\//, ''),
  type: 'file',
  mode,
  data: Buffer.from(text),
});

export const symlinkEntry = (imagePath: string, target: string): TarEntry => ({
  path: imagePath.replace(/^\//, ''),
  type: 'symlink',
  mode: 0o777,
  linkname: target,
});

/**
 * The entries of a folder of this machine copied to `imageDir` (as Docker's COPY does: the
 * folder's contents, not the folder), sorted; `skip(relative)` leaves paths out.
 */
export function treeEntries(
  hostDir: string,
  imageDir: string,
  skip: (rel: string) => boolean = () => false,
): TarEntry[] {
  const out: TarEntry[] = [dirEntry(imageDir)];
  const base = imageDir.replace(/^\//, '').replace(/\/$/, '');
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (skip(r)) continue;
      const host = join(dir, name);
      const path = posix.join(base, r);
      const st = lstatSync(host);
      if (st.isDirectory()) {
        out.push(dirEntry(path));
        walk(host, r);
      } else if (st.isSymbolicLink()) out.push(symlinkEntry(path, readlinkSync(host)));
      else if (st.isFile()) out.push(fileEntry(host, path));
      else throw new KosmosError(`${host}: neither file, folder nor symlink; cannot put it in an image`);
    }
  };
  walk(hostDir, '');
  return out.sort(byPath);
}

/** Directory entries for every parent of the given paths (0755, root), so a layer stands alone. */
export function parentDirs(paths: string[]): TarEntry[] {
  const dirs = new Set<string>();
  for (const p of paths) {
    const parts = p.replace(/^\//, '').replace(/\/$/, '').split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs].map((d) => dirEntry(d));
}

/** Entries merged (later ones win on equal paths) and sorted: one layer's content. */
export function layerEntries(...groups: TarEntry[][]): TarEntry[] {
  const byName = new Map<string, TarEntry>();
  for (const g of groups) for (const e of g) byName.set(e.path, e);
  return [...byName.values()].sort(byPath);
}

/**
 * A digest of what entries would put in a layer (names, types, modes, owners, contents);
 * the content of a path in `fingerprints` is stood in for by its fingerprint.
 */
export async function entriesDigest(
  entries: TarEntry[],
  fingerprints: Record<string, string> = {},
): Promise<string> {
  const h = createHash('sha256');
  for (const e of entries) {
    h.update(`${e.path}\0${e.type}\0${e.mode}\0${e.uid ?? 0}\0${e.gid ?? 0}\0${e.linkname ?? ''}\0`);
    if (e.type !== 'file' || e.data === undefined) continue;
    const fp = fingerprints[e.path];
    if (fp !== undefined) h.update(`fingerprint:${fp}`);
    else if (Buffer.isBuffer(e.data)) h.update(e.data);
    else for await (const c of e.data()) h.update(c);
    h.update('\0');
  }
  return h.digest('hex');
}
