/**
 * The Redis layout both extender stores share: a hash of JSON entries, each with an
 * `expiresAt` in ms, and a version counter that every change moves (KEYS[1] and KEYS[2] of
 * each of their scripts). Expiry is decided by the Redis clock only, so replicas with
 * skewed clocks agree.
 */
import type { LuaScript } from '../../common/redis.js';

export const ENTRY_KEYS = ['entries: hash of JSON entries', 'version: counter, moved by every change'];

/** Lua: `now`, in ms, from the Redis clock. */
export const REDIS_NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** Lua: `now`, then drops expired entries, moving the version when it drops any. */
export const PRUNE_EXPIRED = `${REDIS_NOW}
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

/** A script returning the version and every live entry, expired ones pruned first. */
export const snapshotScript = (name: string, doc: string): LuaScript => ({
  name,
  doc,
  keys: ENTRY_KEYS,
  args: [],
  returns: '{ version, { entry JSON, ... } }',
  body: `${PRUNE_EXPIRED}
return { tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('HVALS', KEYS[1]) }`,
});
