import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  freePort,
  isAlive,
  portInUse,
  startDetached,
  stopProcess,
  waitHealthy,
} from '../../../src/cli/sandbox/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'kosmos-proc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sandbox processes', () => {
  it('a component that exits during start-up fails with the tail of its log', async () => {
    const logFile = join(dir, 'boom.log');
    const pid = startDetached({
      name: 'boom',
      command: 'bash',
      args: ['-c', 'echo "listen tcp 127.0.0.1:1: bind: permission denied"; exit 3'],
      logFile,
    });
    await expect(waitHealthy('boom', { url: 'tcp://127.0.0.1:1' }, pid, logFile, 10_000)).rejects.toThrow(
      /boom exited during start-up; last lines of .*boom\.log:\nlisten tcp 127\.0\.0\.1:1: bind: permission denied/,
    );
  });

  it('stopProcess ends the whole process group, children included', async () => {
    const logFile = join(dir, 'tree.log');
    const pid = startDetached({
      name: 'tree',
      command: 'bash',
      args: ['-c', 'sleep 300 & echo $! ; wait'],
      logFile,
    });
    await new Promise((r) => setTimeout(r, 300));
    const { readFileSync } = await import('node:fs');
    const child = Number(readFileSync(logFile, 'utf8').trim());
    expect(isAlive(child)).toBe(true);
    await stopProcess(pid, undefined, 2_000);
    expect(isAlive(pid)).toBe(false);
    expect(isAlive(child)).toBe(false);
  });

  it('tells a port in use from a free one', async () => {
    const port = await freePort();
    expect(await portInUse(port)).toBe(false);
    const srv = net.createServer().listen(port, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    try {
      expect(await portInUse(port)).toBe(true);
    } finally {
      srv.close();
    }
  });
});
