/**
 * OCI image documents (config, manifest, index) and the OCI archive: a tar of an OCI image
 * layout (oci-layout, index.json, blobs/sha256/...) as `ctr images import` and
 * `skopeo copy oci-archive:FILE:TAG` read it.
 */
import { createReadStream, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createWriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sha256 } from './cache.js';
import { parseReference } from './reference.js';
import { tarStream, type TarEntry } from './tar.js';

export const MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerTar: 'application/vnd.oci.image.layer.v1.tar',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** containerd names an imported image by this annotation of its index entry (a full reference). */
export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
/** OCI's name of an index entry: the tag, what `oci-archive:FILE:TAG` selects. */
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

/** The runtime part of an image config (OCI `config.config`), with the Docker field names. */
export interface ContainerConfig {
  User?: string;
  Env: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Volumes?: Record<string, Record<string, never>>;
  StopSignal?: string;
  Labels?: Record<string, string>;
}

/** A layer as built: its gzip blob's digest and size, and the digest of its tar (diff id). */
export interface Layer {
  digest: string;
  diffId: string;
  size: number;
  /** What made it, for the config's history. */
  comment: string;
}

/** Images built from fixed inputs are the same bytes every time: no build date in them. */
export const CREATED = '1970-01-01T00:00:00Z';

export function ociArchitecture(arch: string = process.arch): string {
  const map: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
  };
  return map[arch] ?? arch;
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const digestOf = (b: Buffer) => `sha256:${sha256(b)}`;

export function imageConfig(
  config: ContainerConfig,
  layers: Layer[],
  architecture = ociArchitecture(),
): Buffer {
  return json({
    created: CREATED,
    architecture,
    os: 'linux',
    config,
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created: CREATED, created_by: l.comment })),
  });
}

export function imageManifest(config: Buffer, layers: Layer[]): Buffer {
  return json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: MEDIA_TYPES.config, digest: digestOf(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: MEDIA_TYPES.layerGzip, digest: l.digest, size: l.size })),
  });
}

/** The index of an archive holding one image named `ref` (a full reference with a tag). */
export function imageIndex(manifest: Buffer, ref: string, architecture = ociArchitecture()): Buffer {
  const { tag } = parseReference(ref);
  return json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: [
      {
        mediaType: MEDIA_TYPES.manifest,
        digest: digestOf(manifest),
        size: manifest.length,
        annotations: { [ANNOTATION_IMAGE_NAME]: ref, [ANNOTATION_REF_NAME]: tag },
        platform: { architecture, os: 'linux' },
      },
    ],
  });
}

export interface BuiltArchive {
  /** The image id: the config's digest (what `crictl images` and a pod's imageID show). */
  id: string;
  manifestDigest: string;
  /** Bytes of the archive. */
  size: number;
}

/**
 * Writes the OCI archive of one image: its layers' blobs are files (`blobFile(digest)`);
 * config, manifest and index are made here. Entries are sorted by name, owned by 0:0, with
 * mtime 0, so equal inputs give an equal archive. Written to a temporary name and renamed.
 */
export async function writeOciArchive(
  out: string,
  o: { ref: string; config: ContainerConfig; layers: Layer[]; blobFile: (digest: string) => string },
): Promise<BuiltArchive> {
  const config = imageConfig(o.config, o.layers);
  const manifest = imageManifest(config, o.layers);
  const index = imageIndex(manifest, o.ref);
  const blob = (digest: string) => `blobs/sha256/${digest.replace(/^sha256:/, '')}`;
  const entries: TarEntry[] = [
    { path: 'oci-layout', type: 'file', mode: 0o644, data: json({ imageLayoutVersion: '1.0.0' }) },
    { path: 'index.json', type: 'file', mode: 0o644, data: index },
    { path: 'blobs/', type: 'dir', mode: 0o755 },
    { path: 'blobs/sha256/', type: 'dir', mode: 0o755 },
    { path: blob(digestOf(config)), type: 'file', mode: 0o644, data: config },
    { path: blob(digestOf(manifest)), type: 'file', mode: 0o644, data: manifest },
  ];
  const seen = new Set<string>();
  for (const l of o.layers) {
    if (seen.has(l.digest)) continue;
    seen.add(l.digest);
    const file = o.blobFile(l.digest);
    const size = statSync(file).size;
    if (size !== l.size) throw new Error(`blob ${file} has ${size} bytes, its layer record says ${l.size}`);
    entries.push({
      path: blob(l.digest),
      type: 'file',
      mode: 0o644,
      size,
      data: () => createReadStream(file),
    });
  }
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    await pipeline(Readable.from(tarStream(entries)), createWriteStream(tmp));
    renameSync(tmp, out);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return { id: digestOf(config), manifestDigest: digestOf(manifest), size: statSync(out).size };
}
