import { describe, expect, it } from 'vitest';
import { allocateIps, cidrContains, parseCidr } from '../../../src/mcs/derive/ip.js';

describe('clusterset IP allocation', () => {
  it('gives every service a distinct address inside the CIDR, never the network or broadcast address', () => {
    const cidr = parseCidr('172.31.0.0/29'); // 6 usable addresses
    const keys = ['a/1', 'a/2', 'a/3', 'a/4', 'a/5', 'a/6'];
    const ips = allocateIps(cidr, keys, new Map());
    expect(new Set(ips.values()).size).toBe(6);
    for (const ip of ips.values()) {
      expect(cidrContains(cidr, ip)).toBe(true);
      expect(['172.31.0.0', '172.31.0.7']).not.toContain(ip);
    }
  });

  it('is the same whatever the order the services are seen in', () => {
    const cidr = parseCidr('172.31.0.0/16');
    const a = allocateIps(cidr, ['x/a', 'y/b', 'z/c'], new Map());
    const b = allocateIps(cidr, ['z/c', 'x/a', 'y/b'], new Map());
    expect([...a].sort()).toEqual([...b].sort());
  });

  it('keeps an address already written to an import, and refuses a full CIDR with the service named', () => {
    const cidr = parseCidr('10.9.0.0/30'); // 2 usable
    expect(allocateIps(cidr, ['a/x'], new Map([['a/x', ['10.9.0.2']]])).get('a/x')).toBe('10.9.0.2');
    expect(() => allocateIps(cidr, ['a/x', 'a/y', 'a/z'], new Map())).toThrow(
      'clusterset CIDR 10.9.0.0/30 is full: cannot allocate a VIP for a/z',
    );
  });

  it('allocates IPv6 addresses in their shortest form', () => {
    const ip = allocateIps(parseCidr('fd00:31::/112'), ['a/x'], new Map()).get('a/x')!;
    expect(ip).toMatch(/^fd00:31::[0-9a-f]{1,4}$/);
  });

  it('GIVEN an IPv6 clusterset CIDR written with a dotted IPv4 tail THEN its VIPs lie inside it', () => {
    // The allocator's own parser read "10.0.0.0" as the hextet 0x10, allocating outside the CIDR.
    const cidr = parseCidr('::ffff:10.0.0.0/120');
    const ip = allocateIps(cidr, ['a/x'], new Map()).get('a/x')!;
    expect(ip).toMatch(/^::ffff:a00:[0-9a-f]{1,2}$/);
    expect(cidrContains(cidr, ip)).toBe(true);
    expect(cidrContains(cidr, '::ffff:10.0.0.9')).toBe(true);
  });

  it.each(['10.0.0.0', '10.0.0.0/31', 'nope/8', '::/127', '10.0.0.0/8/9'])(
    'GIVEN --clusterset-cidr %s THEN it is refused naming the flag and the value',
    (text) => {
      expect(() => parseCidr(text)).toThrow(
        `--clusterset-cidr: Invalid value: ${JSON.stringify(text)}: must be an IPv4 or IPv6 CIDR with room for at least 2 addresses`,
      );
    },
  );
});
