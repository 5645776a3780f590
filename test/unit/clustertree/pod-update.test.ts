import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_CONVERT_POLICY,
  ANNOTATION_HOST_METADATA_KEYS,
  LABEL_POD,
} from '../../../src/api/constants.js';
import type { Pod } from '../../../src/api/core.js';
import {
  hostKeysAnnotation,
  hostPodUpdated,
  leafPodUpdate,
} from '../../../src/clustertree/transform/pod-update.js';

const pod = (
  labels: Record<string, string>,
  annotations: Record<string, string>,
  spec: Partial<Pod['spec']> = {},
): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'ns', labels, annotations },
  spec: { containers: [{ name: 'main', image: 'nginx:1' }], ...spec },
});

/** A leaf pod as created from `desired`, then touched by the leaf. */
const leafFrom = (desired: Pod, extra: Partial<Pod['spec']> = {}): Pod => {
  const l = structuredClone(desired);
  l.metadata = { ...l.metadata, resourceVersion: '7', uid: 'leaf-uid' };
  l.spec = { ...l.spec, nodeName: 'leaf-node-1', ...extra };
  l.status = { phase: 'Running' };
  return l;
};

const desired = (
  labels: Record<string, string>,
  annotations: Record<string, string>,
  spec: Partial<Pod['spec']> = {},
) => {
  const l = { ...labels, [LABEL_POD]: 'true' };
  return pod(
    l,
    { ...annotations, [ANNOTATION_HOST_METADATA_KEYS]: hostKeysAnnotation(l, annotations) },
    spec,
  );
};

describe('host pod change → leaf pod update', () => {
  it('nothing to do when the leaf pod already shows the host pod', () => {
    const d = desired({ app: 'web' }, { note: 'a' });
    expect(leafPodUpdate(d, leafFrom(d))).toBeUndefined();
  });

  it('adds, changes and removes host labels and annotations, keeping keys the leaf added and Kosmos bookkeeping', () => {
    const before = desired({ app: 'web', tier: 'front' }, { note: 'a', gone: 'x' });
    const leaf = leafFrom(before);
    leaf.metadata!.labels!['leaf-only'] = 'yes';
    leaf.metadata!.annotations![ANNOTATION_CONVERT_POLICY] = 'policy-1';
    leaf.metadata!.annotations!['leaf.example/seen'] = 'yes';
    const after = desired({ app: 'web', tier: 'back', added: '1' }, { note: 'b', 'kosmos.io/other': 'host' });
    const next = leafPodUpdate(after, leaf)!;
    expect(next.metadata?.labels).toEqual({
      app: 'web',
      tier: 'back',
      [LABEL_POD]: 'true',
      'leaf-only': 'yes',
      added: '1',
    });
    expect(next.metadata?.annotations).toMatchObject({
      note: 'b',
      [ANNOTATION_CONVERT_POLICY]: 'policy-1',
      'leaf.example/seen': 'yes',
    });
    expect(next.metadata?.annotations?.['gone']).toBeUndefined();
    expect(next.metadata?.annotations?.['kosmos.io/other']).toBeUndefined();
    expect(leafPodUpdate(after, next)).toBeUndefined(); // idempotent
  });

  it('changes images by container name, sets a shorter deadline, appends added tolerations, and keeps leaf-only spec', () => {
    const before = desired(
      { app: 'web' },
      {},
      {
        initContainers: [{ name: 'init', image: 'busybox:1' }],
        tolerations: [{ key: 'a', operator: 'Exists' }],
      },
    );
    const leafToleration = {
      key: 'node.kubernetes.io/not-ready',
      operator: 'Exists' as const,
      effect: 'NoExecute' as const,
      tolerationSeconds: 300,
    };
    const leaf = leafFrom(before, { tolerations: [{ key: 'a', operator: 'Exists' }, leafToleration] });
    const after = desired(
      { app: 'web' },
      {},
      {
        containers: [{ name: 'main', image: 'nginx:2' }],
        initContainers: [{ name: 'init', image: 'busybox:2' }],
        tolerations: [
          { key: 'a', operator: 'Exists' },
          { key: 'b', operator: 'Exists' },
        ],
        activeDeadlineSeconds: 600,
      },
    );
    const next = leafPodUpdate(after, leaf)!;
    expect(next.spec.containers[0]?.image).toBe('nginx:2');
    expect(next.spec.initContainers?.[0]?.image).toBe('busybox:2');
    expect(next.spec['activeDeadlineSeconds']).toBe(600);
    expect(next.spec.tolerations).toEqual([
      { key: 'a', operator: 'Exists' },
      leafToleration,
      { key: 'b', operator: 'Exists' },
    ]);
    expect(next.spec.nodeName).toBe('leaf-node-1');
    expect(next.metadata?.resourceVersion).toBe('7');
    expect(next.status).toEqual({ phase: 'Running' });
    expect(leafPodUpdate(after, next)).toBeUndefined();
    // A longer deadline is refused by the apiserver: the leaf keeps its shorter one.
    expect(
      leafPodUpdate({ ...after, spec: { ...after.spec, activeDeadlineSeconds: 900 } }, next),
    ).toBeUndefined();
  });

  it('a leaf pod without the host-keys annotation loses no keys, and gets the annotation', () => {
    const d = desired({ app: 'web' }, {});
    const leaf = leafFrom(d);
    delete leaf.metadata!.annotations![ANNOTATION_HOST_METADATA_KEYS];
    leaf.metadata!.labels!['old'] = 'x';
    const next = leafPodUpdate(d, leaf)!;
    expect(next.metadata?.labels?.['old']).toBe('x');
    expect(next.metadata?.annotations?.[ANNOTATION_HOST_METADATA_KEYS]).toBeDefined();
  });

  it('only changes a running pod can take trigger an update', () => {
    const a = pod({ app: 'web' }, {});
    expect(hostPodUpdated(a, { ...a, status: { phase: 'Running' } })).toBe(false);
    expect(hostPodUpdated(a, pod({ app: 'web', x: '1' }, {}))).toBe(true);
    expect(
      hostPodUpdated(a, pod({ app: 'web' }, {}, { containers: [{ name: 'main', image: 'nginx:2' }] })),
    ).toBe(true);
    expect(hostPodUpdated(a, pod({ app: 'web' }, {}, { activeDeadlineSeconds: 5 }))).toBe(true);
  });
});
