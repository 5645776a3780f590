/**
 * The one IP/CIDR library: how each spelling parses and prints (as the kernel and iptables
 * print it), what it refuses and why, containment and overlap across families.
 */
import { describe, expect, it } from 'vitest';
import { formatFieldError } from '../../../src/api/field-errors.js';
import {
  checkCIDR,
  checkIP,
  cidrContains,
  cidrsEqual,
  cidrsOverlap,
  cidrProblem,
  familyName,
  firstHost,
  formatCIDR,
  formatIP,
  graft,
  ipProblem,
  normalizeCIDR,
  parseCIDR,
  parseIP,
  requireCIDR,
  requireIP,
} from '../../../src/common/ip.js';

const ip = (s: string) => {
  const p = parseIP(s);
  if (!p) throw new Error(`test fixture ${s} does not parse`);
  return p;
};
const cidr = (s: string) => {
  const c = parseCIDR(s);
  if (!c) throw new Error(`test fixture ${s} does not parse`);
  return c;
};

describe('IP addresses', () => {
  it.each([
    ['10.0.0.1', 4, '10.0.0.1'],
    ['0.0.0.0', 4, '0.0.0.0'],
    ['255.255.255.255', 4, '255.255.255.255'],
    ['::', 6, '::'],
    ['::1', 6, '::1'],
    ['fd00::1', 6, 'fd00::1'],
    // Non-canonical IPv6 spellings all print in the RFC 5952 form.
    ['FD00::1', 6, 'fd00::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', 6, '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', 6, '2001:db8::1:0:0:1'],
    ['0:0:0:0:0:0:0:1', 6, '::1'],
    ['1::', 6, '1::'],
    ['1:2:3:4:5:6:7::', 6, '1:2:3:4:5:6:7:0'],
    ['::ffff:10.0.0.1', 6, '::ffff:a00:1'],
    ['::10.0.0.1', 6, '::a00:1'],
    ['1:0:0:2:0:0:0:3', 6, '1:0:0:2::3'],
    ['1:0:0:2:0:0:3:4', 6, '1::2:0:0:3:4'],
  ] as const)('%s is IPv%d, printed %s', (text, family, printed) => {
    const p = ip(text);
    expect(p.family).toBe(family);
    expect(formatIP(p)).toBe(printed);
    expect(ipProblem(text)).toBeUndefined();
  });

  it('GIVEN two spellings of one IPv6 address THEN they parse to the same value', () => {
    expect(ip('2001:DB8::0:1').value).toBe(ip('2001:db8:0:0:0:0:0:1').value);
    expect(ip('::ffff:10.0.0.1').value).toBe(ip('::ffff:a00:1').value);
  });

  it.each([
    '',
    '10.0.0',
    '10.0.0.256',
    '010.0.0.1',
    '10.0.0.1/32',
    'fe80::1%eth0',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    '::ffff:10.0.0.256',
    'eth0',
    ' 10.0.0.1',
  ])('%j is not an IP address', (text) => {
    expect(parseIP(text)).toBeUndefined();
    expect(ipProblem(text)).toBe('must be an IPv4 or IPv6 address such as 10.0.0.1 or fd00::1');
  });

  it('GIVEN a bad address at a field THEN the error names the field and the value', () => {
    expect(formatFieldError(checkIP('spec.fdbs[0].ip', 'eth0')!)).toBe(
      'spec.fdbs[0].ip: Invalid value: "eth0": must be an IPv4 or IPv6 address such as 10.0.0.1 or fd00::1',
    );
    expect(checkIP('spec.fdbs[0].ip', '10.0.0.1')).toBeUndefined();
    expect(() => requireIP('--node-ip', 'eth0')).toThrow('--node-ip: Invalid value: "eth0"');
    expect(formatIP(requireIP('--node-ip', '10.0.0.1'))).toBe('10.0.0.1');
  });

  it('names the families as the Kubernetes API does', () => {
    expect([familyName(4), familyName(6)]).toEqual(['IPv4', 'IPv6']);
  });
});

describe('CIDRs', () => {
  it.each([
    ['10.237.6.0/18', '10.237.0.0/18'],
    ['10.0.0.1/32', '10.0.0.1/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2409:7c85:6200:0:0:0:a0e:1702/64', '2409:7c85:6200::/64'],
    ['FD00:0:0:1::/64', 'fd00:0:0:1::/64'],
    ['::ffff:10.0.0.0/120', '::ffff:a00:0/120'],
    ['::/0', '::/0'],
    ['fd00::1/128', 'fd00::1/128'],
  ])('%s is normalized to %s', (input, want) => {
    expect(normalizeCIDR(input)).toBe(want);
    expect(formatCIDR(cidr(input))).toBe(want);
  });

  it.each([
    ['10.0.0.0', 'must be a CIDR such as 10.0.0.0/16 or fd00::/64'],
    ['nonsense/8', 'must be a CIDR such as 10.0.0.0/16 or fd00::/64'],
    ['10.0.0.256/8', 'must be a CIDR such as 10.0.0.0/16 or fd00::/64'],
    ['fe80::%eth0/64', 'must be a CIDR such as 10.0.0.0/16 or fd00::/64'],
    ['10.0.0.0/x', 'prefix length must be a decimal number'],
    ['10.0.0.0/', 'prefix length must be a decimal number'],
    ['10.0.0.0/8/9', 'prefix length must be a decimal number'],
    ['10.0.0.0/-1', 'prefix length must be a decimal number'],
    ['10.0.0.0/33', 'prefix length must be at most 32 for an IPv4 CIDR'],
    ['fd00::/129', 'prefix length must be at most 128 for an IPv6 CIDR'],
  ])('%s is refused: %s', (text, reason) => {
    expect(parseCIDR(text)).toBeUndefined();
    expect(normalizeCIDR(text)).toBeUndefined();
    expect(cidrProblem(text)).toBe(reason);
  });

  it('GIVEN a bad CIDR at a field THEN the error names the field, the value and the reason', () => {
    expect(formatFieldError(checkCIDR('spec.routes[0].cidr', '10.0.0.0/33')!)).toBe(
      'spec.routes[0].cidr: Invalid value: "10.0.0.0/33": prefix length must be at most 32 for an IPv4 CIDR',
    );
    expect(checkCIDR('spec.routes[0].cidr', '10.0.0.0/8')).toBeUndefined();
    expect(() => requireCIDR('--pod-cidr', '10.0.0.0')).toThrow(
      '--pod-cidr: Invalid value: "10.0.0.0": must be a CIDR such as 10.0.0.0/16 or fd00::/64',
    );
  });

  it.each([
    ['10.0.0.0/8', '10.1.0.0/16', true],
    ['10.0.0.0/8', '10.0.0.0/8', true],
    ['10.1.0.0/16', '10.0.0.0/8', false],
    ['10.0.0.0/16', '10.1.0.0/16', false],
    ['0.0.0.0/0', '192.168.1.0/24', true],
    ['fd00::/64', 'fd00::1/128', true],
    ['fd00::/64', 'fd00:0:0:1::/64', false],
    ['::ffff:10.0.0.0/120', '::ffff:10.0.0.7/128', true],
    ['::/0', '10.0.0.0/8', false],
    ['0.0.0.0/0', 'fd00::/8', false],
  ])('%s contains %s: %s', (outer, inner, want) => {
    expect(cidrContains(cidr(outer), cidr(inner))).toBe(want);
  });

  it.each([
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['fd00::/64', 'FD00::ABCD', true],
    ['fd00::/64', 'fd00:0:0:1::', false],
    ['::ffff:0.0.0.0/96', '10.0.0.1', false],
  ])('%s contains the address %s: %s', (outer, addr, want) => {
    expect(cidrContains(cidr(outer), ip(addr))).toBe(want);
  });

  it.each([
    ['10.0.0.0/8', '10.1.0.0/16', true],
    ['10.1.0.0/16', '10.0.0.0/8', true],
    ['10.0.0.0/16', '10.1.0.0/16', false],
    ['10.0.0.0/24', '10.0.0.128/25', true],
    ['10.0.0.0/25', '10.0.0.128/25', false],
    ['fd00::/64', 'fd00::1/128', true],
    ['fd00::/64', 'fd00:0:0:1::/64', false],
    ['::ffff:10.0.0.0/120', '::ffff:10.0.0.7/128', true],
    ['10.0.0.0/8', 'fd00::/8', false],
    ['0.0.0.0/0', '::/0', false],
  ])('%s and %s overlap: %s', (a, b, want) => {
    expect(cidrsOverlap(cidr(a), cidr(b))).toBe(want);
  });

  it('GIVEN two spellings of one network THEN they are equal; a different prefix is not', () => {
    expect(cidrsEqual(cidr('10.0.0.1/8'), cidr('10.0.0.0/8'))).toBe(true);
    expect(cidrsEqual(cidr('FD00::/64'), cidr('fd00:0::/64'))).toBe(true);
    expect(cidrsEqual(cidr('10.0.0.0/8'), cidr('10.0.0.0/9'))).toBe(false);
  });

  it('derives a VTEP address from the underlay host bits, as in the reference', () => {
    expect(formatIP(graft(ip('100.10.10.1'), cidr('210.0.0.0/8')))).toBe('210.10.10.1');
    expect(formatIP(graft(ip('2409:7c85:6200::a0e:1702'), cidr('9480::/16')))).toBe(
      '9480:7c85:6200::a0e:1702',
    );
  });

  it('the first host of a CIDR skips the network address, except in a /32, /31 or /128', () => {
    expect(formatIP(firstHost(cidr('10.0.0.0/24')))).toBe('10.0.0.1');
    expect(formatIP(firstHost(cidr('10.0.0.4/31')))).toBe('10.0.0.4');
    expect(formatIP(firstHost(cidr('10.0.0.9/32')))).toBe('10.0.0.9');
    expect(formatIP(firstHost(cidr('fd00::/64')))).toBe('fd00::1');
  });
});
