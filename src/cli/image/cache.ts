/**
 * Where built images live: the per-user Kosmos cache the control-plane build uses
 * (KOSMOS_CACHE_DIR, else $XDG_CACHE_HOME/kosmos, else ~/.cache/kosmos), under images/.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export function kosmosCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['KOSMOS_CACHE_DIR']) return env['KOSMOS_CACHE_DIR'];
  return join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'kosmos');
}

/** The image cache's layout. */
export interface ImageCache {
  root: string;
  /** Content-addressed blobs (gzip layers), shared by every image: blobs/sha256/<hex>. */
  blob(digest: string): string;
  /** What a layer of a given input key became (its digest, diff id, size). */
  layer(key: string): string;
  /** One build of an image: its archive and what it was built from. */
  archive(name: string, tag: string, key: string): string;
  build(name: string, key: string): string;
  /** The newest build of an image, for `image list`. */
  latest(name: string): string;
  /** Scratch space for one build, removed after it. */
  scratch(): string;
}

export function imageCache(root = join(kosmosCacheDir(), 'images')): ImageCache {
  return {
    root,
    blob: (digest) => join(root, 'blobs', 'sha256', digest.replace(/^sha256:/, '')),
    layer: (key) => join(root, 'layers', `${key}.json`),
    archive: (name, tag, key) => join(root, `${name}-${tag}-${key.slice(0, 12)}.oci.tar`),
    build: (name, key) => join(root, 'builds', `${name}-${key}.json`),
    latest: (name) => join(root, `${name}.json`),
    scratch: () => join(root, 'tmp', `${process.pid}-${randomBytes(4).toString('hex')}`),
  };
}

export const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** A stable key of plain data (objects hashed with sorted keys). */
export function keyOf(value: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.keys(v as Record<string, unknown>)
          .sort()
          .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
      );
    return v;
  };
  return sha256(JSON.stringify(canonical(value)));
}

/** Writes a file so that readers see the old content or the new, never half of it. */
export function writeFileAtomic(path: string, data: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
