/**
 * The machine-level pieces real nodes need, each put back by `down`: commands run with their
 * error quoted, global sysctls recorded and restored, cgroups created and emptied, mounts
 * under the sandbox's folders taken down.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  writeFileSync,
  mkdirSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { KosmosError } from '../../common/errors.js';

/** Runs a command to completion; fails naming it and quoting what it printed. */
export function run(
  command: string,
  args: string[],
  opts: { allowFail?: boolean; input?: string } = {},
): string {
  const r = spawnSync(command, args, { encoding: 'utf8', input: opts.input, timeout: 60_000 });
  if (r.error) {
    if (opts.allowFail) return '';
    throw new KosmosError(`${command} ${args.join(' ')}: ${r.error.message}`);
  }
  if (r.status !== 0 && !opts.allowFail) {
    throw new KosmosError(
      `${command} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim()}`,
    );
  }
  return r.stdout;
}

/** Whether a command exits 0 (a check such as `iptables -C`). */
export function succeeds(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore', timeout: 60_000 }).status === 0;
}

/** Global sysctls the kubelet changes on every start, even inside a network namespace. */
export const KUBELET_GLOBAL_SYSCTLS = [
  'kernel.panic',
  'kernel.panic_on_oops',
  'vm.overcommit_memory',
] as const;

const sysctlPath = (key: string) => join('/proc/sys', ...key.split('.'));

export function readSysctls(keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) {
    try {
      out[k] = readFileSync(sysctlPath(k), 'utf8').trim();
    } catch {
      /* not on this kernel */
    }
  }
  return out;
}

/** Writes back values read by readSysctls; returns the keys it could not restore. */
export function restoreSysctls(values: Record<string, string>): string[] {
  const failed: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    try {
      if (readFileSync(sysctlPath(k), 'utf8').trim() !== v) writeFileSync(sysctlPath(k), v);
    } catch {
      failed.push(k);
    }
  }
  return failed;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The cgroup v1 hierarchies (and the v2 `unified` one runc also writes to) of this machine. */
export function cgroupHierarchies(): string[] {
  if (!existsSync(CGROUP_ROOT)) return [];
  return readdirSync(CGROUP_ROOT).filter((h) => {
    try {
      return statSync(join(CGROUP_ROOT, h)).isDirectory();
    } catch {
      return false;
    }
  });
}

/**
 * Creates `path` (e.g. /kosmos-sbx-ab12cd-0) in every v1 hierarchy, cpuset filled from its
 * parent so processes may join it: the kubelet requires its cgroupRoot to exist everywhere.
 */
export function createCgroup(path: string): void {
  for (const h of cgroupHierarchies()) {
    if (h === 'unified') continue;
    let dir = join(CGROUP_ROOT, h);
    for (const part of path.split('/').filter(Boolean)) {
      const parent = dir;
      dir = join(dir, part);
      if (!existsSync(dir)) mkdirSync(dir);
      if (h === 'cpuset') {
        for (const f of ['cpuset.cpus', 'cpuset.mems']) {
          const mine = join(dir, f);
          if (existsSync(mine) && readFileSync(mine, 'utf8').trim() === '') {
            writeFileSync(mine, readFileSync(join(parent, f), 'utf8').trim());
          }
        }
      }
    }
  }
}

/** The cgroup.procs files of `path` in every hierarchy but unified: a process written there joins. */
export function cgroupProcsFiles(path: string): string[] {
  return cgroupHierarchies()
    .filter((h) => h !== 'unified')
    .map((h) => join(CGROUP_ROOT, h, path, 'cgroup.procs'))
    .filter((f) => existsSync(f));
}

function walkDirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const visit = (d: string) => {
    out.push(d);
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e);
      try {
        if (statSync(p).isDirectory()) visit(p);
      } catch {
        /* gone meanwhile */
      }
    }
  };
  visit(dir);
  return out;
}

/** Every pid in `path` or below it, in any hierarchy. */
export function cgroupPids(path: string): number[] {
  const pids = new Set<number>();
  for (const h of cgroupHierarchies()) {
    for (const d of walkDirs(join(CGROUP_ROOT, h, path))) {
      try {
        for (const line of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) {
          const pid = Number(line);
          if (pid > 0) pids.add(pid);
        }
      } catch {
        /* no procs file (or gone) */
      }
    }
  }
  return [...pids];
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * SIGKILLs every process in the cgroup tree (containers, shims, the runtime), then removes the
 * tree bottom-up in every hierarchy. Returns what it could not remove.
 */
export function destroyCgroup(path: string, timeoutMs = 10_000): string[] {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = cgroupPids(path);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* exited */
      }
    }
    if (Date.now() > deadline) break;
    sleepSync(100);
  }
  const left: string[] = [];
  for (const h of cgroupHierarchies()) {
    const dirs = walkDirs(join(CGROUP_ROOT, h, path)).reverse();
    for (const d of dirs) {
      for (let i = 0; ; i++) {
        try {
          rmdirSync(d);
          break;
        } catch {
          if (i >= 20) {
            left.push(d);
            break;
          }
          sleepSync(100);
        }
      }
    }
  }
  return left;
}

/** Mount points at or below any of `prefixes`, deepest first (from /proc/self/mountinfo). */
export function mountsUnder(prefixes: string[]): string[] {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  const points = text
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => prefixes.some((pre) => p === pre || p.startsWith(`${pre}/`)));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below `prefixes` (lazily when busy); returns what stayed mounted. */
export function unmountUnder(prefixes: string[]): string[] {
  for (let round = 0; round < 5; round++) {
    const points = mountsUnder(prefixes);
    if (points.length === 0) return [];
    for (const p of points) {
      if (spawnSync('umount', [p]).status !== 0) spawnSync('umount', ['-l', p]);
    }
  }
  return mountsUnder(prefixes);
}
