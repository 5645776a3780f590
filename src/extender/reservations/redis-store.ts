/**
 * Reservations in Redis, shared by extender replicas (see RedisReservationStore).
 */
import type { Redis } from 'ioredis';
import { RedisKeys, createRedis, registerScripts, runScript, type LuaScript } from '../../common/redis.js';
import { EXTENDER_REDIS_PREFIX } from '../defaults.js';
import { ENTRY_KEYS, PRUNE_EXPIRED, REDIS_NOW, snapshotScript } from './expiring-hash.js';
import type { DomainReservation, ReservationSnapshot, ReservationStore } from './store.js';

const SNAPSHOT = snapshotScript(
  'kosmosSnapshot',
  'The live reservations of one policy, expired ones pruned first.',
);

const RESERVE: LuaScript = {
  name: 'kosmosReserve',
  doc: 'Reserves a domain for a pod, if nothing changed since the snapshot it was decided on.',
  keys: ENTRY_KEYS,
  args: ['expected version', 'pod uid', 'domain', 'ttl in ms'],
  returns: '1 reserved, 0 the version moved (decide again)',
  body: `${PRUNE_EXPIRED}
local version = tonumber(redis.call('GET', KEYS[2]) or '0')
if version ~= tonumber(ARGV[1]) then return 0 end
local expiresAt = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[2], cjson.encode({ uid = ARGV[2], domain = ARGV[3], expiresAt = expiresAt }))
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]) * 4)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]) * 4)
return 1`,
};

const CONFIRM: LuaScript = {
  name: 'kosmosConfirm',
  doc: "After bind: notes the pod's node and extends its reservation so lagging informers still count it.",
  keys: ENTRY_KEYS,
  args: ['pod uid', 'node', 'ttl in ms'],
  returns: '1 confirmed, 0 no such reservation',
  body: `${REDIS_NOW}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local e = cjson.decode(raw)
e.node = ARGV[2]
e.expiresAt = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(e))
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 4)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]) * 4)
return 1`,
};

const RELEASE: LuaScript = {
  name: 'kosmosRelease',
  doc: "Drops a pod's reservation.",
  keys: ENTRY_KEYS,
  args: ['pod uid'],
  returns: '1',
  body: `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then redis.call('INCR', KEYS[2]) end
return 1`,
};

export const RESERVATION_SCRIPTS = [SNAPSHOT, RESERVE, CONFIRM, RELEASE] as const;

export interface RedisStoreOptions {
  url?: string;
  /** Namespace for every key, so several installations (or tests) share one Redis. */
  prefix?: string;
  client?: Redis;
  /** Per-command timeout; default 1 s. */
  commandTimeoutMs?: number;
}

/**
 * Reservations in Redis, shared by extender replicas. Per policy, one hash (uid → JSON
 * entry) and one version counter, both under a hash tag so they live in one slot. Every
 * state change is a single Lua script (BullMQ style): expiry pruning, the version check and
 * the write happen atomically, with the Redis server clock as the only clock.
 */
export class RedisReservationStore implements ReservationStore {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private readonly ownsClient: boolean;

  constructor(options: RedisStoreOptions) {
    this.keys = new RedisKeys(options.prefix ?? EXTENDER_REDIS_PREFIX);
    this.ownsClient = !options.client;
    this.redis =
      options.client ??
      createRedis(options.url ?? 'redis://127.0.0.1:6379', 'request', {
        ...(options.commandTimeoutMs !== undefined ? { commandTimeoutMs: options.commandTimeoutMs } : {}),
      });
    registerScripts(this.redis, RESERVATION_SCRIPTS);
  }

  private policyKeys(policyKey: string): [string, string] {
    return [
      this.keys.key('wlp', `{${policyKey}}`, 'entries'),
      this.keys.key('wlp', `{${policyKey}}`, 'version'),
    ];
  }

  async snapshot(policyKey: string): Promise<ReservationSnapshot> {
    const [v, raw] = await runScript<[number, string[]]>(
      this.redis,
      SNAPSHOT,
      this.policyKeys(policyKey),
      [],
    );
    return { version: Number(v), entries: raw.map((s) => JSON.parse(s) as DomainReservation) };
  }

  async reserve(
    policyKey: string,
    expectedVersion: number,
    uid: string,
    domain: string,
    ttlMs: number,
  ): Promise<boolean> {
    const args = [expectedVersion, uid, domain, ttlMs];
    return (await runScript<number>(this.redis, RESERVE, this.policyKeys(policyKey), args)) === 1;
  }

  async confirm(policyKey: string, uid: string, node: string, ttlMs: number): Promise<void> {
    await runScript(this.redis, CONFIRM, this.policyKeys(policyKey), [uid, node, ttlMs]);
  }

  async release(policyKey: string, uid: string): Promise<void> {
    await runScript(this.redis, RELEASE, this.policyKeys(policyKey), [uid]);
  }

  async ping(): Promise<boolean> {
    return (await this.redis.ping()) === 'PONG';
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.redis.quit();
  }
}
