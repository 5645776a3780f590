/**
 * The images as built, checked from their archives alone (root): each is unpacked into a
 * folder and run with chroot; then every archive is imported into a containerd of its own
 * (root, state and socket in a temporary folder), whose names and image ids must be the
 * archives'. Images come from the user's cache: the first run builds them (minutes), later
 * runs find them.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { UserError } from '../../../src/common/errors.js';
import { freePort } from '../../../src/common/ports.js';
import { buildImage, buildImages, type BuiltImage } from '../../../src/cli/image/build.js';
import { importImageArchive } from '../../../src/cli/image/containerd.js';
import { COREDNS_PLUGINS, type ImageName } from '../../../src/cli/image/images.js';
import type { ContainerConfig } from '../../../src/cli/image/oci.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const log = (l: string) => process.stderr.write(`[image test] ${l}\n`);
let work: string;

interface Unpacked {
  rootfs: string;
  config: ContainerConfig;
  manifestDigest: string;
  configDigest: string;
}

/** Unpacks an OCI archive with GNU tar (not the builder's own reader), layer by layer. */
function unpack(archive: string, name: string): Unpacked {
  const oci = join(work, `${name}-oci`);
  const rootfs = join(work, `${name}-rootfs`);
  mkdirSync(oci);
  mkdirSync(rootfs);
  execFileSync('tar', ['-xf', archive, '-C', oci]);
  const json = (p: string) => JSON.parse(readFileSync(join(oci, p), 'utf8'));
  const blob = (d: string) => `blobs/sha256/${d.replace('sha256:', '')}`;
  const index = json('index.json');
  const manifestDigest: string = index.manifests[0].digest;
  const manifest = json(blob(manifestDigest));
  for (const l of manifest.layers)
    execFileSync('tar', ['--numeric-owner', '-xzf', join(oci, blob(l.digest)), '-C', rootfs]);
  return {
    rootfs,
    config: json(blob(manifest.config.digest)).config,
    manifestDigest,
    configDigest: manifest.config.digest,
  };
}

/** Runs a command in an unpacked image with the image's environment, as uid:gid. */
function inImage(u: Unpacked, user: string, argv: string[], cwd = '/'): string {
  return execFileSync(
    'chroot',
    [
      `--userspec=${user}`,
      u.rootfs,
      '/usr/bin/env',
      '-i',
      ...u.config.Env,
      'sh',
      '-c',
      `cd ${cwd} && exec "$@"`,
      'sh',
      ...argv,
    ],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

/** The Dockerfile's final stage, read with regular expressions only. */
function finalStage(keyword: string): string[] {
  const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const last = text.slice(text.lastIndexOf('\nFROM '));
  return [...last.matchAll(new RegExp(`^${keyword} (.*)$`, 'gm'))].map((m) => (m[1] as string).trim());
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'kosmos-image-it-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the Kosmos image', () => {
  let built: BuiltImage;
  let img: Unpacked;
  beforeAll(async () => {
    built = await buildImage('kosmos', { progress: log });
    img = unpack(built.archive, 'kosmos');
  }, 900_000);

  it("GIVEN the archive THEN its config has the Dockerfile's ENTRYPOINT, USER, WORKDIR and ENV, and its id is the config digest", () => {
    expect(img.config.Entrypoint).toEqual(JSON.parse(finalStage('ENTRYPOINT').pop()!));
    expect(img.config.User).toBe(finalStage('USER').pop());
    expect(img.config.WorkingDir).toBe(finalStage('WORKDIR').pop());
    for (const env of finalStage('ENV')) expect(img.config.Env).toContain(env);
    expect(img.configDigest).toBe(built.id);
    expect(img.manifestDigest).toBe(built.manifestDigest);
  });

  it('GIVEN the rootfs THEN /app has the compiled CLI, deploy/ and config/, and only production dependencies', () => {
    const app = join(img.rootfs, 'app');
    expect(readFileSync(join(app, 'dist/cli/main.js'), 'utf8')).toBe(
      readFileSync(join(root, 'dist/cli/main.js'), 'utf8'),
    );
    expect(readdirSync(join(app, 'deploy')).sort()).toEqual(readdirSync(join(root, 'deploy')).sort());
    expect(readdirSync(join(app, 'config')).sort()).toEqual(readdirSync(join(root, 'config')).sort());
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    for (const dep of Object.keys(pkg.dependencies))
      expect(existsSync(join(app, 'node_modules', dep, 'package.json'))).toBe(true);
    // What the lock marks dev-only (devDependencies and what only they need) must be absent;
    // @types/node, say, is also a production dependency's dependency, so it stays.
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.entries(lock.packages).filter(([p, v]) => p.startsWith('node_modules/') && v.dev);
    expect(devOnly.length).toBeGreaterThan(100);
    expect(devOnly.filter(([p]) => existsSync(join(app, p))).map(([p]) => p)).toEqual([]);
    for (const d of ['typescript', 'vitest', 'eslint', 'node'])
      expect(existsSync(join(app, 'node_modules', d))).toBe(false);
  });

  it('GIVEN the rootfs THEN /usr/local/bin/node is Node 24 and, as uid 1000, runs the entrypoint and loads netlink', () => {
    expect(inImage(img, '0:0', ['/usr/local/bin/node', '--version'])).toMatch(/^v24\./);
    const user = img.config.User!;
    expect(
      inImage(img, `${user}:${user}`, [...img.config.Entrypoint!, '--version'], img.config.WorkingDir).trim(),
    ).toBe('0.1.0');
    expect(
      inImage(img, `${user}:${user}`, ['node', '-e', "require('netlink'); console.log('ok')"], '/app').trim(),
    ).toBe('ok');
    expect(inImage(img, '0:0', ['id', '-un', user]).trim()).toBe('node');
  });

  it('GIVEN the rootfs THEN iptables, iptables-restore and ip run (the ClusterLink agent needs them)', () => {
    expect(inImage(img, '0:0', ['iptables', '--version'])).toMatch(/^iptables v1\./);
    expect(inImage(img, '0:0', ['iptables-restore', '--version'])).toMatch(/^iptables-restore v1\./);
    expect(inImage(img, '0:0', ['ip', '-V'])).toMatch(/iproute2/);
  });

  it('GIVEN the archive THEN skopeo reads it as oci-archive:FILE:<tag> (how it is pushed to a registry)', async () => {
    const { stdout } = await run('skopeo', ['inspect', `oci-archive:${built.archive}:0.1.0`]);
    expect(JSON.parse(stdout).Digest).toBe(built.manifestDigest);
  });

  it('GIVEN unchanged inputs WHEN built again THEN the cached archive is found, with the same id', async () => {
    const again = await buildImage('kosmos');
    expect(again).toMatchObject({ cached: true, id: built.id, archive: built.archive });
  });
});

describe('the other images, run from their archives', () => {
  const images = {} as Record<ImageName, BuiltImage>;
  const unpacked = {} as Record<ImageName, Unpacked>;
  beforeAll(async () => {
    for (const b of await buildImages([], { progress: log })) {
      images[b.name] = b;
      if (b.name !== 'kosmos') unpacked[b.name] = unpack(b.archive, b.name);
    }
  }, 1_800_000);

  it("GIVEN the redis image WHEN run with deploy/kosmos/20-redis.yaml's args as its uid THEN it serves, protected mode off (other pods may connect)", async () => {
    const u = unpacked.redis;
    const deployment = parseAllDocuments(readFileSync(join(root, 'deploy/kosmos/20-redis.yaml'), 'utf8'))
      .map((d) => d.toJSON())
      .find((d) => d?.kind === 'Deployment');
    const pod = deployment.spec.template.spec;
    const args: string[] = pod.containers[0].args;
    const uid = String(pod.securityContext.runAsUser);
    const port = await freePort();
    const redis: ChildProcess = spawn(
      'chroot',
      [
        `--userspec=${uid}:${uid}`,
        u.rootfs,
        '/usr/bin/env',
        '-i',
        ...u.config.Env,
        'sh',
        '-c',
        `cd ${u.config.WorkingDir} && exec "$@"`,
        'sh',
        ...u.config.Entrypoint!,
        ...args,
        '--port',
        String(port),
      ],
      { stdio: 'ignore' },
    );
    const client = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
    });
    try {
      await listening(port, () => redis.exitCode === null);
      await client.connect();
      expect(await client.ping()).toBe('PONG');
      // Protected mode would refuse every client but loopback ones: other pods.
      expect(await client.config('GET', 'protected-mode')).toEqual(['protected-mode', 'no']);
      expect(await client.config('GET', 'save')).toEqual(['save', '']);
      expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    } finally {
      client.disconnect();
      // The redis-server is chroot's pid (exec all the way); it is stopped whatever happened.
      if (redis.exitCode === null) {
        redis.kill('SIGKILL');
        await new Promise((r) => redis.once('exit', r));
      }
    }
  });

  it('GIVEN the nginx image THEN its config is valid and its logs are the container output', () => {
    const u = unpacked.nginx;
    expect(u.config.Cmd).toEqual(['nginx', '-g', 'daemon off;']);
    execFileSync('chroot', [u.rootfs, 'nginx', '-t'], { stdio: 'pipe' });
    expect(
      execFileSync('readlink', [join(u.rootfs, 'var/log/nginx/access.log')], { encoding: 'utf8' }).trim(),
    ).toBe('/dev/stdout');
    expect(
      execFileSync('readlink', [join(u.rootfs, 'var/log/nginx/error.log')], { encoding: 'utf8' }).trim(),
    ).toBe('/dev/stderr');
  });

  it('GIVEN the toolbox image THEN sh, ping, nc, nslookup and wget are there and ping works', () => {
    const u = unpacked.toolbox;
    expect(inImage(u, '0:0', ['which', 'sh', 'ping', 'nc', 'nslookup', 'wget']).trim().split('\n')).toEqual([
      '/bin/sh',
      '/bin/ping',
      '/usr/bin/nc',
      '/usr/bin/nslookup',
      '/usr/bin/wget',
    ]);
    expect(inImage(u, '0:0', ['ping', '-c', '1', '127.0.0.1'])).toContain('1 packets received');
  });

  it("GIVEN the pause image THEN its entrypoint sleeps until killed, as the pod sandbox's first process", () => {
    const u = unpacked.pause;
    expect(u.config.Entrypoint).toEqual(['/bin/sleep', 'infinity']);
    // timeout's exit status 124: the sleep was still running when it was stopped (1: refused "infinity").
    const r = spawnSyncStatus('timeout', [
      '1',
      'chroot',
      `--userspec=${u.config.User}`,
      u.rootfs,
      ...u.config.Entrypoint!,
    ]);
    expect(r).toBe(124);
  });

  it('GIVEN the kube-scheduler and CoreDNS images THEN their static binaries run alone in them, at the tagged versions', () => {
    const s = unpacked['kube-scheduler'];
    expect(
      execFileSync('chroot', ['--userspec=65532:65532', s.rootfs, ...s.config.Entrypoint!, '--version'], {
        encoding: 'utf8',
      }).trim(),
    ).toBe(`Kubernetes ${images['kube-scheduler'].ref.split(':').pop()}`);
    const c = unpacked.coredns;
    const plugins = execFileSync(
      'chroot',
      ['--userspec=65532:65532', c.rootfs, ...c.config.Entrypoint!, '-plugins'],
      { encoding: 'utf8' },
    );
    for (const p of COREDNS_PLUGINS) expect(plugins.split('\n')).toContain(p);
  });

  describe('imported into a containerd', () => {
    let dir: string;
    let containerd: ChildProcess | undefined;
    let ctr: string;
    let socket: string;
    beforeAll(async () => {
      const { stdout } = await run('bash', [join(root, 'scripts/build-control-plane.sh')], {
        maxBuffer: 64 << 20,
      });
      const bin = stdout.trim().split('\n').pop()!;
      ctr = join(bin, 'ctr');
      dir = mkdtempSync(join(tmpdir(), 'kosmos-containerd-'));
      socket = join(dir, 'containerd.sock');
      // Its own root, state and socket; the plugins that would use the machine's global paths
      // (CRI, NRI's socket, /opt/containerd) are off, so other containerds here are not touched.
      writeFileSync(
        join(dir, 'config.toml'),
        [
          'version = 3',
          `root = '${dir}/root'`,
          `state = '${dir}/state'`,
          "disabled_plugins = ['io.containerd.grpc.v1.cri', 'io.containerd.cri.v1.runtime', 'io.containerd.cri.v1.images', 'io.containerd.nri.v1.nri', 'io.containerd.internal.v1.opt']",
          '[grpc]',
          `  address = '${socket}'`,
          '[ttrpc]',
          `  address = '${socket}.ttrpc'`,
          // The transfer service (ctr images import) needs the verifier plugin; its folder is ours.
          "[plugins.'io.containerd.image-verifier.v1.bindir']",
          `  bin_dir = '${dir}/image-verifiers'`,
        ].join('\n'),
      );
      containerd = spawn(join(bin, 'containerd'), ['--config', join(dir, 'config.toml')], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      containerd.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
      for (let i = 0; ; i++) {
        try {
          await run(ctr, ['-a', socket, 'version']);
          break;
        } catch (e) {
          if (containerd.exitCode !== null || i > 300)
            throw new Error(`containerd did not start: ${err}`, { cause: e });
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }, 900_000);
    afterAll(async () => {
      if (containerd && containerd.exitCode === null) {
        containerd.kill('SIGTERM');
        const stopped = await Promise.race([
          new Promise((r) => containerd!.once('exit', () => r(true))),
          new Promise((r) => setTimeout(() => r(false), 10_000)),
        ]);
        if (!stopped) {
          containerd.kill('SIGKILL');
          await new Promise((r) => containerd!.once('exit', r));
        }
      }
      if (dir) {
        // Unpacking mounts snapshots only for a moment; anything left under the folder goes.
        const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
          .split('\n')
          .map((l) => l.split(' ')[4] ?? '')
          .filter((m) => m.startsWith(dir))
          .sort()
          .reverse();
        for (const m of mounts) execFileSync('umount', ['-l', m]);
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('GIVEN every archive WHEN imported one after the other THEN ctr lists each by name with the archive’s manifest, config (image id) kept', async () => {
      for (const b of Object.values(images)) {
        const r = await importImageArchive({ ctr, socket, file: b.archive });
        expect(r.refs).toEqual([b.ref]);
      }
      const { stdout } = await run(ctr, ['-a', socket, '-n', 'k8s.io', 'images', 'ls']);
      const rows = stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/));
      const byName = new Map(rows.map((r) => [r[0], r[2]]));
      for (const b of Object.values(images)) {
        // Nothing imported before is lost, and each name points at this archive's manifest ...
        expect(byName.get(b.ref)).toBe(b.manifestDigest);
        // ... whose config, as containerd stores it, is the image id.
        const { stdout: manifest } = await run(ctr, [
          '-a',
          socket,
          '-n',
          'k8s.io',
          'content',
          'get',
          b.manifestDigest,
        ]);
        expect(JSON.parse(manifest).config.digest).toBe(b.id);
      }
    });

    it('GIVEN a file that is no image THEN import refuses it with one line, and containerd keeps what it has', async () => {
      const bogus = join(dir, 'bogus.tar');
      writeFileSync(bogus, 'not an image at all, not even a tar archive'.repeat(20));
      const err = await importImageArchive({ ctr, socket, file: bogus }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toBe(`${bogus}: not a tar archive (nor a gzipped one)`);
      const { stdout } = await run(ctr, ['-a', socket, '-n', 'k8s.io', 'images', 'ls', '-q']);
      expect(stdout.trim().split('\n').sort()).toEqual(
        Object.values(images)
          .map((b) => b.ref)
          .sort(),
      );
    });

    it("GIVEN no containerd at the socket THEN import fails with ctr's own message", async () => {
      const err = await importImageArchive({
        ctr,
        socket: join(dir, 'nobody.sock'),
        file: images.pause.archive,
      }).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(
        /^ctr images import .*pause.*: .*(no such file or directory|connection refused)/,
      );
    });
  });
});

/** Waits until something accepts connections on the port, while `alive()`. */
async function listening(port: number, alive: () => boolean): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (!alive()) throw new Error(`the process meant to listen on ${port} exited`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function spawnSyncStatus(cmd: string, args: string[]): number | null {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return 0;
  } catch (e) {
    return (e as { status: number | null }).status;
  }
}
