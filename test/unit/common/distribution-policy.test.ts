import { describe, expect, it } from 'vitest';
import { describePolicy, resolvePolicy } from '../../../src/common/distribution-policy.js';
import { TERMS, cdp, dp, kosmosE2ePolicies, pod } from '../extender/fixtures.js';

describe('resolvePolicy: which DistributionPolicy term governs a pod', () => {
  const policies = kosmosE2ePolicies();
  it.each([
    ['E1 name match in the namespaced policy', pod('nginx', { namespace: 'test-name-scope' }), 'leaf', 6],
    [
      'E2 prefix match in the namespaced policy',
      pod('nginx-prefix-01', { namespace: 'test-name-scope' }),
      'host',
      5,
    ],
    [
      'E3 label match in the namespaced policy',
      pod('x', { namespace: 'test-name-scope', labels: { 'example-distribution-policy': 'nginx' } }),
      'mix',
      4,
    ],
    [
      'E4 name match in the cluster policy',
      pod('cluster-nginx', { namespace: 'test-namespace-scope' }),
      'mix',
      3,
    ],
    [
      'D1 prefix beats label inside one policy',
      pod('nginx-prefix-9', {
        namespace: 'test-name-scope',
        labels: { 'example-distribution-policy': 'nginx' },
      }),
      'host',
      5,
    ],
    [
      'D2 cluster label match inside a policy namespace',
      pod('w', { namespace: 'test-name-scope', labels: { 'example-distribution-policy': 'cluster-nginx' } }),
      'leaf',
      1,
    ],
    [
      'D4 cluster prefix without namespaced policy',
      pod('cluster-nginx-prefix-1', { namespace: 'elsewhere' }),
      'host',
      2,
    ],
  ])('%s', (_n, p, nodeType, rank) => {
    expect(resolvePolicy(p, policies)).toMatchObject({ nodeType, rank });
  });

  it('a DistributionPolicy of another namespace never applies (Kosmos unit case: no match)', () => {
    expect(
      resolvePolicy(pod('nginx', { namespace: 'default', labels: { app: 'test' } }), [policies[0]]),
    ).toBeUndefined();
  });

  it('D8: a DaemonSet pod is never governed', () => {
    expect(
      resolvePolicy(pod('nginx', { namespace: 'test-name-scope', ownerKind: 'DaemonSet' }), policies),
    ).toBeUndefined();
  });

  it('ties between objects go to the oldest, then the smallest name, whatever the list order (Kosmos kept the last listed)', () => {
    const a = dp(
      'a',
      'ns',
      { resourceSelectors: [{ namePrefix: 'web', policyName: 'leaf' }], policyTerms: TERMS },
      '2024-02-01T00:00:00Z',
    );
    const b = dp(
      'b',
      'ns',
      { resourceSelectors: [{ namePrefix: 'web', policyName: 'host' }], policyTerms: TERMS },
      '2024-01-01T00:00:00Z',
    );
    const c = dp(
      'c',
      'ns',
      { resourceSelectors: [{ namePrefix: 'web', policyName: 'mix' }], policyTerms: TERMS },
      '2024-01-01T00:00:00Z',
    );
    for (const order of [
      [a, b, c],
      [c, b, a],
      [b, a, c],
      [c, a, b],
    ]) {
      expect(resolvePolicy(pod('web-1', { namespace: 'ns' }), order)).toMatchObject({
        name: 'b',
        nodeType: 'host',
      });
    }
  });

  it('a namespaced match of any rank beats a cluster-scoped name match', () => {
    const ns = dp('n', 'ns', {
      resourceSelectors: [{ labelSelector: { matchLabels: { a: '1' } }, policyName: 'host' }],
      policyTerms: TERMS,
    });
    const cl = cdp('c', { resourceSelectors: [{ name: 'web', policyName: 'leaf' }], policyTerms: TERMS });
    expect(resolvePolicy(pod('web', { namespace: 'ns', labels: { a: '1' } }), [cl, ns])).toMatchObject({
      kind: 'DistributionPolicy',
      nodeType: 'host',
    });
  });

  it('an empty labelSelector matches nothing; matchExpressions must all hold', () => {
    const empty = cdp('e', {
      resourceSelectors: [{ labelSelector: {}, policyName: 'leaf' }],
      policyTerms: TERMS,
    });
    expect(resolvePolicy(pod('p', { labels: { a: '1' } }), [empty])).toBeUndefined();
    const expr = cdp('x', {
      resourceSelectors: [
        {
          labelSelector: {
            matchLabels: { a: '1' },
            matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }],
          },
          policyName: 'leaf',
        },
      ],
      policyTerms: TERMS,
    });
    expect(resolvePolicy(pod('p', { labels: { a: '1' } }), [expr])).toBeUndefined();
    expect(resolvePolicy(pod('p', { labels: { a: '1', tier: 'web' } }), [expr])).toMatchObject({
      nodeType: 'leaf',
    });
  });

  it('names the winning policy for messages', () => {
    const r = resolvePolicy(pod('nginx', { namespace: 'test-name-scope' }), policies);
    expect(r && describePolicy(r)).toBe(
      'DistributionPolicy test-name-scope/kosmos-namespace-distribution-policy',
    );
  });
});
