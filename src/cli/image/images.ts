/**
 * The images Kosmos and its sandbox run, and how each is made from what this machine reaches
 * (Debian packages, npm, Go modules): the names the manifests and the sandbox use are here,
 * once. A recipe's plan is cheap (file digests and stats) so a cached image is found fast;
 * the work is in its layers' `make`, run only for layers not built before.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
} from 'node:fs';
import { join, posix } from 'node:path';
import { KosmosError, UserError } from '../../common/errors.js';
import { DEFAULT_IMAGE, DEFAULT_REDIS_IMAGE, DEFAULT_SCHEDULER_IMAGE } from '../install/values.js';
import { ensureBinaries } from '../sandbox/binaries.js';
import { keyOf, sha256, writeFileAtomic, type ImageCache } from './cache.js';
import {
  DEBIAN_SUITE,
  debianLayer,
  mmdebstrap,
  upstreamVersion,
  type DebianRootfs,
  type DebianUser,
} from './debian.js';
import { dockerignore, parseDockerfile } from './dockerfile.js';
import { isStaticElf } from './elf.js';
import { copyTarget, kosmosImageSpec, type CopyStep, type KosmosImageSpec } from './kosmos-spec.js';
import {
  dirEntry,
  entriesDigest,
  fileEntry,
  layerEntries,
  parentDirs,
  symlinkEntry,
  textEntry,
  treeEntries,
  type LayerRecord,
} from './layers.js';
import type { ContainerConfig } from './oci.js';
import { normalizeReference, parseReference } from './reference.js';
import { readAll, tarEntries, tarStream, type TarEntry } from './tar.js';

/** Bumped when the builder would make different bytes from the same inputs. */
export const BUILDER_VERSION = 1;

/** The Kosmos image (every component: `kosmos <component>`), as the manifests and chart name it. */
export const KOSMOS_IMAGE = normalizeReference(DEFAULT_IMAGE);
export const SCHEDULER_IMAGE = normalizeReference(DEFAULT_SCHEDULER_IMAGE);
/** Debian bookworm's redis-server (7.0), named as the chart's default redis.image resolves. */
export const REDIS_IMAGE = normalizeReference(DEFAULT_REDIS_IMAGE);
/** The pod sandbox image of the sandbox's containerd (a local name: not the upstream pause). */
export const PAUSE_IMAGE = 'kosmos.local/pause:3.10';
/** A test image with busybox's sh, ping, nc, nslookup, wget (busybox 1.35: `wget -T` crashes). */
export const TOOLBOX_IMAGE = 'kosmos.local/toolbox:1.35';
/** Debian bookworm's nginx (1.22), for deploy/examples/nginx.yaml (`nginx:1.22`). */
export const NGINX_IMAGE = 'docker.io/library/nginx:1.22';
/** The version scripts/build-coredns.sh builds by default (a unit test keeps them equal). */
export const COREDNS_VERSION = 'v1.15.0';
/** Cluster DNS (kube-system/coredns behind the Service kube-dns). */
export const COREDNS_IMAGE = `registry.k8s.io/coredns/coredns:${COREDNS_VERSION}`;
/** The plugins the sandbox's Corefile uses; the build fails if the binary lacks one. */
export const COREDNS_PLUGINS = [
  'kubernetes',
  'forward',
  'reload',
  'cache',
  'errors',
  'health',
  'ready',
  'loop',
];

export const IMAGE_NAMES = [
  'kosmos',
  'pause',
  'toolbox',
  'redis',
  'nginx',
  'kube-scheduler',
  'coredns',
] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];

export interface BuildContext {
  /** The repository (or installed package) root. */
  root: string;
  cache: ImageCache;
  progress: (line: string) => void;
  /** A fresh scratch folder, removed by the builder after the build. */
  scratch: () => string;
}

export interface MadeLayer {
  tar: AsyncIterable<Buffer>;
  /** Debian package versions in the layer, known once its tar has been read. */
  packages?: () => Record<string, string>;
}

export interface LayerPlan {
  /** Key of the layer's inputs: an equal key is an equal layer. */
  key: string;
  comment: string;
  /** The Debian root it is made of, for a Debian layer. */
  rootfs?: DebianRootfs;
  make(ctx: BuildContext): Promise<MadeLayer>;
}

export interface ImagePlan {
  config: ContainerConfig;
  layers: LayerPlan[];
  /** Further inputs of the image key (e.g. the Dockerfile's text). */
  inputs?: unknown;
  /** Fails when the built layers do not hold what the tag promises (e.g. the redis version). */
  check?(layers: LayerRecord[]): void;
}

export interface ImageRecipe {
  name: ImageName;
  ref: string;
  description: string;
  plan(ctx: BuildContext): Promise<ImagePlan>;
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

// ---------------------------------------------------------------------------------------------
// Layers

function debianLayerPlan(rootfs: DebianRootfs, label: string): LayerPlan {
  return {
    key: keyOf({ builder: BUILDER_VERSION, kind: 'debian', suite: DEBIAN_SUITE, rootfs }),
    comment: `debian ${DEBIAN_SUITE} (${rootfs.variant}) + ${rootfs.packages.join(' ')}`,
    rootfs,
    async make(ctx) {
      const dir = ctx.scratch();
      const tarball = join(dir, 'rootfs.tar');
      ctx.progress(
        `${label}: Debian ${DEBIAN_SUITE} root with ${rootfs.packages.join(', ')} (mmdebstrap, about a minute)`,
      );
      await mmdebstrap(rootfs, tarball, (l) => ctx.progress(`${label}: mmdebstrap: ${l}`));
      return debianLayer(tarball);
    },
  };
}

/**
 * A layer of given entries; its key is their digest, contents included, except for the big
 * binaries named in `fingerprints` (path → a stand-in such as statFingerprint's).
 */
async function filesLayerPlan(
  comment: string,
  entries: TarEntry[],
  fingerprints: Record<string, string> = {},
): Promise<LayerPlan> {
  const sorted = layerEntries(parentDirs(entries.map((e) => e.path)), entries);
  const key = keyOf({
    builder: BUILDER_VERSION,
    kind: 'files',
    content: await entriesDigest(sorted, fingerprints),
  });
  return { key, comment, make: async () => ({ tar: tarStream(sorted) }) };
}

/** size+mtime+inode of a big local binary: a cheap stand-in for its content in keys. */
function statFingerprint(file: string): string {
  const st = statSync(file);
  return `${file}:${st.size}:${st.mtimeMs}:${st.ino}`;
}

function passwd(users: { name: string; uid: number; gid: number; home: string }[]): TarEntry[] {
  const all = [{ name: 'root', uid: 0, gid: 0, home: '/root' }, ...users];
  return [
    textEntry(
      'etc/passwd',
      all.map((u) => `${u.name}:x:${u.uid}:${u.gid}::${u.home}:/sbin/nologin\n`).join(''),
    ),
    textEntry('etc/group', all.map((u) => `${u.name}:x:${u.gid}:\n`).join('')),
    textEntry('etc/nsswitch.conf', 'hosts: files dns\n'),
    dirEntry('tmp', 0o1777),
  ];
}

/** A static binary the image will run with nothing around it, checked as such. */
function staticBinary(file: string, what: string): string {
  if (!existsSync(file)) throw new UserError(`${what}: ${file} does not exist`);
  if (!isStaticElf(file))
    throw new UserError(`${what}: ${file} is not a static binary; it cannot run in a scratch image`);
  return file;
}

/** Runs a build script of scripts/ and returns the folder it prints on its last stdout line. */
async function scriptFolder(
  ctx: BuildContext,
  script: string,
  env: Record<string, string> = {},
): Promise<string> {
  const path = join(ctx.root, 'scripts', script);
  return new Promise<string>((resolve, reject) => {
    const child = spawn('bash', [path], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', (e) => reject(new UserError(`could not run ${path}: ${e.message}`)));
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last) resolve(last);
      else reject(new UserError(`${script} failed (exit ${code}); see the messages above`));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The Kosmos image, from the Dockerfile

export interface BaseImage {
  /** Debian packages of the base beyond Essential:yes (what its runtime links against). */
  packages: string[];
  users: DebianUser[];
  nodeMajor: number;
}

/** The bases the Dockerfile may start from, as this builder makes them. */
export const BASE_IMAGES: Record<string, BaseImage> = {
  // Docker's node:24-slim: Debian bookworm slim, Node at /usr/local/bin/node, user node (1000).
  'node:24-slim': {
    packages: ['libstdc++6'],
    users: [{ name: 'node', uid: 1000, gid: 1000, home: '/home/node', shell: '/bin/bash', createHome: true }],
    nodeMajor: 24,
  },
};

/** The project's own Node runtime: the binary of its devDependency `node` (node-<os>-<arch>). */
export function nodeRuntime(root: string): { binary: string; version: string } {
  const platformPackage = `node-${process.platform}-${process.arch}`;
  const candidates = [
    join(root, 'node_modules', 'node', 'node_modules', platformPackage, 'bin', 'node'),
    join(root, 'node_modules', platformPackage, 'bin', 'node'),
  ];
  const binary = candidates.find((c) => existsSync(c));
  if (!binary)
    throw new UserError(
      `the project's Node runtime (${platformPackage}, from the devDependency node) is not installed: run npm ci`,
    );
  const version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  return { binary, version };
}

/** Packages of a node_modules folder that hold a compiled addon (a .node file or binding.gyp). */
export function nativePackages(nodeModules: string): string[] {
  const found = new Set<string>();
  const walk = (dir: string, pkg: string | undefined, depth: number) => {
    for (const name of readdirSync(dir, { withFileTypes: true })) {
      if (name.name === '.bin') continue;
      const p = join(dir, name.name);
      if (name.isDirectory()) {
        if (name.name === 'node_modules') walk(p, undefined, 0);
        else if (!pkg && name.name.startsWith('@')) walk(p, undefined, -1);
        else walk(p, pkg ?? (depth === -1 ? `${posix.basename(dir)}/${name.name}` : name.name), depth + 1);
      } else if (pkg && (name.name.endsWith('.node') || name.name === 'binding.gyp')) found.add(pkg);
    }
  };
  walk(nodeModules, undefined, 0);
  return [...found].sort();
}

async function npmProductionInstall(ctx: BuildContext, label: string, nodeBinary: string): Promise<string> {
  const dir = ctx.scratch();
  mkdirSync(dir, { recursive: true });
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(ctx.root, f), join(dir, f));
  ctx.progress(`${label}: npm ci --omit=dev`);
  // The image's own Node runs npm, so engines and any platform check see Node 24. Install
  // scripts stay off: the one native addon (netlink) ships N-API prebuilds, checked below.
  const env = {
    ...process.env,
    PATH: `${posix.dirname(nodeBinary)}:${process.env['PATH'] ?? ''}`,
    NODE_ENV: 'production',
  };
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      'npm',
      ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'],
      {
        cwd: dir,
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', (e) => reject(new UserError(`npm: ${e.message}`)));
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new KosmosError(`npm ci --omit=dev failed (exit ${code}): ${err.trim()}`)),
    );
  });
  for (const pkg of nativePackages(join(dir, 'node_modules'))) {
    ctx.progress(
      `${label}: ${pkg} has a native addon; loading it with node ${execFileSync(nodeBinary, ['--version']).toString().trim()}`,
    );
    try {
      execFileSync(nodeBinary, ['-e', `require(${JSON.stringify(pkg)})`], { cwd: dir, stdio: 'pipe' });
    } catch (e) {
      const msg =
        String((e as { stderr?: Buffer }).stderr ?? e)
          .split('\n')
          .find((l) => /Error/.test(l)) ?? '';
      throw new KosmosError(
        `dependency ${pkg} has a native addon that does not load under the image's Node: ${msg}`,
      );
    }
  }
  return join(dir, 'node_modules');
}

/** Entries of one COPY of the Dockerfile, from the repository (or dist/). */
function copyEntries(root: string, step: CopyStep, ignored: (rel: string) => boolean): TarEntry[] {
  const out: TarEntry[] = [];
  for (const source of step.sources) {
    const host = step.from === 'dist' ? join(root, 'dist') : join(root, source);
    if (step.from === 'context' && ignored(source))
      throw new UserError(`Dockerfile:${step.line}: COPY ${source}: it is excluded by .dockerignore`);
    if (!existsSync(host))
      throw new UserError(
        step.from === 'dist'
          ? 'dist/ is missing: compile first (npm run build; `npm run image` does it)'
          : `Dockerfile:${step.line}: COPY ${source}: ${host} does not exist`,
      );
    const isDir = statSync(host).isDirectory();
    const target = copyTarget(step, source, isDir).replace(/^\//, '');
    if (isDir)
      out.push(
        ...treeEntries(
          host,
          target,
          step.from === 'dist' ? undefined : (rel) => ignored(posix.join(source, rel)),
        ),
      );
    else out.push(fileEntry(host, target));
  }
  return out;
}

/** The Debian root of the Kosmos image: the base's packages and users, the Dockerfile's apt-get install. */
export function kosmosRootfs(spec: KosmosImageSpec, base: BaseImage): DebianRootfs {
  return { variant: 'essential', packages: [...base.packages, ...spec.aptPackages], users: base.users };
}

/**
 * The Kosmos image's config: the base's environment (node:24-slim's PATH and NODE_VERSION)
 * under the Dockerfile's ENV, and its WORKDIR, USER, ENTRYPOINT and CMD as written.
 */
export function kosmosImageConfig(spec: KosmosImageSpec, nodeVersion: string): ContainerConfig {
  const env = new Map<string, string>([
    ['PATH', PATH],
    ['NODE_VERSION', nodeVersion.replace(/^v/, '')],
  ]);
  for (const [k, v] of spec.env) env.set(k, v);
  const config: ContainerConfig = { Env: [...env].map(([k, v]) => `${k}=${v}`), WorkingDir: spec.workdir };
  if (spec.user) config.User = spec.user;
  if (spec.entrypoint) config.Entrypoint = spec.entrypoint;
  if (spec.cmd) config.Cmd = spec.cmd;
  return config;
}

const kosmosRecipe: ImageRecipe = {
  name: 'kosmos',
  ref: KOSMOS_IMAGE,
  description: 'every Kosmos component (`kosmos <component>`), from the Dockerfile',
  async plan(ctx) {
    const dockerfile = readFileSync(join(ctx.root, 'Dockerfile'), 'utf8');
    const spec = kosmosImageSpec(parseDockerfile(dockerfile));
    const base = BASE_IMAGES[spec.base];
    if (!base)
      throw new UserError(
        `Dockerfile: FROM ${spec.base}: the image builder knows only ${Object.keys(BASE_IMAGES).join(', ')}`,
      );
    if (!spec.npmCi) throw new UserError('Dockerfile: the final stage has no `RUN npm ci --omit=dev`');
    const node = nodeRuntime(ctx.root);
    if (!node.version.startsWith(`v${base.nodeMajor}.`))
      throw new UserError(
        `FROM ${spec.base} needs Node ${base.nodeMajor}; the project's devDependency node is ${node.version}`,
      );
    const ignoreFile = join(ctx.root, '.dockerignore');
    const ignored = dockerignore(existsSync(ignoreFile) ? readFileSync(ignoreFile, 'utf8') : '');
    // COPYs before the npm install are what it installs from (package.json, the lock): they
    // go in its layer, as Docker's layer order puts them; the rest in the last layer.
    const before = spec.copies.filter((c) => c.line < (spec.npmCi?.line ?? 0));
    const after = spec.copies.filter((c) => c.line >= (spec.npmCi?.line ?? 0));
    const workdir = dirEntry(spec.workdir);
    const rootfs = kosmosRootfs(spec, base);
    const nodeModulesDir = posix.join(spec.npmCi.dir, 'node_modules').replace(/^\//, '');
    const manifests = before.flatMap((c) => copyEntries(ctx.root, c, ignored));
    const npmLayer: LayerPlan = {
      key: keyOf({
        builder: BUILDER_VERSION,
        kind: 'npm',
        node: node.version,
        dir: nodeModulesDir,
        manifests: await entriesDigest(manifests),
      }),
      comment: `${before.map((c) => `COPY ${c.sources.join(' ')} ${c.dest}`).join('; ')}; RUN npm ci --omit=dev`,
      async make(c) {
        const modules = await npmProductionInstall(c, 'kosmos', node.binary);
        return {
          tar: tarStream(
            layerEntries(
              parentDirs([nodeModulesDir]),
              [workdir],
              manifests,
              treeEntries(modules, nodeModulesDir),
            ),
          ),
        };
      },
    };
    return {
      config: kosmosImageConfig(spec, node.version),
      inputs: { dockerfile: sha256(dockerfile) },
      layers: [
        debianLayerPlan(rootfs, 'kosmos'),
        await filesLayerPlan(
          `node ${node.version} at /usr/local/bin/node`,
          [fileEntry(node.binary, 'usr/local/bin/node', 0o755)],
          // npm's node-<os>-<arch> of one version is one binary wherever it is installed.
          { 'usr/local/bin/node': `${node.version}:${statSync(node.binary).size}` },
        ),
        npmLayer,
        await filesLayerPlan(
          after.map((c) => `COPY ${c.from === 'dist' ? 'dist' : c.sources.join(' ')} ${c.dest}`).join('; '),
          [workdir, ...after.flatMap((c) => copyEntries(ctx.root, c, ignored))],
        ),
      ],
    };
  },
};

// ---------------------------------------------------------------------------------------------
// Images of Debian packages

/** The tag's version must be the package's: redis:7.0 holds redis-server 7.0.x. */
function versionCheck(ref: string, pkg: string): (layers: LayerRecord[]) => void {
  return (layers) => {
    const version = layers.find((l) => l.packages?.[pkg])?.packages?.[pkg];
    const tag = parseReference(ref).tag;
    if (!version) throw new KosmosError(`${ref}: package ${pkg} is not in the image`);
    if (!`${upstreamVersion(version)}.`.startsWith(`${tag}.`))
      throw new KosmosError(
        `${ref}: Debian ${DEBIAN_SUITE} has ${pkg} ${version}, not ${tag}; change the tag`,
      );
  };
}

/**
 * As the official redis image's entrypoint: options alone run redis-server; root drops to
 * the redis user. Debian's redis-server keeps protected mode on without a config file (the
 * official image is built with it off), which would refuse every client from another pod.
 */
const REDIS_ENTRYPOINT = `#!/bin/sh
set -e
if [ "\${1#-}" != "$1" ] || [ "\${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = redis-server ]; then
  shift
  if [ "\${1%.conf}" != "\${1:-}" ]; then conf="$1"; shift; set -- redis-server "$conf" --protected-mode no "$@"
  else set -- redis-server --protected-mode no "$@"; fi
  if [ "$(id -u)" = 0 ]; then
    find . \\! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi
exec "$@"
`;

const redisRecipe: ImageRecipe = {
  name: 'redis',
  ref: REDIS_IMAGE,
  description: `Debian ${DEBIAN_SUITE}'s redis-server (the bundled Redis of kosmosctl install)`,
  async plan() {
    const rootfs: DebianRootfs = {
      variant: 'essential',
      packages: ['redis-server'],
      // The official image's redis user, which deploy/kosmos/20-redis.yaml runs as.
      users: [{ name: 'redis', uid: 999, gid: 999, home: '/var/lib/redis', shell: '/usr/sbin/nologin' }],
      customize: ['mkdir -p "$1/data" && chown 999:999 "$1/data"'],
    };
    return {
      config: {
        Env: [`PATH=${PATH}`],
        Entrypoint: ['docker-entrypoint.sh'],
        Cmd: ['redis-server'],
        WorkingDir: '/data',
        ExposedPorts: { '6379/tcp': {} },
        Volumes: { '/data': {} },
      },
      layers: [
        debianLayerPlan(rootfs, 'redis'),
        await filesLayerPlan('docker-entrypoint.sh', [
          textEntry('usr/local/bin/docker-entrypoint.sh', REDIS_ENTRYPOINT, 0o755),
        ]),
      ],
      check: versionCheck(REDIS_IMAGE, 'redis-server'),
    };
  },
};

const nginxRecipe: ImageRecipe = {
  name: 'nginx',
  ref: NGINX_IMAGE,
  description: `Debian ${DEBIAN_SUITE}'s nginx, logging to stdout/stderr (deploy/examples/nginx.yaml)`,
  async plan() {
    const rootfs: DebianRootfs = {
      variant: 'essential',
      packages: ['nginx'],
      // As the official image: the logs are the container's output.
      customize: [
        'ln -sf /dev/stdout "$1/var/log/nginx/access.log" && ln -sf /dev/stderr "$1/var/log/nginx/error.log"',
      ],
    };
    return {
      config: {
        Env: [`PATH=${PATH}`],
        Cmd: ['nginx', '-g', 'daemon off;'],
        ExposedPorts: { '80/tcp': {} },
        StopSignal: 'SIGQUIT',
      },
      layers: [debianLayerPlan(rootfs, 'nginx')],
      check: versionCheck(NGINX_IMAGE, 'nginx'),
    };
  },
};

// ---------------------------------------------------------------------------------------------
// busybox images

const BUSYBOX_ROOTFS: DebianRootfs = { variant: 'extract', packages: ['busybox-static'] };

/** Debian's static busybox, unpacked once into the cache. */
async function busyboxBinary(
  ctx: BuildContext,
): Promise<{ binary: string; version: string; applets: string[] }> {
  const key = keyOf({
    builder: BUILDER_VERSION,
    kind: 'busybox',
    suite: DEBIAN_SUITE,
    rootfs: BUSYBOX_ROOTFS,
  });
  const binary = join(ctx.cache.root, 'busybox', key, 'busybox');
  if (!existsSync(binary)) {
    const dir = ctx.scratch();
    const tarball = join(dir, 'busybox.tar');
    ctx.progress(`busybox: unpacking Debian ${DEBIAN_SUITE}'s busybox-static (mmdebstrap)`);
    await mmdebstrap(BUSYBOX_ROOTFS, tarball, (l) => ctx.progress(`busybox: mmdebstrap: ${l}`));
    let data: Buffer | undefined;
    for await (const { header, body } of tarEntries(createReadStream(tarball)))
      if (/^(\.\/)?(usr\/)?bin\/busybox$/.test(header.path) && header.type === 'file')
        data = await readAll(body);
    if (!data) throw new KosmosError('busybox-static holds no bin/busybox');
    writeFileAtomic(binary, data);
    execFileSync('chmod', ['0755', binary]);
  }
  staticBinary(binary, 'busybox');
  const usage = execFileSync(binary, [], { encoding: 'utf8' });
  const version = /BusyBox v(\d+\.\d+(?:\.\d+)?)/.exec(usage)?.[1] ?? '';
  const applets = execFileSync(binary, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  return { binary, version, applets };
}

function busyboxVersionCheck(ref: string, version: string): void {
  const tag = parseReference(ref).tag;
  if (!`${version}.`.startsWith(`${tag}.`))
    throw new KosmosError(
      `${ref}: Debian ${DEBIAN_SUITE}'s busybox is ${version}, not ${tag}; change the tag`,
    );
}

const toolboxRecipe: ImageRecipe = {
  name: 'toolbox',
  ref: TOOLBOX_IMAGE,
  description: 'busybox: sh, ping, nc, nslookup, wget, ... for tests',
  async plan(ctx) {
    const bb = await busyboxBinary(ctx);
    busyboxVersionCheck(TOOLBOX_IMAGE, bb.version);
    const links = bb.applets.filter((a) => a !== 'bin/busybox').map((a) => symlinkEntry(a, '/bin/busybox'));
    return {
      config: { Env: [`PATH=${PATH}`], Cmd: ['sh'] },
      layers: [
        await filesLayerPlan(
          `busybox ${bb.version} and its applets`,
          [fileEntry(bb.binary, 'bin/busybox', 0o755), ...links, ...passwd([]), dirEntry('root', 0o700)],
          { 'bin/busybox': statFingerprint(bb.binary) },
        ),
      ],
    };
  },
};

const pauseRecipe: ImageRecipe = {
  name: 'pause',
  ref: PAUSE_IMAGE,
  description: 'the pod sandbox image: busybox `sleep infinity`',
  async plan(ctx) {
    const bb = await busyboxBinary(ctx);
    return {
      // As the upstream pause image: not root.
      config: { Env: [`PATH=${PATH}`], Entrypoint: ['/bin/sleep', 'infinity'], User: '65535:65535' },
      layers: [
        await filesLayerPlan(
          `busybox ${bb.version} as /bin/sleep`,
          [fileEntry(bb.binary, 'bin/busybox', 0o755), symlinkEntry('bin/sleep', 'busybox')],
          { 'bin/busybox': statFingerprint(bb.binary) },
        ),
      ],
    };
  },
};

// ---------------------------------------------------------------------------------------------
// Go binaries in scratch images

/** distroless' nonroot user, which the scheduler's manifest runs as. */
const NONROOT = { name: 'nonroot', uid: 65532, gid: 65532, home: '/home/nonroot' };

function versionOf(binary: string, args: string[]): string {
  return execFileSync(binary, args, { encoding: 'utf8' }).trim();
}

const schedulerRecipe: ImageRecipe = {
  name: 'kube-scheduler',
  ref: SCHEDULER_IMAGE,
  description: 'kube-scheduler of the control-plane build (the second scheduler, kosmos-scheduler)',
  async plan(ctx) {
    ctx.progress('kube-scheduler: finding the control-plane build (scripts/build-control-plane.sh)');
    const binary = staticBinary((await ensureBinaries())['kube-scheduler'], 'kube-scheduler');
    const tag = parseReference(SCHEDULER_IMAGE).tag;
    const version = versionOf(binary, ['--version']);
    if (!version.endsWith(` ${tag}`))
      throw new KosmosError(`${binary} is "${version}", the image tag is ${tag}`);
    return {
      config: { Env: [`PATH=${PATH}`], Entrypoint: ['/usr/local/bin/kube-scheduler'] },
      layers: [
        await filesLayerPlan(
          `kube-scheduler ${tag}`,
          [fileEntry(binary, 'usr/local/bin/kube-scheduler', 0o755), ...passwd([NONROOT])],
          { 'usr/local/bin/kube-scheduler': statFingerprint(binary) },
        ),
      ],
    };
  },
};

const corednsRecipe: ImageRecipe = {
  name: 'coredns',
  ref: COREDNS_IMAGE,
  description: `CoreDNS ${COREDNS_VERSION} from its Go module (cluster DNS of the sandbox's real nodes)`,
  async plan(ctx) {
    ctx.progress('coredns: finding the CoreDNS build (scripts/build-coredns.sh)');
    const dir = await scriptFolder(ctx, 'build-coredns.sh', { KOSMOS_COREDNS_VERSION: COREDNS_VERSION });
    const binary = staticBinary(join(dir, 'coredns'), 'coredns');
    const version = versionOf(binary, ['-version']);
    if (!version.startsWith(`CoreDNS-${COREDNS_VERSION.replace(/^v/, '')}`))
      throw new KosmosError(`${binary} is "${version.split('\n')[0]}", the image tag is ${COREDNS_VERSION}`);
    const plugins = new Set(
      versionOf(binary, ['-plugins'])
        .split('\n')
        .map((l) => l.trim().replace(/^dns\./, '')),
    );
    const missing = COREDNS_PLUGINS.filter((p) => !plugins.has(p));
    if (missing.length > 0) throw new KosmosError(`${binary} lacks the plugins ${missing.join(', ')}`);
    return {
      // As the upstream image, /coredns; root by default, so it can bind port 53.
      config: {
        Env: [`PATH=${PATH}`],
        Entrypoint: ['/coredns'],
        ExposedPorts: { '53/tcp': {}, '53/udp': {}, '9153/tcp': {} },
      },
      layers: [
        await filesLayerPlan(
          `coredns ${COREDNS_VERSION}`,
          [fileEntry(binary, 'coredns', 0o755), ...passwd([NONROOT])],
          { coredns: statFingerprint(binary) },
        ),
      ],
    };
  },
};

export const RECIPES: Record<ImageName, ImageRecipe> = {
  kosmos: kosmosRecipe,
  pause: pauseRecipe,
  toolbox: toolboxRecipe,
  redis: redisRecipe,
  nginx: nginxRecipe,
  'kube-scheduler': schedulerRecipe,
  coredns: corednsRecipe,
};
