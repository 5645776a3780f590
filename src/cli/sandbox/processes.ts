/** Detached processes with pid and log files, free ports, and health polling. */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { KosmosError } from '../../common/errors.js';

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  logFile: string;
}

export function startDetached(spec: ProcessSpec): number {
  const fd = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...spec.env },
      cwd: spec.cwd,
    });
    if (child.pid === undefined) throw new KosmosError(`could not start ${spec.name} (${spec.command})`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export function isAlive(pid: number | undefined, commandHint?: string): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie or a recycled pid is not our process.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return false;
    if (commandHint) {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (!cmdline.includes(commandHint)) return false;
    }
  } catch {
    return false;
  }
  return true;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM the process group, then SIGKILL whatever is left after `graceMs`. */
export async function stopProcess(pid: number, commandHint?: string, graceMs = 10_000): Promise<void> {
  if (!isAlive(pid, commandHint)) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await sleep(100);
  }
  signal('SIGKILL');
  const killDeadline = Date.now() + 5_000;
  while (Date.now() < killDeadline && isAlive(pid)) await sleep(50);
}

export { freePort } from '../../common/ports.js';

export async function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return await new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(true));
    srv.listen(port, host, () => srv.close(() => resolve(false)));
  });
}

export interface HealthProbe {
  url: string;
  /** PEM material for HTTPS probes that need client certificates. */
  ca?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
}

export async function probe(h: HealthProbe, timeoutMs = 2_000): Promise<boolean> {
  if (h.url.startsWith('unix://')) {
    return await new Promise((resolve) => {
      const s = net.connect(h.url.slice('unix://'.length));
      s.setTimeout(timeoutMs, () => (s.destroy(), resolve(false)));
      s.on('connect', () => (s.end(), resolve(true)));
      s.on('error', () => resolve(false));
    });
  }
  if (h.url.startsWith('pid://')) return true; // alive is healthy (the supervisor)
  if (h.url.startsWith('tcp://')) {
    const u = new URL(h.url);
    return await new Promise((resolve) => {
      const s = net.connect(Number(u.port), u.hostname);
      s.setTimeout(timeoutMs, () => (s.destroy(), resolve(false)));
      s.on('connect', () => (s.end(), resolve(true)));
      s.on('error', () => resolve(false));
    });
  }
  const mod = h.url.startsWith('https:') ? https : http;
  return await new Promise((resolve) => {
    const req = mod.get(
      h.url,
      {
        timeout: timeoutMs,
        ...(h.url.startsWith('https:')
          ? { ca: h.ca, cert: h.cert, key: h.key, rejectUnauthorized: !h.insecure, agent: false }
          : {}),
      },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 300);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export function tailFile(path: string, lines = 15): string {
  if (!existsSync(path)) return '(no log)';
  const text = readFileSync(path, 'utf8').trimEnd().split('\n');
  return text.slice(-lines).join('\n');
}

/** Waits until `h` answers, failing early with the log tail when the process exits. */
export async function waitHealthy(
  name: string,
  h: HealthProbe,
  pid: number,
  logFile: string,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe(h)) return;
    if (!isAlive(pid)) {
      throw new KosmosError(
        `${name} exited during start-up; last lines of ${logFile}:\n${tailFile(logFile)}`,
      );
    }
    await sleep(250);
  }
  throw new KosmosError(
    `${name} not healthy after ${timeoutMs / 1000}s at ${h.url}; last lines of ${logFile}:\n${tailFile(logFile)}`,
  );
}
