import { describe, expect, it } from 'vitest';
import type { Pod } from '../../../src/api/core.js';
import { podNotSynced } from '../../../src/clustertree/transform/skip.js';

const ds = { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'u1', controller: true };
const rs = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: 'u2', controller: true };

function pod(
  opts: {
    namespace?: string;
    owner?: typeof ds;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deleting?: boolean;
  } = {},
): Pod {
  return {
    metadata: {
      name: 'p',
      namespace: opts.namespace ?? 'shop',
      labels: opts.labels ?? {},
      annotations: opts.annotations ?? {},
      ...(opts.owner ? { ownerReferences: [opts.owner] } : {}),
      ...(opts.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
    spec: { nodeName: 'kosmos-leaf-1', containers: [{ name: 'c', image: 'nginx' }] },
  };
}

describe('which host pods on a virtual node stay out of the leaf', () => {
  it.each([
    ['GIVEN a ReplicaSet pod THEN it runs in the leaf', pod({ owner: rs }), undefined],
    ['GIVEN a bare pod THEN it runs in the leaf', pod(), undefined],
    ['GIVEN a DaemonSet pod THEN it stays in the host', pod({ owner: ds }), 'daemonset'],
    [
      'GIVEN a DaemonSet pod annotated kosmos-io/daemonset-allow (any value) THEN it runs in the leaf',
      pod({ owner: ds, annotations: { 'kosmos-io/daemonset-allow': '' } }),
      undefined,
    ],
    [
      'GIVEN a pod in kube-system THEN it stays in the host, even a ReplicaSet one',
      pod({ namespace: 'kube-system', owner: rs }),
      'kube-system',
    ],
    [
      'GIVEN an allowed DaemonSet pod in kube-system THEN it still stays in the host',
      pod({ namespace: 'kube-system', owner: ds, annotations: { 'kosmos-io/daemonset-allow': 'true' } }),
      'kube-system',
    ],
    [
      'GIVEN a pod labelled daemonset.kosmos.io/managed (Kosmos global DaemonSet) THEN it stays in the host',
      pod({ labels: { 'daemonset.kosmos.io/managed': '' } }),
      'kosmos-daemonset',
    ],
    [
      'GIVEN a DaemonSet pod being deleted THEN it is not skipped, so its deletion goes through',
      pod({ owner: ds, deleting: true }),
      undefined,
    ],
    [
      'GIVEN a kube-system pod being deleted THEN it is not skipped either',
      pod({ namespace: 'kube-system', deleting: true }),
      undefined,
    ],
  ])('%s', (_name, p, cause) => {
    expect(podNotSynced(p, 'leaf-1')?.cause).toBe(cause);
  });

  it('GIVEN a DaemonSet pod THEN the message names the leaf and the annotation that lets it in', () => {
    expect(podNotSynced(pod({ owner: ds }), 'leaf-1')?.message).toBe(
      'DaemonSet pods are not run in leaf cluster leaf-1; annotate the pod template with kosmos-io/daemonset-allow to run them there',
    );
  });
});
