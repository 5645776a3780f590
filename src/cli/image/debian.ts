/**
 * Debian root filesystems for image layers, made by mmdebstrap (root mode) from this
 * machine's Debian mirror, and turned into a layer: `./` prefixes dropped, device nodes left
 * out (the runtime mounts /dev), the package versions read from dpkg's status on the way.
 */
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KosmosError, UserError } from '../../common/errors.js';
import { readAll, tarEntries, tarStream, type TarEntry } from './tar.js';

/** The Debian release every image is built from: redis 7.0, nginx 1.22, busybox 1.35. */
export const DEBIAN_SUITE = 'bookworm';

/** Left out of every package, as Debian's slim images do; licences stay. */
export const DPKG_EXCLUDES = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/locale/*',
  'path-exclude=/usr/share/lintian/*',
];

export interface DebianUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  /** Make the home folder, owned by the user. */
  createHome?: boolean;
}

export interface DebianRootfs {
  /** essential: Essential:yes plus `packages`, installed. extract: `packages` unpacked only. */
  variant: 'essential' | 'extract';
  packages: string[];
  /** Added before the packages are installed, so their maintainer scripts find them. */
  users?: DebianUser[];
  /** Shell commands run at the end, outside the chroot, with the root folder as $1. */
  customize?: string[];
}

/**
 * The `deb` lines of this machine's apt sources for `suite` (and its -updates and -security),
 * from one-line and deb822 files; other repositories (third-party suites) are left out.
 */
export function debianSources(files: string[], suite = DEBIAN_SUITE): string[] {
  const suites = new Set([suite, `${suite}-updates`, `${suite}-security`]);
  const out: string[] = [];
  const add = (uri: string, s: string) => {
    const line = `deb ${uri.replace(/\/$/, '')} ${s} main`;
    if (suites.has(s) && !out.includes(line)) out.push(line);
  };
  for (const text of files) {
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*$/, '').trim();
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
      if (m) add(m[1] as string, m[2] as string);
    }
    for (const para of text.split(/\n\s*\n/)) {
      const fields: Record<string, string> = {};
      for (const raw of para.split('\n')) {
        if (raw.startsWith('#')) continue;
        const m = /^([A-Za-z-]+):\s*(.*)$/.exec(raw);
        if (m) fields[(m[1] as string).toLowerCase()] = m[2] as string;
      }
      if (!fields['uris'] || !(fields['types'] ?? '').split(/\s+/).includes('deb')) continue;
      if (fields['enabled']?.toLowerCase() === 'no') continue;
      for (const uri of fields['uris'].split(/\s+/))
        for (const s of (fields['suites'] ?? '').split(/\s+/)) if (s) add(uri, s);
    }
  }
  return out;
}

/** This machine's apt sources files. */
export function hostAptSources(): string[] {
  const files = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir))
    for (const f of readdirSync(dir).sort()) if (/\.(list|sources)$/.test(f)) files.push(join(dir, f));
  return files.filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8'));
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The shell that adds users and their groups to the root folder $1 (as useradd would). */
export function usersScript(users: DebianUser[]): string {
  const lines = ['set -e'];
  for (const u of users) {
    lines.push(
      `echo ${sh(`${u.name}:x:${u.gid}:`)} >> "$1/etc/group"`,
      `echo ${sh(`${u.name}:!::`)} >> "$1/etc/gshadow"`,
      `echo ${sh(`${u.name}:x:${u.uid}:${u.gid}::${u.home}:${u.shell}`)} >> "$1/etc/passwd"`,
      `echo ${sh(`${u.name}:!::0:99999:7:::`)} >> "$1/etc/shadow"`,
    );
    if (u.createHome) lines.push(`mkdir -p "$1${u.home}"`, `chown ${u.uid}:${u.gid} "$1${u.home}"`);
  }
  return lines.join('\n');
}

/** mmdebstrap's command line for a root filesystem tarball `out`. */
export function mmdebstrapArgs(
  r: DebianRootfs,
  out: string,
  mirrors: string[],
  suite = DEBIAN_SUITE,
): string[] {
  const args = [
    `--variant=${r.variant}`,
    '--mode=root',
    '--format=tar',
    `--aptopt=Acquire::Languages "none"`,
  ];
  if (r.variant === 'essential') {
    // /bin -> usr/bin as in Debian's own images; without it the usrmerge package (and perl) comes in.
    args.push('--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr');
    for (const o of DPKG_EXCLUDES) args.push(`--dpkgopt=${o}`);
  }
  if (r.packages.length > 0) args.push(`--include=${r.packages.join(',')}`);
  if (r.users && r.users.length > 0) {
    if (r.variant !== 'essential')
      throw new KosmosError('users can only be added to an installed (essential) root');
    args.push(`--essential-hook=${usersScript(r.users)}`);
  }
  // The machine's own resolver and name must not end up in an image (extract takes files only).
  if (r.variant === 'essential')
    args.push(`--customize-hook=: > "$1/etc/resolv.conf"; echo localhost > "$1/etc/hostname"`);
  for (const c of r.customize ?? []) args.push(`--customize-hook=${c}`);
  return [...args, suite, out, ...mirrors];
}

/** Runs mmdebstrap; its progress lines go to `progress`. Needs root. */
export async function mmdebstrap(
  r: DebianRootfs,
  out: string,
  progress: (line: string) => void,
): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    throw new UserError(
      'building a Debian-based image needs root (mmdebstrap --mode=root): run it with sudo',
    );
  const args = mmdebstrapArgs(r, out, debianSources(hostAptSources()));
  await new Promise<void>((resolve, reject) => {
    const child = spawn('mmdebstrap', args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, SOURCE_DATE_EPOCH: '0', LC_ALL: 'C.UTF-8' },
    });
    const tail: string[] = [];
    let rest = '';
    child.stderr.on('data', (c: Buffer) => {
      const lines = (rest + c.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) {
        tail.push(l);
        if (tail.length > 20) tail.shift();
        if (/^I: (downloading|installing|extracting|running apt|creating|success)/.test(l))
          progress(l.slice(3));
      }
    });
    child.on('error', (e) =>
      reject(
        new UserError(
          (e as NodeJS.ErrnoException).code === 'ENOENT'
            ? 'mmdebstrap is not installed: run scripts/install-system-deps.sh (apt-get install mmdebstrap)'
            : `mmdebstrap: ${e.message}`,
        ),
      ),
    );
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new KosmosError(`mmdebstrap ${r.packages.join(',')} failed (exit ${code}):\n${tail.join('\n')}`),
          ),
    );
  });
}

/** The installed packages and versions of a dpkg status file. */
export function dpkgVersions(status: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const para of status.split(/\n\s*\n/)) {
    const pkg = /^Package:\s*(\S+)/m.exec(para)?.[1];
    const version = /^Version:\s*(\S+)/m.exec(para)?.[1];
    const state = /^Status:\s*(.*)$/m.exec(para)?.[1];
    if (pkg && version && state?.trim().endsWith(' installed')) out[pkg] = version;
  }
  return out;
}

/** The upstream version of a Debian version string: `5:7.0.15-1~deb12u10` → `7.0.15`. */
export const upstreamVersion = (v: string): string => v.replace(/^\d+:/, '').replace(/-[^-]*$/, '');

const relative = (p: string) => p.replace(/^\.\//, '').replace(/^\//, '');

/**
 * The entries of a root filesystem tarball as a layer: no `./` prefixes, no root entry, no
 * device nodes; `onFile` sees (and may keep) the content of files it asks for.
 */
export async function* rootfsEntries(
  tarball: string,
  want: (path: string) => boolean = () => false,
  onFile: (path: string, data: Buffer) => void = () => {},
): AsyncGenerator<TarEntry> {
  for await (const { header: h, body } of tarEntries(createReadStream(tarball))) {
    const path = relative(h.path);
    if (path === '' || path === './') continue;
    if (path.startsWith('dev/') && path !== 'dev/') continue;
    if (h.type !== 'file' && h.type !== 'dir' && h.type !== 'symlink' && h.type !== 'hardlink')
      throw new KosmosError(
        `${tarball}: ${h.path} is a ${h.type}; only files, folders and links go in a layer`,
      );
    const pax = Object.fromEntries(Object.entries(h.pax).filter(([k]) => k.startsWith('SCHILY.xattr.')));
    const entry: TarEntry = {
      path,
      type: h.type,
      mode: h.mode,
      uid: h.uid,
      gid: h.gid,
      uname: h.uname,
      gname: h.gname,
      mtime: h.mtime,
      linkname: h.type === 'hardlink' ? relative(h.linkname) : h.linkname,
      pax,
    };
    if (h.type === 'file') {
      entry.size = h.size;
      if (want(path)) {
        const data = await readAll(body);
        onFile(path, data);
        entry.data = data;
      } else entry.data = () => body;
    }
    yield entry;
  }
}

/** The layer tar of a root filesystem tarball, and the package versions in it. */
export function debianLayer(tarball: string): {
  tar: AsyncIterable<Buffer>;
  packages: () => Record<string, string>;
} {
  let packages: Record<string, string> = {};
  const entries = rootfsEntries(
    tarball,
    (p) => p === 'var/lib/dpkg/status',
    (_p, data) => (packages = dpkgVersions(data.toString('utf8'))),
  );
  return { tar: tarStream(entries), packages: () => packages };
}
