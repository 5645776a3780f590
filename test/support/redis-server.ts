/**
 * A real redis-server for a test file: REDIS_URL when set, otherwise a private one on a free
 * loopback port (no persistence), stopped by stop(). Each test still works under its own
 * random key prefix (see randomPrefix) and removes its keys afterwards.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { freePort } from '../../src/common/ports.js';

export interface TestRedis {
  url: string;
  port: number;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Kills it at once (SIGKILL), as a crash would, and waits for it to exit. */
  kill(): Promise<void>;
}

/**
 * `port`: a fixed port (to restart a killed server where its clients reconnect); `own`:
 * always start one, even when REDIS_URL names a shared server (a test that kills it).
 */
export async function startRedis(opts: { port?: number; own?: boolean } = {}): Promise<TestRedis> {
  const fromEnv = process.env['REDIS_URL'];
  if (fromEnv && !opts.own) {
    const none = async () => undefined;
    return { url: fromEnv, port: Number(new URL(fromEnv).port || 6379), stop: none, kill: none };
  }
  const port = opts.port ?? (await freePort());
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  await untilAccepting(url);
  const end = (signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  return { url, port, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') };
}

async function untilAccepting(url: string): Promise<void> {
  for (let i = 0; ; i++) {
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.quit();
      return;
    } catch (err) {
      probe.disconnect();
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A fresh key prefix, so tests sharing one Redis never see each other's keys. */
export const randomPrefix = (): string => `test:${randomBytes(6).toString('hex')}`;

/** Deletes every key under `prefix`. */
export async function dropKeys(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
}
