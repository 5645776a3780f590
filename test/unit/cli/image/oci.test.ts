/**
 * The OCI archive writer: every digest it writes is the digest of what it wrote (re-read
 * from the archive and checked here), and the index names the image as ctr and skopeo expect.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { imageCache, type ImageCache } from '../../../../src/cli/image/cache.js';
import { writeLayer } from '../../../../src/cli/image/layers.js';
import { ociArchitecture, writeOciArchive, type ContainerConfig } from '../../../../src/cli/image/oci.js';
import { readAll, tarEntries, tarStream } from '../../../../src/cli/image/tar.js';

let dir: string;
let cache: ImageCache;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kosmos-oci-'));
  cache = imageCache(join(dir, 'images'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function archiveFiles(file: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for await (const { header, body } of tarEntries(createReadStream(file)))
    out.set(header.path, header.type === 'file' ? await readAll(body) : Buffer.alloc(0));
  return out;
}

const config: ContainerConfig = {
  User: '1000',
  Env: ['PATH=/usr/bin', 'NODE_ENV=production'],
  Entrypoint: ['node', '/app/dist/cli/main.js'],
  WorkingDir: '/app',
};

async function build(out: string) {
  const layers = [
    await writeLayer(
      cache,
      'k1',
      'first',
      tarStream([
        { path: 'app/', type: 'dir', mode: 0o755 },
        { path: 'app/a.txt', type: 'file', mode: 0o644, data: Buffer.from('a') },
      ]),
    ),
    await writeLayer(
      cache,
      'k2',
      'second',
      tarStream([{ path: 'b.txt', type: 'file', mode: 0o644, data: Buffer.from('b') }]),
    ),
  ];
  return {
    layers,
    written: await writeOciArchive(out, {
      ref: 'ghcr.io/kosmos-io/kosmos-ts:0.1.0',
      config,
      layers,
      blobFile: (d) => cache.blob(d),
    }),
  };
}

describe('OCI archive writer', () => {
  it('GIVEN two layers WHEN the archive is written THEN every blob is named by its own sha256 and every descriptor matches', async () => {
    const file = join(dir, 'img.oci.tar');
    const { layers, written } = await build(file);
    const files = await archiveFiles(file);
    expect([...files.keys()]).toEqual([...files.keys()].sort());
    expect(JSON.parse(files.get('oci-layout')!.toString())).toEqual({ imageLayoutVersion: '1.0.0' });
    for (const [path, data] of files)
      if (path.startsWith('blobs/sha256/') && !path.endsWith('/'))
        expect(sha(data)).toBe(`sha256:${path.slice(13)}`);

    const index = JSON.parse(files.get('index.json')!.toString());
    expect(index.manifests).toHaveLength(1);
    const m = index.manifests[0];
    expect(m.annotations).toEqual({
      'io.containerd.image.name': 'ghcr.io/kosmos-io/kosmos-ts:0.1.0',
      'org.opencontainers.image.ref.name': '0.1.0',
    });
    expect(m.platform).toEqual({ architecture: ociArchitecture(), os: 'linux' });
    const manifestBlob = files.get(`blobs/sha256/${m.digest.slice(7)}`)!;
    expect(manifestBlob.length).toBe(m.size);
    expect(m.digest).toBe(written.manifestDigest);

    const manifest = JSON.parse(manifestBlob.toString());
    const configBlob = files.get(`blobs/sha256/${manifest.config.digest.slice(7)}`)!;
    expect(configBlob.length).toBe(manifest.config.size);
    expect(manifest.config.digest).toBe(written.id);
    const cfg = JSON.parse(configBlob.toString());
    expect(cfg.config).toEqual(config);
    expect(cfg.history.map((h: { created_by: string }) => h.created_by)).toEqual(['first', 'second']);

    // Each layer: its blob's size and digest in the manifest, its uncompressed digest the diff id.
    expect(manifest.layers).toHaveLength(2);
    for (const [i, l] of manifest.layers.entries()) {
      const blob = files.get(`blobs/sha256/${l.digest.slice(7)}`)!;
      expect(blob.length).toBe(l.size);
      expect(l.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
      expect(sha(gunzipSync(blob))).toBe(cfg.rootfs.diff_ids[i]);
      expect(layers[i]!.diffId).toBe(cfg.rootfs.diff_ids[i]);
    }
  });

  it('GIVEN the same inputs twice THEN the archives are the same bytes (same image id)', async () => {
    const a = await build(join(dir, 'a.tar'));
    const b = await build(join(dir, 'b.tar'));
    expect(a.written.id).toBe(b.written.id);
    expect(readFileSync(join(dir, 'a.tar')).equals(readFileSync(join(dir, 'b.tar')))).toBe(true);
  });

  it('GIVEN a layer record whose blob has another size THEN the archive is not written', async () => {
    const layer = await writeLayer(
      cache,
      'k',
      'c',
      tarStream([{ path: 'x', type: 'file', mode: 0o644, data: Buffer.from('x') }]),
    );
    await expect(
      writeOciArchive(join(dir, 'bad.tar'), {
        ref: 'kosmos.local/x:1',
        config: { Env: [] },
        layers: [{ ...layer, size: layer.size + 1 }],
        blobFile: (d) => cache.blob(d),
      }),
    ).rejects.toThrow(/its layer record says/);
  });
});
