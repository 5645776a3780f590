/**
 * Reservations in Redis, shared by extender replicas. Per policy, one hash (uid → JSON
 * entry) and one version counter, both under a hash tag so they live in one slot. Every
 * state change is a single Lua script (BullMQ style): expiry pruning, the version check and
 * the write happen atomically, with the Redis server clock as the only clock.
 */
import { Redis } from 'ioredis';
import type { DomainReservation, ReservationSnapshot, ReservationStore } from './store.js';

/** Drops expired fields; returns nothing. KEYS: hash, version. ARGV: now. */
const PRUNE = `
local function prune(hash, version, now)
  local all = redis.call('HGETALL', hash)
  local dropped = 0
  for i = 1, #all, 2 do
    local e = cjson.decode(all[i + 1])
    if tonumber(e.expiresAt) <= now then
      redis.call('HDEL', hash, all[i])
      dropped = dropped + 1
    end
  end
  if dropped > 0 then redis.call('INCR', version) end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

const SNAPSHOT = `${PRUNE}
prune(KEYS[1], KEYS[2], now)
return { tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('HVALS', KEYS[1]) }
`;

/** ARGV: expectedVersion, uid, domain, ttlMs. Returns 1 on success, 0 on a version conflict. */
const RESERVE = `${PRUNE}
prune(KEYS[1], KEYS[2], now)
local version = tonumber(redis.call('GET', KEYS[2]) or '0')
if version ~= tonumber(ARGV[1]) then return 0 end
local expiresAt = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[2], cjson.encode({ uid = ARGV[2], domain = ARGV[3], expiresAt = expiresAt }))
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]) * 4)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]) * 4)
return 1
`;

/** ARGV: uid, node, ttlMs. */
const CONFIRM = `${PRUNE}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local e = cjson.decode(raw)
e.node = ARGV[2]
e.expiresAt = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(e))
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 4)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]) * 4)
return 1
`;

/** ARGV: uid. */
const RELEASE = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then redis.call('INCR', KEYS[2]) end
return 1
`;

type ScriptRedis = Redis & {
  kosmosSnapshot(hash: string, version: string): Promise<[number, string[]]>;
  kosmosReserve(
    hash: string,
    version: string,
    expected: number,
    uid: string,
    domain: string,
    ttl: number,
  ): Promise<number>;
  kosmosConfirm(hash: string, version: string, uid: string, node: string, ttl: number): Promise<number>;
  kosmosRelease(hash: string, version: string, uid: string): Promise<number>;
};

export interface RedisStoreOptions {
  url?: string;
  /** Namespace for every key, so several installations (or tests) share one Redis. */
  prefix?: string;
  client?: Redis;
  /** Per-command timeout; default 1 s. */
  commandTimeoutMs?: number;
}

export class RedisReservationStore implements ReservationStore {
  private readonly redis: ScriptRedis;
  private readonly prefix: string;
  private readonly ownsClient: boolean;

  constructor(options: RedisStoreOptions) {
    this.prefix = options.prefix ?? 'kosmos:extender:';
    this.ownsClient = !options.client;
    const redis =
      options.client ??
      new Redis(options.url ?? 'redis://127.0.0.1:6379', {
        maxRetriesPerRequest: 2,
        // A filter waits on Redis; it must fail fast, well inside the scheduler's httpTimeout.
        commandTimeout: options.commandTimeoutMs ?? 1_000,
      });
    redis.defineCommand('kosmosSnapshot', { numberOfKeys: 2, lua: SNAPSHOT });
    redis.defineCommand('kosmosReserve', { numberOfKeys: 2, lua: RESERVE });
    redis.defineCommand('kosmosConfirm', { numberOfKeys: 2, lua: CONFIRM });
    redis.defineCommand('kosmosRelease', { numberOfKeys: 2, lua: RELEASE });
    this.redis = redis as ScriptRedis;
  }

  private keys(policyKey: string): [string, string] {
    return [`${this.prefix}wlp:{${policyKey}}:entries`, `${this.prefix}wlp:{${policyKey}}:version`];
  }

  async snapshot(policyKey: string): Promise<ReservationSnapshot> {
    const [hash, version] = this.keys(policyKey);
    const [v, raw] = await this.redis.kosmosSnapshot(hash, version);
    return { version: Number(v), entries: raw.map((s) => JSON.parse(s) as DomainReservation) };
  }

  async reserve(
    policyKey: string,
    expectedVersion: number,
    uid: string,
    domain: string,
    ttlMs: number,
  ): Promise<boolean> {
    const [hash, version] = this.keys(policyKey);
    return (await this.redis.kosmosReserve(hash, version, expectedVersion, uid, domain, ttlMs)) === 1;
  }

  async confirm(policyKey: string, uid: string, node: string, ttlMs: number): Promise<void> {
    const [hash, version] = this.keys(policyKey);
    await this.redis.kosmosConfirm(hash, version, uid, node, ttlMs);
  }

  async release(policyKey: string, uid: string): Promise<void> {
    const [hash, version] = this.keys(policyKey);
    await this.redis.kosmosRelease(hash, version, uid);
  }

  async ping(): Promise<boolean> {
    return (await this.redis.ping()) === 'PONG';
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.redis.quit();
  }
}
