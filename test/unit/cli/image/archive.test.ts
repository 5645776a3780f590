/**
 * `sandbox image load FILE` reads an archive before any containerd does: both formats are
 * understood (names and ids), and what is no image is refused with one line saying why.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../../src/common/errors.js';
import { inspectImageArchive } from '../../../../src/cli/image/archive.js';
import { imageCache } from '../../../../src/cli/image/cache.js';
import { expectedNames } from '../../../../src/cli/image/containerd.js';
import { writeLayer } from '../../../../src/cli/image/layers.js';
import { writeOciArchive } from '../../../../src/cli/image/oci.js';
import { readAll, tarEntries, tarStream, type TarEntry } from '../../../../src/cli/image/tar.js';

let dir: string;
let oci: string;
let ociId: string;
let ociManifest: string;

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function tarFile(path: string, entries: TarEntry[]): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of tarStream(entries)) parts.push(c);
  writeFileSync(path, Buffer.concat(parts));
  return path;
}

/** The regular files of a tar, by name. */
async function filesOf(path: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for await (const { header, body } of tarEntries(createReadStream(path)))
    if (header.type === 'file') out.set(header.path, await readAll(body));
  return out;
}

const file = (path: string, data: Buffer | string): TarEntry => ({
  path,
  type: 'file',
  mode: 0o644,
  data: Buffer.isBuffer(data) ? data : Buffer.from(data),
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kosmos-archive-'));
  const cache = imageCache(join(dir, 'cache'));
  // 64 KiB that gzip cannot shrink: the layer is most of the archive, so a cut lands in it.
  const noise = Buffer.concat(
    Array.from({ length: 2048 }, (_, i) => createHash('sha256').update(String(i)).digest()),
  );
  const layer = await writeLayer(
    cache,
    'k',
    'c',
    tarStream([file('hello.txt', 'hello'), file('noise', noise)]),
  );
  oci = join(dir, 'image.oci.tar');
  const w = await writeOciArchive(oci, {
    ref: 'kosmos.local/toolbox:1.35',
    config: { Env: [], Cmd: ['sh'] },
    layers: [layer],
    blobFile: (d) => cache.blob(d),
  });
  ociId = w.id;
  ociManifest = w.manifestDigest;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A `docker save` archive, as docker 24 writes it. */
async function dockerArchive(path: string, repoTags: string[] | null): Promise<{ id: string }> {
  const layerTar: Buffer[] = [];
  for await (const c of tarStream([file('bin/hello', 'x')])) layerTar.push(c);
  const layer = Buffer.concat(layerTar);
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [`sha256:${sha(layer)}`] },
  });
  await tarFile(path, [
    file(`${sha(config)}.json`, config),
    { path: 'abc/', type: 'dir', mode: 0o755 },
    file('abc/layer.tar', layer),
    file(
      'manifest.json',
      JSON.stringify([{ Config: `${sha(config)}.json`, RepoTags: repoTags, Layers: ['abc/layer.tar'] }]),
    ),
  ]);
  return { id: `sha256:${sha(config)}` };
}

describe('image archive inspection', () => {
  it('GIVEN an OCI archive THEN its full name and image id (config digest) are read', async () => {
    expect(await inspectImageArchive(oci)).toEqual({
      file: oci,
      format: 'oci',
      images: [{ refs: ['kosmos.local/toolbox:1.35'], id: ociId, manifestDigest: ociManifest }],
    });
  });

  it('GIVEN a gzipped OCI archive THEN it is read the same', async () => {
    const gz = join(dir, 'image.oci.tar.gz');
    writeFileSync(gz, gzipSync(readFileSync(oci)));
    expect((await inspectImageArchive(gz)).images).toEqual((await inspectImageArchive(oci)).images);
  });

  it('GIVEN a docker save archive THEN its RepoTags are named as containerd names them and its id is the config digest', async () => {
    const path = join(dir, 'docker.tar');
    const { id } = await dockerArchive(path, ['nginx:1.22', 'example.com/team/app:2']);
    expect(await inspectImageArchive(path)).toEqual({
      file: path,
      format: 'docker',
      images: [{ refs: ['docker.io/library/nginx:1.22', 'example.com/team/app:2'], id }],
    });
  });

  it('GIVEN an OCI entry with only a tag THEN ctr names it under --base-name, or under its import- prefix without one', async () => {
    const info = {
      file: 'x',
      format: 'oci' as const,
      images: [
        { refs: ['0.1.0'], id: 'sha256:1' },
        { refs: ['ghcr.io/kosmos-io/kosmos-ts:0.1.0'], id: 'sha256:2' },
      ],
    };
    expect(expectedNames(info, 'ghcr.io/kosmos-io/kosmos-ts').names).toEqual([
      'ghcr.io/kosmos-io/kosmos-ts:0.1.0',
    ]);
    expect(expectedNames(info, 'example.com/other').names).toEqual(['example.com/other:0.1.0']);
    const bare = expectedNames(info);
    expect(bare.names).toEqual(['ghcr.io/kosmos-io/kosmos-ts:0.1.0']);
    expect(bare.patterns.map((p) => p.test('import-2026-01-31:0.1.0'))).toEqual([true]);
  });

  describe('refusals: one line saying why', () => {
    const cases: [string, () => Promise<string>, RegExp][] = [
      ['a missing file', async () => join(dir, 'nope.tar'), /nope\.tar: cannot read it: ENOENT$/],
      [
        'a folder',
        async () => {
          mkdirSync(join(dir, 'folder'), { recursive: true });
          return join(dir, 'folder');
        },
        /folder: is a folder, not an image archive$/,
      ],
      [
        'an empty file',
        async () => {
          writeFileSync(join(dir, 'empty.tar'), '');
          return join(dir, 'empty.tar');
        },
        /empty\.tar: empty file, not an image archive$/,
      ],
      [
        'random bytes',
        async () => {
          writeFileSync(
            join(dir, 'random.tar'),
            Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251)),
          );
          return join(dir, 'random.tar');
        },
        /random\.tar: not a tar archive \(nor a gzipped one\)$/,
      ],
      [
        'a short text file',
        async () => {
          writeFileSync(join(dir, 'hostname'), 'vm\n');
          return join(dir, 'hostname');
        },
        /hostname: not a tar archive \(nor a gzipped one\)$/,
      ],
      [
        'a zstd file',
        async () => {
          writeFileSync(join(dir, 'z.tar.zst'), Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]));
          return join(dir, 'z.tar.zst');
        },
        /z\.tar\.zst: compressed with zstd; decompress it first/,
      ],
      [
        'a tar with no manifest',
        () => tarFile(join(dir, 'plain.tar'), [file('README.md', '# not an image')]),
        /plain\.tar: a tar archive but not an image: it has neither index\.json \(OCI\) nor manifest\.json \(docker save\)$/,
      ],
      [
        'a truncated archive (cut inside a blob)',
        async () => {
          const whole = readFileSync(oci);
          writeFileSync(join(dir, 'cut.tar'), whole.subarray(0, Math.floor(whole.length * 0.6)));
          return join(dir, 'cut.tar');
        },
        /cut\.tar: truncated: ends inside blobs\/sha256\/[0-9a-f]{64} \(\d+ of \d+ bytes\)$/,
      ],
      [
        'a truncated gzipped archive',
        async () => {
          const gz = gzipSync(readFileSync(oci));
          writeFileSync(join(dir, 'cut.tar.gz'), gz.subarray(0, Math.floor(gz.length / 2)));
          return join(dir, 'cut.tar.gz');
        },
        /cut\.tar\.gz: (corrupt or truncated gzip: unexpected end of file|truncated: .*)$/,
      ],
      [
        'an OCI archive lacking its layer (cut at an entry boundary)',
        async () => {
          const files = await filesOf(oci);
          const index = JSON.parse(files.get('index.json')!.toString());
          const manifest = JSON.parse(
            files.get(`blobs/sha256/${index.manifests[0].digest.slice(7)}`)!.toString(),
          );
          const layer = `blobs/sha256/${manifest.layers[0].digest.slice(7)}`;
          return tarFile(
            join(dir, 'nolayer.tar'),
            [...files].filter(([p]) => p !== layer).map(([p, d]) => file(p, d)),
          );
        },
        /nolayer\.tar: lacks the layer blobs\/sha256\/[0-9a-f]{64} \(truncated or incomplete archive\?\)$/,
      ],
      [
        'an OCI archive whose blob does not match its digest',
        async () => {
          const whole = readFileSync(oci);
          const at = whole.indexOf(Buffer.from('"Cmd":["sh"]'));
          const bad = Buffer.from(whole);
          bad.write('"Cmd":["ls"]', at);
          writeFileSync(join(dir, 'corrupt.tar'), bad);
          return join(dir, 'corrupt.tar');
        },
        /corrupt\.tar: blobs\/sha256\/[0-9a-f]{64} does not match its digest \(corrupt archive\)$/,
      ],
      [
        'a docker archive lacking a layer',
        async () => {
          await dockerArchive(join(dir, 'd.tar'), ['x:1']);
          const files = await filesOf(join(dir, 'd.tar'));
          return tarFile(
            join(dir, 'dnolayer.tar'),
            [...files].filter(([p]) => p !== 'abc/layer.tar').map(([p, d]) => file(p, d)),
          );
        },
        /dnolayer\.tar: lacks the layer abc\/layer\.tar of manifest\.json\[0\] \(truncated\?\)$/,
      ],
    ];
    it.each(cases)('GIVEN %s THEN it is refused', async (_what, make, message) => {
      const path = await make();
      const err = await inspectImageArchive(path).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain('\n');
    });
  });
});
