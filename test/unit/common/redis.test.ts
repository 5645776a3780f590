/** Redis keys under one prefix, script headers, and the client options per use. */
import { describe, expect, it } from 'vitest';
import {
  CONNECT_TIMEOUT_MS,
  REQUEST_COMMAND_TIMEOUT_MS,
  RedisKeys,
  luaSource,
  redisOptions,
  type LuaScript,
} from '../../../src/common/redis.js';
import { EXTENDER_REDIS_PREFIX } from '../../../src/extender/defaults.js';

describe('Redis keys', () => {
  it.each([
    ['kosmos:extender', ['wlp', '{ns/p}', 'entries'], 'kosmos:extender:wlp:{ns/p}:entries'],
    ['kosmos:extender:', ['wlp', '{ns/p}', 'entries'], 'kosmos:extender:wlp:{ns/p}:entries'],
    ['kosmos:clusterlink', ['lease', 'c'], 'kosmos:clusterlink:lease:c'],
    ['team-a::', ['events'], 'team-a:events'],
  ])('GIVEN prefix %j THEN the parts %j make %s', (prefix, parts, key) => {
    expect(new RedisKeys(prefix).key(...parts)).toBe(key);
  });

  it('GIVEN a hash tag THEN the key carries it, so the keys one script touches share a cluster slot', () => {
    const keys = new RedisKeys('kosmos:extender:');
    expect([keys.tagged('holds', 'entries'), keys.tagged('holds', 'version')]).toEqual([
      'kosmos:extender:{holds}:entries',
      'kosmos:extender:{holds}:version',
    ]);
  });

  it('GIVEN an empty prefix THEN it is refused: every key of a deployment lives under one', () => {
    expect(() => new RedisKeys('')).toThrow('Redis key prefix "" is empty');
    expect(() => new RedisKeys(':')).toThrow('is empty');
  });

  it('the extender default prefix keeps the keys earlier releases wrote', () => {
    expect(new RedisKeys(EXTENDER_REDIS_PREFIX).key('wlp', '{ns/p}', 'version')).toBe(
      'kosmos:extender:wlp:{ns/p}:version',
    );
  });
});

describe('Lua script headers', () => {
  const script: LuaScript = {
    name: 'kosmosExample',
    doc: 'Sets a field if the version matches.',
    keys: ['entries hash', 'version counter'],
    args: ['expected version', 'field'],
    returns: '1 set, 0 version moved',
    body: '\nreturn 1\n',
  };

  it('GIVEN a declared script THEN its source opens with its KEYS, ARGV and return value, then the body', () => {
    expect(luaSource(script)).toBe(
      [
        '--[[',
        '  Sets a field if the version matches.',
        '  Input:',
        '    KEYS[1] entries hash',
        '    KEYS[2] version counter',
        '    ARGV[1] expected version',
        '    ARGV[2] field',
        '  Output:',
        '    1 set, 0 version moved',
        ']]',
        'return 1',
        '',
      ].join('\n'),
    );
  });
});

describe('Redis client options, one set with its per-use differences', () => {
  it.each([
    ['queue', { maxRetriesPerRequest: null }],
    ['request', { maxRetriesPerRequest: 2, commandTimeout: REQUEST_COMMAND_TIMEOUT_MS }],
    ['background', { maxRetriesPerRequest: 3 }],
    ['probe', { maxRetriesPerRequest: 0, lazyConnect: true, enableOfflineQueue: false }],
  ] as const)('a %s client gets %j', (use, want) => {
    const o = redisOptions(use);
    expect(o).toMatchObject({ ...want, connectTimeout: CONNECT_TIMEOUT_MS });
    if (use !== 'request') expect(o.commandTimeout).toBeUndefined();
  });

  it('every client but a probe reconnects forever, waiting longer each time up to a cap', () => {
    const retry = redisOptions('queue').retryStrategy!;
    const delays = [1, 2, 5, 50, 5000].map((n) => retry(n));
    expect(delays).toEqual([200, 400, 1000, 2000, 2000]);
    expect(redisOptions('probe').retryStrategy!(1)).toBeNull();
  });
});
