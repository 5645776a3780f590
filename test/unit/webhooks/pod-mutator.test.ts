import { describe, expect, it } from 'vitest';
import { DEFAULT_SCHEDULER_NAME, LABEL_CLUSTER, LABEL_NODE, LABEL_ZONE } from '../../../src/api/constants.js';
import type { Pod } from '../../../src/api/core.js';
import type { PolicyTerm } from '../../../src/api/kinds.js';
import { LEAF_TOLERATION, mutatePod } from '../../../src/webhooks/pod-mutator.js';
import { LABEL_POD_TEMPLATE_HASH } from '../../../src/api/constants.js';
import { cdp, dp, pod } from './fixtures.js';

const web = { labelSelector: { matchLabels: { app: 'web' } }, policyName: 't' };
const policyWith = (term: Omit<PolicyTerm, 'name'>) => [dp('web', [web], [{ name: 't', ...term }])];
const webPod = (over: Partial<Pod['spec']> = {}, labels: Record<string, string> = {}) =>
  pod('web-1', over, { app: 'web', ...labels });

/** The mutator's output fed back in, as reinvocation or a second apply would do. */
function twice(p: Pod, policies: ReturnType<typeof policyWith>) {
  const first = mutatePod(p, 'default', policies);
  const second = mutatePod(first.pod, 'default', policies);
  return { first, second };
}

describe('pod mutation', () => {
  it('GIVEN a pod no policy matches THEN it is left alone', () => {
    const m = mutatePod(pod('other', {}, { app: 'db' }), 'default', policyWith({ nodeType: 'leaf' }));
    expect(m.patch).toEqual([]);
    expect(m.policy).toBeUndefined();
  });

  it('GIVEN a pod matched by a leaf policy THEN it gets the Kosmos scheduler and the virtual-node toleration', () => {
    const m = mutatePod(webPod(), 'default', policyWith({ nodeType: 'leaf' }));
    expect(m.pod.spec.schedulerName).toBe(DEFAULT_SCHEDULER_NAME);
    expect(m.pod.spec.tolerations).toEqual([LEAF_TOLERATION]);
    expect(m.patch.map((o) => o.path)).toEqual(['/spec/schedulerName', '/spec/tolerations']);
    expect(m.policy).toBe('DistributionPolicy default/web');
  });

  it('GIVEN a pod matched by a host policy THEN it gets the scheduler but no virtual-node toleration', () => {
    const m = mutatePod(webPod(), 'default', policyWith({ nodeType: 'host' }));
    expect(m.pod.spec.schedulerName).toBe(DEFAULT_SCHEDULER_NAME);
    expect(m.pod.spec.tolerations).toBeUndefined();
  });

  it('GIVEN a configured scheduler name THEN matched pods get that name', () => {
    expect(
      mutatePod(webPod(), 'default', policyWith({}), { schedulerName: 'kosmos-2' }).pod.spec.schedulerName,
    ).toBe('kosmos-2');
  });

  it('GIVEN a pod that chose another scheduler THEN its choice is kept and a warning says the policy is not enforced', () => {
    const m = mutatePod(webPod({ schedulerName: 'volcano' }), 'default', policyWith({ nodeType: 'host' }));
    expect(m.patch).toEqual([]);
    expect(m.warnings[0]).toMatch(/spec.schedulerName is "volcano"/);
  });

  it('GIVEN a pod that already tolerates every taint THEN no second toleration is added', () => {
    const m = mutatePod(
      webPod({ tolerations: [{ operator: 'Exists' }] }),
      'default',
      policyWith({ nodeType: 'mix' }),
    );
    expect(m.pod.spec.tolerations).toEqual([{ operator: 'Exists' }]);
  });

  it('GIVEN a pod matched only by a ClusterDistributionPolicy THEN the cluster policy applies', () => {
    const m = mutatePod(webPod(), 'default', [cdp('all-web', [web], [{ name: 't', nodeType: 'leaf' }])]);
    expect(m.policy).toBe('ClusterDistributionPolicy all-web');
    expect(m.pod.spec.tolerations).toEqual([LEAF_TOLERATION]);
  });

  it('GIVEN a DaemonSet pod THEN no policy governs it', () => {
    const p = webPod();
    p.metadata = {
      ...p.metadata,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'ds', uid: 'u' }],
    };
    expect(mutatePod(p, 'default', policyWith({ nodeType: 'leaf' })).patch).toEqual([]);
  });

  it('GIVEN a pod created with generateName and a namePrefix policy it starts with THEN the policy applies', () => {
    const p = pod('', {}, {});
    p.metadata = { generateName: 'web-7d9f-', namespace: 'default' };
    const policies = [
      dp('prefix', [{ namePrefix: 'web-', policyName: 't' }], [{ name: 't', nodeType: 'leaf' }]),
    ];
    expect(mutatePod(p, 'default', policies).policy).toBe('DistributionPolicy default/prefix');
  });

  it('GIVEN a pod created with generateName equal to an exact-name selector THEN that selector does not match, as the final name differs', () => {
    const p = pod('', {}, {});
    p.metadata = { generateName: 'web-', namespace: 'default' };
    const policies = [dp('exact', [{ name: 'web-', policyName: 't' }], [{ name: 't', nodeType: 'leaf' }])];
    expect(mutatePod(p, 'default', policies).patch).toEqual([]);
  });

  it('GIVEN a term that spreads by cluster THEN the pod gets a spread constraint selecting its workload, honouring taints', () => {
    const m = mutatePod(
      webPod(),
      'default',
      policyWith({ nodeType: 'mix', topologySpreadConstraints: [{ topologyKey: LABEL_CLUSTER }] }),
    );
    expect(m.pod.spec.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: LABEL_CLUSTER,
        whenUnsatisfiable: 'DoNotSchedule',
        labelSelector: { matchLabels: { app: 'web' } },
        nodeTaintsPolicy: 'Honor',
      },
    ]);
    expect(m.pod.spec.affinity).toBeUndefined();
  });

  it('GIVEN a Deployment pod THEN the spread constraint leaves out pod-template-hash from the selector and spreads each revision on its own', () => {
    const m = mutatePod(
      webPod({}, { [LABEL_POD_TEMPLATE_HASH]: '5d8f7c' }),
      'default',
      policyWith({
        topologySpreadConstraints: [
          { topologyKey: LABEL_ZONE, maxSkew: 2, whenUnsatisfiable: 'ScheduleAnyway' },
        ],
      }),
    );
    expect(m.pod.spec.topologySpreadConstraints).toEqual([
      {
        maxSkew: 2,
        topologyKey: LABEL_ZONE,
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: { app: 'web' } },
        matchLabelKeys: [LABEL_POD_TEMPLATE_HASH],
        nodeTaintsPolicy: 'Honor',
      },
    ]);
  });

  it('GIVEN a leaf term that spreads by zone THEN the pod is also limited to virtual nodes, so host zones do not count as empty domains', () => {
    const m = mutatePod(
      webPod(),
      'default',
      policyWith({ nodeType: 'leaf', topologySpreadConstraints: [{ topologyKey: LABEL_ZONE }] }),
    );
    expect(m.pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution).toEqual({
      nodeSelectorTerms: [{ matchExpressions: [{ key: LABEL_NODE, operator: 'Exists' }] }],
    });
  });

  it('GIVEN a pod that already spreads by that key THEN its own constraint wins and none is added', () => {
    const own = { maxSkew: 3, topologyKey: LABEL_CLUSTER, whenUnsatisfiable: 'DoNotSchedule' as const };
    const m = mutatePod(
      webPod({ topologySpreadConstraints: [own] }),
      'default',
      policyWith({ topologySpreadConstraints: [{ topologyKey: LABEL_CLUSTER }] }),
    );
    expect(m.pod.spec.topologySpreadConstraints).toEqual([own]);
  });

  it('GIVEN a pod without labels and a spreading term THEN no constraint is added and a warning says why', () => {
    const m = mutatePod(pod('web-1'), 'default', [
      dp(
        'n',
        [{ name: 'web-1', policyName: 't' }],
        [{ name: 't', topologySpreadConstraints: [{ topologyKey: LABEL_ZONE }] }],
      ),
    ]);
    expect(m.pod.spec.topologySpreadConstraints).toBeUndefined();
    expect(m.warnings[0]).toMatch(/no labels/);
  });

  it('GIVEN a term pinned to clusters THEN every required affinity term of the pod also requires those clusters', () => {
    const own = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: 'disk', operator: 'In' as const, values: ['ssd'] }] },
            { matchExpressions: [{ key: 'gpu', operator: 'Exists' as const }] },
          ],
        },
      },
    };
    const m = mutatePod(
      webPod({ affinity: own }),
      'default',
      policyWith({ topologyAffinity: [{ topologyKey: LABEL_CLUSTER, values: ['leaf-1', 'leaf-2'] }] }),
    );
    const pin = { key: LABEL_CLUSTER, operator: 'In', values: ['leaf-1', 'leaf-2'] };
    expect(
      m.pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
    ).toEqual([
      { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }, pin] },
      { matchExpressions: [{ key: 'gpu', operator: 'Exists' }, pin] },
    ]);
  });

  it.each<[string, Omit<PolicyTerm, 'name'>, Partial<Pod['spec']>, Record<string, string>]>([
    ['a leaf term', { nodeType: 'leaf' }, {}, {}],
    ['a host term with another scheduler', { nodeType: 'host' }, { schedulerName: 'other' }, {}],
    [
      'a spreading leaf term on a Deployment pod',
      {
        nodeType: 'leaf',
        topologySpreadConstraints: [
          { topologyKey: LABEL_ZONE },
          { topologyKey: LABEL_CLUSTER, whenUnsatisfiable: 'ScheduleAnyway' },
        ],
      },
      {},
      { [LABEL_POD_TEMPLATE_HASH]: 'abc' },
    ],
    [
      'a pinned host term with user affinity',
      {
        nodeType: 'host',
        topologyAffinity: [{ topologyKey: LABEL_ZONE, values: ['z1'] }],
        topologySpreadConstraints: [{ topologyKey: LABEL_ZONE }],
      },
      {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: 'a', operator: 'Exists' }] }],
            },
          },
        },
      },
      {},
    ],
  ])(
    'GIVEN %s WHEN the mutation is applied twice THEN the second changes nothing',
    (_c, term, spec, labels) => {
      const { first, second } = twice(webPod(spec, labels), policyWith(term));
      expect(second.patch).toEqual([]);
      expect(second.pod).toEqual(first.pod);
    },
  );
});
