import { describe, expect, it } from 'vitest';
import { formatIP, graft, normalizeCIDR, parseCIDR, parseIP } from '../../../src/clusterlink/netconfig/ip.js';

describe('IP arithmetic prints what the kernel prints', () => {
  it.each([
    ['10.237.6.0/18', '10.237.0.0/18'],
    ['2409:7c85:6200:0:0:0:a0e:1702/64', '2409:7c85:6200::/64'],
    ['fd00:0:0:1::/64', 'fd00:0:0:1::/64'],
    ['::/0', '::/0'],
    ['10.0.0.0/33', undefined],
    ['not-a-cidr', undefined],
    ['10.0.0.1', undefined],
  ])('normalizes %s to %s', (input, want) => {
    expect(normalizeCIDR(input)).toBe(want);
  });

  it('compresses the longest zero run of an IPv6 address, the first on ties (RFC 5952)', () => {
    const ip = parseIP('1:0:0:2:0:0:0:3');
    expect(ip && formatIP(ip)).toBe('1:0:0:2::3');
    const tie = parseIP('1:0:0:2:0:0:3:4');
    expect(tie && formatIP(tie)).toBe('1::2:0:0:3:4');
  });

  it('derives a VTEP address from the underlay host bits, as in the reference', () => {
    const a = graft(parseIP('100.10.10.1')!, parseCIDR('210.0.0.0/8')!);
    expect(formatIP(a)).toBe('210.10.10.1');
    const b = graft(parseIP('2409:7c85:6200::a0e:1702')!, parseCIDR('9480::/16')!);
    expect(formatIP(b)).toBe('9480:7c85:6200::a0e:1702');
  });
});
