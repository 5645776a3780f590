/**
 * Redis, the same way for every component: one client factory (one option set, its few
 * per-use differences spelled out), one key builder under a configurable prefix (as BullMQ's
 * QueueKeys builds every key of a queue), and one registration helper for Lua scripts, each
 * script opening with a header that lists its KEYS, ARGV and return value (as BullMQ's
 * script files do). The header is generated from the declaration the helper also checks
 * every call against, so it cannot drift from what the script is given.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { KosmosError } from './errors.js';

/** Reconnects wait this much longer per attempt... */
export const RECONNECT_STEP_MS = 200;
/** ...up to this, forever: a restarted Redis is picked up again without restarting the process. */
export const RECONNECT_MAX_MS = 2_000;
/** A Redis that does not accept the connection within this is down, not slow. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** A command on a request's path (the extender's filter) fails well inside kube-scheduler's httpTimeout. */
export const REQUEST_COMMAND_TIMEOUT_MS = 1_000;

/**
 * What a client is for:
 * - `request`: commands an HTTP request waits on: two retries, then a timeout, failing fast.
 * - `background`: state a controller reads and writes: three retries across a reconnect.
 * - `queue`: a BullMQ connection: BullMQ requires maxRetriesPerRequest null, because its
 *   blocking commands must wait across reconnects rather than fail.
 * - `probe`: a one-shot check (kosmosctl status): connects on demand, no offline queue, no retry.
 */
export type RedisUse = 'request' | 'background' | 'queue' | 'probe';

export interface RedisClientOptions {
  /** Per-command timeout for `request` clients; default REQUEST_COMMAND_TIMEOUT_MS. */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Connection errors (ioredis reconnects by itself; each command fails with its own error). */
  onError?: (err: Error) => void;
}

export function redisOptions(use: RedisUse, opts: RedisClientOptions = {}): RedisOptions {
  const base: RedisOptions = {
    connectTimeout: opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(RECONNECT_STEP_MS * attempt, RECONNECT_MAX_MS),
  };
  switch (use) {
    case 'request':
      return {
        ...base,
        maxRetriesPerRequest: 2,
        commandTimeout: opts.commandTimeoutMs ?? REQUEST_COMMAND_TIMEOUT_MS,
      };
    case 'background':
      return { ...base, maxRetriesPerRequest: 3 };
    case 'queue':
      return { ...base, maxRetriesPerRequest: null };
    case 'probe':
      return {
        ...base,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
        retryStrategy: () => null,
      };
  }
}

/** A client for `use`. An 'error' listener is always attached: without one ioredis prints every reconnect. */
export function createRedis(url: string, use: RedisUse, opts: RedisClientOptions = {}): Redis {
  const redis = new Redis(url, redisOptions(use, opts));
  redis.on('error', opts.onError ?? (() => undefined));
  return redis;
}

/**
 * Every key of one deployment, `<prefix>:<part>:<part>`. A trailing `:` on the prefix is
 * dropped, so `kosmos:extender` and `kosmos:extender:` name the same keys.
 */
export class RedisKeys {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix.replace(/:+$/, '');
    if (!this.prefix) throw new KosmosError(`Redis key prefix ${JSON.stringify(prefix)} is empty`);
  }

  key(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  /** A key in the Redis Cluster slot of `tag`: the keys one script touches must share one. */
  tagged(tag: string, ...parts: string[]): string {
    return this.key(`{${tag}}`, ...parts);
  }
}

/** A Lua script as declared: what each KEYS and ARGV entry is and what it returns. */
export interface LuaScript {
  /** The command name it is registered under (unique per client). */
  name: string;
  /** One line: what it does. */
  doc: string;
  keys: readonly string[];
  args: readonly string[];
  /** What the arguments after `args` are, when it takes any number of them. */
  restArgs?: string;
  returns: string;
  /** The Lua source after the header. */
  body: string;
}

/** The script's source: the KEYS/ARGV/returns header, then its body. */
export function luaSource(s: LuaScript): string {
  const lines = [
    '--[[',
    `  ${s.doc}`,
    '  Input:',
    ...s.keys.map((k, i) => `    KEYS[${i + 1}] ${k}`),
    ...s.args.map((a, i) => `    ARGV[${i + 1}] ${a}`),
    ...(s.restArgs ? [`    ARGV[${s.args.length + 1}..] ${s.restArgs}`] : []),
    '  Output:',
    `    ${s.returns}`,
    ']]',
  ];
  return `${lines.join('\n')}\n${s.body.trim()}\n`;
}

type ScriptCommand = (...keysAndArgs: (string | number)[]) => Promise<unknown>;

/** Registers each script on `redis` (EVALSHA, loading it on first use). */
export function registerScripts(redis: Redis, scripts: readonly LuaScript[]): void {
  for (const s of scripts) {
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(s.name))
      throw new KosmosError(`Lua script name ${JSON.stringify(s.name)} must be letters and digits`);
    redis.defineCommand(s.name, { numberOfKeys: s.keys.length, lua: luaSource(s) });
  }
}

/** Runs a registered script; the number of keys and arguments must be what its header says. */
export async function runScript<R>(
  redis: Redis,
  s: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<R> {
  const argsFit = s.restArgs ? args.length >= s.args.length : args.length === s.args.length;
  if (keys.length !== s.keys.length || !argsFit)
    throw new KosmosError(
      `Lua script ${s.name}: takes ${s.keys.length} keys and ${s.args.length}${s.restArgs ? ' or more' : ''} arguments, got ${keys.length} and ${args.length}`,
    );
  const command = (redis as unknown as Record<string, ScriptCommand | undefined>)[s.name];
  if (typeof command !== 'function')
    throw new KosmosError(`Lua script ${s.name} is not registered on this client`);
  return (await command.call(redis, ...keys, ...args)) as R;
}
