/**
 * HoldStore in Redis: one hash (holder → JSON entry) and one version counter; every change
 * is one Lua script that prunes expired entries by the Redis clock first.
 */
import { Redis } from 'ioredis';
import type { HoldPlacement } from '../fit-index/fit-index.js';
import type { HolderEntry, HoldSnapshot, HoldStore } from './hold-store.js';

const PRUNE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local dropped = 0
for i = 1, #all, 2 do
  local e = cjson.decode(all[i + 1])
  if tonumber(e.expiresAt) <= now then
    redis.call('HDEL', KEYS[1], all[i])
    dropped = dropped + 1
  end
end
if dropped > 0 then redis.call('INCR', KEYS[2]) end
`;

const VERSION = `${PRUNE}
return tonumber(redis.call('GET', KEYS[2]) or '0')
`;

const SNAPSHOT = `${PRUNE}
return { tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('HVALS', KEYS[1]) }
`;

/** ARGV: expected version, holder, holds JSON array, ttlMs. Returns the new version or -1. */
const REPLACE = `${PRUNE}
if tonumber(redis.call('GET', KEYS[2]) or '0') ~= tonumber(ARGV[1]) then return -1 end
if ARGV[3] == '[]' then
  redis.call('HDEL', KEYS[1], ARGV[2])
else
  redis.call('HSET', KEYS[1], ARGV[2], '{"holder":' .. cjson.encode(ARGV[2]) .. ',"expiresAt":' .. string.format('%d', now + tonumber(ARGV[4])) .. ',"holds":' .. ARGV[3] .. '}')
end
return redis.call('INCR', KEYS[2])
`;

/** ARGV: holder, cluster, ttlMs. */
const NARROW = `${PRUNE}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return tonumber(redis.call('GET', KEYS[2]) or '0') end
local e = cjson.decode(raw)
local kept = {}
for _, h in ipairs(e.holds) do
  if h.cluster == ARGV[2] then table.insert(kept, h) end
end
if #kept == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  e.holds = kept
  e.expiresAt = now + tonumber(ARGV[3])
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(e))
end
return redis.call('INCR', KEYS[2])
`;

/** ARGV: holder. */
const DROP = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then return redis.call('INCR', KEYS[2]) end
return tonumber(redis.call('GET', KEYS[2]) or '0')
`;

type HoldRedis = Redis & {
  kosmosHoldVersion(h: string, v: string): Promise<number>;
  kosmosHoldSnapshot(h: string, v: string): Promise<[number, string[]]>;
  kosmosHoldReplace(
    h: string,
    v: string,
    expected: number,
    holder: string,
    json: string,
    ttl: number,
  ): Promise<number>;
  kosmosHoldNarrow(h: string, v: string, holder: string, cluster: string, ttl: number): Promise<number>;
  kosmosHoldDrop(h: string, v: string, holder: string): Promise<number>;
};

export class RedisHoldStore implements HoldStore {
  private readonly redis: HoldRedis;
  private readonly keys: [string, string];
  private readonly ownsClient: boolean;

  constructor(options: { url?: string; prefix?: string; client?: Redis; commandTimeoutMs?: number }) {
    const prefix = options.prefix ?? 'kosmos:extender:';
    // One hash tag: both keys in one slot, so the scripts stay single-slot on a cluster.
    this.keys = [`${prefix}{holds}:entries`, `${prefix}{holds}:version`];
    this.ownsClient = !options.client;
    const redis =
      options.client ??
      new Redis(options.url ?? 'redis://127.0.0.1:6379', {
        maxRetriesPerRequest: 2,
        commandTimeout: options.commandTimeoutMs ?? 1_000,
      });
    redis.defineCommand('kosmosHoldVersion', { numberOfKeys: 2, lua: VERSION });
    redis.defineCommand('kosmosHoldSnapshot', { numberOfKeys: 2, lua: SNAPSHOT });
    redis.defineCommand('kosmosHoldReplace', { numberOfKeys: 2, lua: REPLACE });
    redis.defineCommand('kosmosHoldNarrow', { numberOfKeys: 2, lua: NARROW });
    redis.defineCommand('kosmosHoldDrop', { numberOfKeys: 2, lua: DROP });
    this.redis = redis as HoldRedis;
  }

  async version(): Promise<number> {
    return Number(await this.redis.kosmosHoldVersion(...this.keys));
  }

  async snapshot(): Promise<HoldSnapshot> {
    const [v, raw] = await this.redis.kosmosHoldSnapshot(...this.keys);
    return { version: Number(v), entries: raw.map((s) => JSON.parse(s) as HolderEntry) };
  }

  async replace(
    holder: string,
    holds: readonly HoldPlacement[],
    ttlMs: number,
    expected: number,
  ): Promise<number | undefined> {
    const v = Number(
      await this.redis.kosmosHoldReplace(...this.keys, expected, holder, JSON.stringify(holds), ttlMs),
    );
    return v < 0 ? undefined : v;
  }

  async narrow(holder: string, cluster: string, ttlMs: number): Promise<number> {
    return Number(await this.redis.kosmosHoldNarrow(...this.keys, holder, cluster, ttlMs));
  }

  async drop(holder: string): Promise<number> {
    return Number(await this.redis.kosmosHoldDrop(...this.keys, holder));
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.redis.quit();
  }
}
