import { afterEach, describe, expect, it } from 'vitest';
import { type RunningLab, startLab, suffix, summary } from './lab-helpers.js';

let lab: RunningLab | undefined;
afterEach(async () => {
  await lab?.down();
  lab = undefined;
});

interface C {
  name: string;
  type: 'p2p' | 'gateway';
  family?: 'ipv4' | 'ipv6' | 'all';
  pod: string[];
  svc: string[];
  nodes: string[][];
  map?: Record<string, string>;
}

/** Lab YAML with a random suffix on every cluster name, so namespaces never clash. */
function yaml(clusters: C[]): string {
  const s = suffix();
  const lines = ['clusters:'];
  for (const c of clusters) {
    lines.push(
      `  - name: ${c.name}${s}`,
      `    networkType: ${c.type}`,
      `    ipFamily: ${c.family ?? 'ipv4'}`,
      `    podCIDRs: [${c.pod.join(', ')}]`,
      `    serviceCIDRs: [${c.svc.join(', ')}]`,
      `    globalCIDRsMap: ${JSON.stringify(c.map ?? {})}`,
      '    nodes:',
      ...c.nodes.map((cidrs, i) => `      - {name: n${i + 1}, podCIDRs: [${cidrs.join(', ')}]}`),
    );
  }
  return lines.join('\n');
}

const v4a = {
  pod: ['10.233.64.0/18'],
  svc: ['10.233.0.0/18'],
  nodes: [['10.233.64.0/24'], ['10.233.65.0/24']],
};
const v4b = {
  pod: ['10.234.64.0/18'],
  svc: ['10.234.0.0/18'],
  nodes: [['10.234.64.0/24'], ['10.234.65.0/24']],
};

async function expectAllConnected(l: RunningLab, pairs: number): Promise<void> {
  const r = summary(await l.check());
  expect(r.failed, r.text).toEqual([]);
  expect(r.total).toBe(pairs);
}

describe('ClusterLink lab on real network namespaces: every pod reaches every other cluster', () => {
  it('GIVEN two p2p clusters of two nodes THEN all 12 pod and service pairs connect (ICMP and TCP)', async () => {
    lab = await startLab(
      yaml([
        { name: 'a', type: 'p2p', ...v4a },
        { name: 'b', type: 'p2p', ...v4b },
      ]),
    );
    await expectAllConnected(lab, 12);
  });

  it('GIVEN two gateway clusters THEN internal nodes reach the other cluster through both gateways', async () => {
    lab = await startLab(
      yaml([
        { name: 'a', type: 'gateway', ...v4a },
        { name: 'b', type: 'gateway', ...v4b },
      ]),
    );
    await expectAllConnected(lab, 12);
  });

  it('GIVEN a p2p, a gateway and a second gateway cluster THEN all 3x2 pods reach every other cluster', async () => {
    lab = await startLab(
      yaml([
        { name: 'a', type: 'p2p', ...v4a },
        { name: 'b', type: 'gateway', ...v4b },
        {
          name: 'c',
          type: 'gateway',
          pod: ['10.235.64.0/18'],
          svc: ['10.235.0.0/18'],
          nodes: [['10.235.64.0/24'], ['10.235.65.0/24']],
        },
      ]),
    );
    await expectAllConnected(lab, 36);
  });

  it('GIVEN two clusters with identical CIDRs and global maps on both sides THEN pods and services connect through the global IPs', async () => {
    lab = await startLab(
      yaml([
        {
          name: 'a',
          type: 'gateway',
          ...v4a,
          map: { '10.233.64.0/18': '10.101.64.0/18', '10.233.0.0/18': '10.101.0.0/18' },
        },
        {
          name: 'b',
          type: 'p2p',
          ...v4a,
          map: { '10.233.64.0/18': '10.102.64.0/18', '10.233.0.0/18': '10.102.0.0/18' },
        },
      ]),
    );
    const r = summary(await lab.check());
    expect(r.failed, r.text).toEqual([]);
    expect(new Set((await lab.check()).map((x) => x.ip.split('.').slice(0, 2).join('.')))).toEqual(
      new Set(['10.101', '10.102']),
    );
  });

  it('GIVEN IPv6-only clusters with identical CIDRs and global maps on both sides THEN they connect through the global IPv6 ranges', async () => {
    const v6 = {
      pod: ['fd00:a::/56'],
      svc: ['fd00:a:ffff::/112'],
      nodes: [['fd00:a:0:1::/64'], ['fd00:a:0:2::/64']],
    };
    lab = await startLab(
      yaml([
        {
          name: 'a',
          type: 'gateway',
          family: 'ipv6',
          ...v6,
          map: { 'fd00:a::/56': 'fd10:a::/56', 'fd00:a:ffff::/112': 'fd10:a:ffff::/112' },
        },
        {
          name: 'b',
          type: 'p2p',
          family: 'ipv6',
          ...v6,
          map: { 'fd00:a::/56': 'fd20:b::/56', 'fd00:a:ffff::/112': 'fd20:b:ffff::/112' },
        },
      ]),
    );
    const results = await lab.check();
    const r = summary(results);
    expect(r.failed, r.text).toEqual([]);
    expect(r.total).toBe(12);
    expect(results.every((x) => x.ip.startsWith('fd10:') || x.ip.startsWith('fd20:'))).toBe(true);
  });

  it('GIVEN IPv6-only clusters (gateway and p2p) THEN traffic flows over vx-bridge-6 and vx-local-6', async () => {
    lab = await startLab(
      yaml([
        {
          name: 'a',
          type: 'gateway',
          family: 'ipv6',
          pod: ['fd00:a::/56'],
          svc: ['fd00:a:ffff::/112'],
          nodes: [['fd00:a:0:1::/64'], ['fd00:a:0:2::/64']],
        },
        {
          name: 'b',
          type: 'p2p',
          family: 'ipv6',
          pod: ['fd00:b::/56'],
          svc: ['fd00:b:ffff::/112'],
          nodes: [['fd00:b:0:1::/64'], ['fd00:b:0:2::/64']],
        },
      ]),
    );
    await expectAllConnected(lab, 12);
  });

  it('GIVEN dual-stack clusters THEN both families connect: 24 pairs', async () => {
    lab = await startLab(
      yaml([
        {
          name: 'a',
          type: 'gateway',
          family: 'all',
          pod: ['10.233.64.0/18', 'fd00:a::/56'],
          svc: ['10.233.0.0/18', 'fd00:a:ffff::/112'],
          nodes: [
            ['10.233.64.0/24', 'fd00:a:0:1::/64'],
            ['10.233.65.0/24', 'fd00:a:0:2::/64'],
          ],
        },
        {
          name: 'b',
          type: 'p2p',
          family: 'all',
          pod: ['10.234.64.0/18', 'fd00:b::/56'],
          svc: ['10.234.0.0/18', 'fd00:b:ffff::/112'],
          nodes: [
            ['10.234.64.0/24', 'fd00:b:0:1::/64'],
            ['10.234.65.0/24', 'fd00:b:0:2::/64'],
          ],
        },
      ]),
    );
    await expectAllConnected(lab, 24);
  });

  it('GIVEN overlapping CIDRs without a global map THEN no node routes them and the Cluster status says why', async () => {
    lab = await startLab(
      yaml([
        { name: 'a', type: 'p2p', ...v4a },
        { name: 'b', type: 'gateway', ...v4a },
      ]),
    );
    // (lab check would be meaningless here: the other cluster's pod IPs are this cluster's own pods.)
    for (const nc of await lab.store().listNodeConfigs()) expect(nc.spec.routes).toBeUndefined();
    const clusters = await lab.store().listClusters();
    for (const c of clusters) {
      const cond = c.status?.conditions?.find((x) => x.type === 'ClusterLinkReady');
      expect(cond?.status).toBe('False');
      expect(cond?.reason).toBe('OverlappingCIDRs');
      expect(cond?.message).toMatch(/globalCIDRsMap/);
    }
  });
});
