/** Holds in Redis, shared by extender replicas (see RedisHoldStore). */
import type { Redis } from 'ioredis';
import { RedisKeys, createRedis, registerScripts, runScript, type LuaScript } from '../../common/redis.js';
import { EXTENDER_REDIS_PREFIX } from '../defaults.js';
import { ENTRY_KEYS, PRUNE_EXPIRED, snapshotScript } from './expiring-hash.js';
import type { HoldPlacement } from '../fit-index/fit-index.js';
import type { HolderEntry, HoldSnapshot, HoldStore } from './hold-store.js';

const VERSION: LuaScript = {
  name: 'kosmosHoldVersion',
  doc: 'The version of the holds, expired ones pruned first.',
  keys: ENTRY_KEYS,
  args: [],
  returns: 'version',
  body: `${PRUNE_EXPIRED}
return tonumber(redis.call('GET', KEYS[2]) or '0')`,
};

const SNAPSHOT = snapshotScript('kosmosHoldSnapshot', 'Every live hold, expired ones pruned first.');

const REPLACE: LuaScript = {
  name: 'kosmosHoldReplace',
  doc: "Replaces a holder's holds (none: drops it), if nothing changed since the version it read.",
  keys: ENTRY_KEYS,
  args: ['expected version', 'holder', 'holds: JSON array', 'ttl in ms'],
  returns: 'the new version, or -1 when the version moved',
  body: `${PRUNE_EXPIRED}
if tonumber(redis.call('GET', KEYS[2]) or '0') ~= tonumber(ARGV[1]) then return -1 end
if ARGV[3] == '[]' then
  redis.call('HDEL', KEYS[1], ARGV[2])
else
  redis.call('HSET', KEYS[1], ARGV[2], '{"holder":' .. cjson.encode(ARGV[2]) .. ',"expiresAt":' .. string.format('%d', now + tonumber(ARGV[4])) .. ',"holds":' .. ARGV[3] .. '}')
end
return redis.call('INCR', KEYS[2])`,
};

const NARROW: LuaScript = {
  name: 'kosmosHoldNarrow',
  doc: "Keeps only a holder's holds in one cluster (the one it was bound to) and extends them.",
  keys: ENTRY_KEYS,
  args: ['holder', 'cluster', 'ttl in ms'],
  returns: 'the version after the change',
  body: `${PRUNE_EXPIRED}
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
return redis.call('INCR', KEYS[2])`,
};

const DROP: LuaScript = {
  name: 'kosmosHoldDrop',
  doc: "Drops a holder's holds.",
  keys: ENTRY_KEYS,
  args: ['holder'],
  returns: 'the version after the change',
  body: `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then return redis.call('INCR', KEYS[2]) end
return tonumber(redis.call('GET', KEYS[2]) or '0')`,
};

export const HOLD_SCRIPTS = [VERSION, SNAPSHOT, REPLACE, NARROW, DROP] as const;

/**
 * HoldStore in Redis: one hash (holder → JSON entry) and one version counter; every change
 * is one Lua script that prunes expired entries by the Redis clock first.
 */
export class RedisHoldStore implements HoldStore {
  private readonly redis: Redis;
  private readonly keys: [string, string];
  private readonly ownsClient: boolean;

  constructor(options: { url?: string; prefix?: string; client?: Redis; commandTimeoutMs?: number }) {
    const keys = new RedisKeys(options.prefix ?? EXTENDER_REDIS_PREFIX);
    // One hash tag: both keys in one slot, so the scripts stay single-slot on a cluster.
    this.keys = [keys.tagged('holds', 'entries'), keys.tagged('holds', 'version')];
    this.ownsClient = !options.client;
    this.redis =
      options.client ??
      createRedis(options.url ?? 'redis://127.0.0.1:6379', 'request', {
        ...(options.commandTimeoutMs !== undefined ? { commandTimeoutMs: options.commandTimeoutMs } : {}),
      });
    registerScripts(this.redis, HOLD_SCRIPTS);
  }

  async version(): Promise<number> {
    return Number(await runScript(this.redis, VERSION, this.keys, []));
  }

  async snapshot(): Promise<HoldSnapshot> {
    const [v, raw] = await runScript<[number, string[]]>(this.redis, SNAPSHOT, this.keys, []);
    return { version: Number(v), entries: raw.map((s) => JSON.parse(s) as HolderEntry) };
  }

  async replace(
    holder: string,
    holds: readonly HoldPlacement[],
    ttlMs: number,
    expected: number,
  ): Promise<number | undefined> {
    const v = Number(
      await runScript(this.redis, REPLACE, this.keys, [expected, holder, JSON.stringify(holds), ttlMs]),
    );
    return v < 0 ? undefined : v;
  }

  async narrow(holder: string, cluster: string, ttlMs: number): Promise<number> {
    return Number(await runScript(this.redis, NARROW, this.keys, [holder, cluster, ttlMs]));
  }

  async drop(holder: string): Promise<number> {
    return Number(await runScript(this.redis, DROP, this.keys, [holder]));
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.redis.quit();
  }
}
