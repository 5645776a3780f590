import { afterEach, describe, expect, it } from 'vitest';
import { type RunningLab, startLab, suffix, summary } from './lab-helpers.js';

let lab: RunningLab | undefined;
afterEach(async () => {
  await lab?.down();
  lab = undefined;
});

describe('ClusterLink lab on real network namespaces', () => {
  it('GIVEN two p2p clusters WHEN the lab is up THEN every pod reaches every pod and service of the other cluster', async () => {
    const s = suffix();
    lab = await startLab(`
clusters:
  - name: a${s}
    networkType: p2p
    ipFamily: ipv4
    podCIDRs: [10.233.64.0/18]
    serviceCIDRs: [10.233.0.0/18]
    nodes:
      - {name: n1, podCIDRs: [10.233.64.0/24]}
      - {name: n2, podCIDRs: [10.233.65.0/24]}
  - name: b${s}
    networkType: p2p
    ipFamily: ipv4
    podCIDRs: [10.234.64.0/18]
    serviceCIDRs: [10.234.0.0/18]
    nodes:
      - {name: n1, podCIDRs: [10.234.64.0/24]}
      - {name: n2, podCIDRs: [10.234.65.0/24]}
`);
    const r = summary(await lab.check());
    expect(r.failed, r.text).toEqual([]);
    expect(r.total).toBe(12);
  });
});
