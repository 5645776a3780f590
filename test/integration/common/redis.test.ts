/**
 * Lua script registration against a real redis-server (test/support/redis-server.ts): a
 * registered script runs by its name with its header in the source Redis holds, and a call
 * with a different number of keys or arguments than its header declares never reaches Redis.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  RedisKeys,
  createRedis,
  luaSource,
  registerScripts,
  runScript,
  type LuaScript,
} from '../../../src/common/redis.js';
import { type TestRedis, dropKeys, randomPrefix, startRedis } from '../../support/redis-server.js';

const SET_IF_VERSION: LuaScript = {
  name: 'kosmosTestSetIfVersion',
  doc: 'Sets a field and moves the version, if the version is the expected one.',
  keys: ['entries hash', 'version counter'],
  args: ['expected version', 'field', 'value'],
  returns: 'the new version, or -1 when the version moved',
  body: `
if tonumber(redis.call('GET', KEYS[2]) or '0') ~= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return redis.call('INCR', KEYS[2])`,
};

let server: TestRedis | undefined;
let redis: Redis;
let keys: RedisKeys;

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});
beforeEach(() => {
  redis = createRedis(server!.url, 'request');
  keys = new RedisKeys(randomPrefix());
});
afterEach(async () => {
  await dropKeys(redis, `${keys.prefix}:`);
  await redis.quit();
});

describe('Lua scripts registered through the one helper (real Redis)', () => {
  it('GIVEN a registered script WHEN it runs twice on the same version THEN the first write wins and the second is refused', async () => {
    registerScripts(redis, [SET_IF_VERSION]);
    const k = [keys.tagged('t', 'entries'), keys.tagged('t', 'version')];
    expect(await runScript<number>(redis, SET_IF_VERSION, k, [0, 'a', 'one'])).toBe(1);
    expect(await runScript<number>(redis, SET_IF_VERSION, k, [0, 'a', 'two'])).toBe(-1);
    expect(await redis.hgetall(k[0]!)).toEqual({ a: 'one' });
  });

  it('GIVEN a registered script THEN the source Redis runs is the declared one, opening with its KEYS/ARGV/returns header', async () => {
    registerScripts(redis, [SET_IF_VERSION]);
    const k = [keys.tagged('t', 'entries'), keys.tagged('t', 'version')];
    await runScript(redis, SET_IF_VERSION, k, [0, 'a', 'one']);
    const source = luaSource(SET_IF_VERSION);
    // Redis keys its script cache by the SHA1 of the source: this one is what ran.
    expect(await redis.script('EXISTS', createHash('sha1').update(source).digest('hex'))).toEqual([1]);
    expect(source.split('\n').slice(0, 10)).toEqual([
      '--[[',
      '  Sets a field and moves the version, if the version is the expected one.',
      '  Input:',
      '    KEYS[1] entries hash',
      '    KEYS[2] version counter',
      '    ARGV[1] expected version',
      '    ARGV[2] field',
      '    ARGV[3] value',
      '  Output:',
      '    the new version, or -1 when the version moved',
    ]);
  });

  it('GIVEN a call with fewer arguments than the header declares THEN it is refused before reaching Redis', async () => {
    registerScripts(redis, [SET_IF_VERSION]);
    const k = [keys.tagged('t', 'entries'), keys.tagged('t', 'version')];
    await expect(runScript(redis, SET_IF_VERSION, k, [0, 'a'])).rejects.toThrow(
      'Lua script kosmosTestSetIfVersion: takes 2 keys and 3 arguments, got 2 and 2',
    );
    await expect(runScript(redis, SET_IF_VERSION, k.slice(0, 1), [0, 'a', 'b'])).rejects.toThrow(
      'got 1 and 3',
    );
    expect(await redis.exists(k[0]!, k[1]!)).toBe(0);
  });

  it('GIVEN a script never registered on the client THEN running it says so', async () => {
    const k = [keys.tagged('t', 'entries'), keys.tagged('t', 'version')];
    await expect(runScript(redis, SET_IF_VERSION, k, [0, 'a', 'b'])).rejects.toThrow(
      'Lua script kosmosTestSetIfVersion is not registered on this client',
    );
  });

  it('GIVEN a script name that is not a valid command name THEN registration refuses it', () => {
    expect(() => registerScripts(redis, [{ ...SET_IF_VERSION, name: 'kosmos:bad' }])).toThrow(
      'must be letters and digits',
    );
  });
});
