/** The Corefile edit join and install make: only Kosmos' marked block changes, everything else stays. */
import { describe, expect, it } from 'vitest';
import {
  servesZoneElsewhere,
  withClustersetBlock,
  withoutClustersetBlock,
} from '../../../src/cli/install/coredns.js';

const KUBEADM = `.:53 {
    errors
    health {
       lameduck 5s
    }
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 30
    reload
}
`;

describe('CoreDNS clusterset.local block', () => {
  it('is added before the existing server blocks, which stay byte for byte', () => {
    const out = withClustersetBlock(KUBEADM, '10.96.0.53');
    expect(out.endsWith(KUBEADM)).toBe(true);
    expect(out).toContain('clusterset.local:53 {\n    errors\n    cache 5\n    forward . 10.96.0.53\n}');
    expect(out.startsWith('#kosmos-mcs-start\n')).toBe(true);
  });

  it('is replaced, not repeated, when the DNS server moves (join run again)', () => {
    const once = withClustersetBlock(KUBEADM, '10.96.0.53');
    const twice = withClustersetBlock(once, '10.96.7.7');
    expect(twice.match(/#kosmos-mcs-start/g)).toHaveLength(1);
    expect(twice).toContain('forward . 10.96.7.7');
    expect(twice).not.toContain('10.96.0.53');
    expect(withClustersetBlock(once, '10.96.0.53')).toBe(once);
  });

  it('is removed exactly, giving back the Corefile as it was', () => {
    expect(withoutClustersetBlock(withClustersetBlock(KUBEADM, '10.96.0.53'))).toBe(KUBEADM);
    expect(withoutClustersetBlock(KUBEADM)).toBe(KUBEADM);
  });

  it('a block whose end marker someone deleted is left alone rather than cutting the Corefile short', () => {
    const broken = `#kosmos-mcs-start\nclusterset.local:53 {\n}\n${KUBEADM}`;
    expect(withoutClustersetBlock(broken)).toBe(broken);
  });

  it('a Corefile that serves clusterset.local itself (another MCS implementation) is recognised', () => {
    expect(servesZoneElsewhere(`clusterset.local:53 {\n    forward . 10.0.0.9\n}\n${KUBEADM}`)).toBe(true);
    expect(servesZoneElsewhere(withClustersetBlock(KUBEADM, '10.96.0.53'))).toBe(false);
    expect(servesZoneElsewhere(KUBEADM)).toBe(false);
  });
});
