import { describe, expect, it } from 'vitest';
import { ANNOTATION_CLUSTER_OWNERS, ANNOTATION_GLOBAL } from '../../../src/api/constants.js';
import {
  claimResizePatch,
  leafPvcFor,
  leafPvFor,
  ownersPatch,
  pvcStatusPatch,
  pvInUse,
  resizedClaimOwners,
  storageRequestOf,
  withOwner,
  withoutOwner,
  type Obj,
} from '../../../src/clustertree/transform/volumes.js';

const hostPvc = (annotations: Record<string, string> = {}, status: Record<string, unknown> = {}): Obj => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: {
    name: 'data',
    namespace: 'shop',
    uid: 'host-pvc-uid',
    resourceVersion: '5',
    annotations: {
      'pv.kubernetes.io/bind-completed': 'yes',
      'pv.kubernetes.io/bound-by-controller': 'yes',
      ...annotations,
    },
  },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeName: 'pv-1' },
  status,
});

const hostPv: Obj = {
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: {
    name: 'pv-1',
    uid: 'host-pv-uid',
    resourceVersion: '9',
    labels: { disk: 'ssd' },
    annotations: { 'pv.kubernetes.io/bound-by-controller': 'yes' },
  },
  spec: {
    capacity: { storage: '1Gi' },
    accessModes: ['ReadWriteOnce'],
    hostPath: { path: '/data' },
    persistentVolumeReclaimPolicy: 'Delete',
    claimRef: {
      kind: 'PersistentVolumeClaim',
      namespace: 'shop',
      name: 'data',
      uid: 'host-pvc-uid',
      resourceVersion: '5',
    },
  },
  status: { phase: 'Bound' },
};

describe('PVC and PV copies', () => {
  it('the leaf PVC keeps its volumeName and drops the host binder marks and owners', () => {
    const c = leafPvcFor(hostPvc({ [ANNOTATION_CLUSTER_OWNERS]: 'leaf-1' }));
    expect(c.metadata).toEqual({
      name: 'data',
      namespace: 'shop',
      annotations: { [ANNOTATION_GLOBAL]: 'true' },
    });
    expect((c['spec'] as { volumeName?: string }).volumeName).toBe('pv-1');
    expect(c['status']).toBeUndefined();
  });

  it('the leaf PV is pre-bound to the leaf PVC by name only, retains its data, and has no host identity', () => {
    const pv = leafPvFor(hostPv, 'shop', 'data');
    expect(pv.metadata).toEqual({
      name: 'pv-1',
      labels: { disk: 'ssd' },
      annotations: { [ANNOTATION_GLOBAL]: 'true' },
    });
    expect(pv['spec']).toEqual({
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteOnce'],
      hostPath: { path: '/data' },
      persistentVolumeReclaimPolicy: 'Retain',
      claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: 'shop', name: 'data' },
    });
    expect(pv['status']).toBeUndefined();
  });

  it('owners are a comma list, appended once', () => {
    expect(withOwner(hostPvc(), 'leaf-1')).toBe('leaf-1');
    expect(withOwner(hostPvc({ [ANNOTATION_CLUSTER_OWNERS]: 'leaf-1' }), 'leaf-2')).toBe('leaf-1,leaf-2');
    expect(withOwner(hostPvc({ [ANNOTATION_CLUSTER_OWNERS]: 'leaf-1,leaf-2' }), 'leaf-2')).toBeUndefined();
  });

  it('the leaf PVC status reaches the host PVC only from the first owner, once bound, and only when different', () => {
    const leaf = {
      ...leafPvcFor(hostPvc()),
      status: { phase: 'Bound', capacity: { storage: '2Gi' }, accessModes: ['ReadWriteOnce'] },
    } as Obj;
    const owned = hostPvc(
      { [ANNOTATION_CLUSTER_OWNERS]: 'leaf-1,leaf-2' },
      { phase: 'Bound', capacity: { storage: '1Gi' } },
    );
    expect(pvcStatusPatch(owned, leaf, 'leaf-1')).toEqual({
      phase: 'Bound',
      capacity: { storage: '2Gi' },
      accessModes: ['ReadWriteOnce'],
    });
    expect(pvcStatusPatch(owned, leaf, 'leaf-2')).toBeUndefined();
    expect(pvcStatusPatch(hostPvc(), leaf, 'leaf-1')).toBeUndefined(); // not owned
    expect(pvcStatusPatch(owned, { ...leaf, status: { phase: 'Pending' } } as Obj, 'leaf-1')).toBeUndefined();
    const inSync = hostPvc(
      { [ANNOTATION_CLUSTER_OWNERS]: 'leaf-1' },
      leaf['status'] as Record<string, unknown>,
    );
    expect(pvcStatusPatch(inSync, leaf, 'leaf-1')).toBeUndefined();
  });

  it('a PV copy is in use while a leaf PVC names it or is the claim it is pre-bound to', () => {
    const pv = leafPvFor(hostPv, 'shop', 'data');
    expect(pvInUse(pv, [leafPvcFor(hostPvc())])).toBe(true);
    const other = { ...leafPvcFor(hostPvc()), spec: {} } as Obj;
    expect(pvInUse(pv, [other])).toBe(true); // same namespace/name as the claimRef
    expect(pvInUse(pv, [{ ...other, metadata: { name: 'x', namespace: 'shop' } } as Obj])).toBe(false);
    expect(pvInUse(pv, [])).toBe(false);
  });

  it('a cluster leaves the owners list; the last one leaves null (the annotation goes)', () => {
    const two = hostPvc({ [ANNOTATION_CLUSTER_OWNERS]: 'leaf-1, leaf-2' });
    expect(withoutOwner(two, 'leaf-1')).toBe('leaf-2');
    expect(withoutOwner(two, 'leaf-2')).toBe('leaf-1');
    expect(withoutOwner(two, 'leaf-3')).toBeUndefined();
    expect(withoutOwner(hostPvc({ [ANNOTATION_CLUSTER_OWNERS]: 'leaf-1' }), 'leaf-1')).toBeNull();
    expect(withoutOwner(hostPvc(), 'leaf-1')).toBeUndefined();
  });

  it('the owners patch is a compare-and-swap on the version it was computed from', () => {
    expect(ownersPatch(hostPvc(), null)).toEqual({
      metadata: { resourceVersion: '5', annotations: { [ANNOTATION_CLUSTER_OWNERS]: null } },
    });
    expect(ownersPatch(hostPvc(), 'leaf-2')).toEqual({
      metadata: { resourceVersion: '5', annotations: { [ANNOTATION_CLUSTER_OWNERS]: 'leaf-2' } },
    });
  });

  const sized = (o: Obj, storage: string | undefined, rv = '7'): Obj => ({
    ...o,
    metadata: { ...o.metadata, resourceVersion: rv },
    spec: { ...(o['spec'] as object), resources: storage === undefined ? {} : { requests: { storage } } },
  });

  it('a leaf copy is resized only when the host asks for more, compared as quantities', () => {
    const copy = sized(leafPvcFor(hostPvc()), '1Gi');
    expect(storageRequestOf(copy)).toBe('1Gi');
    expect(claimResizePatch(sized(hostPvc(), '2Gi'), copy)).toEqual({
      metadata: { resourceVersion: '7' },
      spec: { resources: { requests: { storage: '2Gi' } } },
    });
    expect(claimResizePatch(sized(hostPvc(), '1Gi'), copy)).toBeUndefined();
    expect(claimResizePatch(sized(hostPvc(), '1024Mi'), copy)).toBeUndefined(); // same size, other unit
    expect(claimResizePatch(sized(hostPvc(), '1G'), copy)).toBeUndefined(); // 1G < 1Gi: never shrink
    expect(claimResizePatch(sized(hostPvc(), '1100M'), copy)).toEqual({
      metadata: { resourceVersion: '7' },
      spec: { resources: { requests: { storage: '1100M' } } },
    });
  });

  it('a copy not marked as ours, or a request that is missing or not a quantity, is left alone', () => {
    const copy = sized(leafPvcFor(hostPvc()), '1Gi');
    const foreign = { ...copy, metadata: { ...copy.metadata, annotations: {} } } as Obj;
    expect(claimResizePatch(sized(hostPvc(), '2Gi'), foreign)).toBeUndefined();
    expect(claimResizePatch(sized(hostPvc(), undefined), copy)).toBeUndefined();
    expect(claimResizePatch(sized(hostPvc(), 'lots'), copy)).toBeUndefined();
    expect(claimResizePatch(sized(hostPvc(), '2Gi'), sized(copy, 'lots'))).toBeUndefined();
  });

  it('a changed storage request on the host PVC, or its first sight, concerns every owner; other changes none', () => {
    const before = sized(hostPvc({ [ANNOTATION_CLUSTER_OWNERS]: 'leaf-1,leaf-2' }), '1Gi');
    const after = sized(before, '2Gi', '8');
    expect(resizedClaimOwners(after, before)).toEqual(['leaf-1', 'leaf-2']);
    expect(resizedClaimOwners(after, undefined)).toEqual(['leaf-1', 'leaf-2']); // start or relist
    expect(resizedClaimOwners(sized(before, '1Gi', '9'), before)).toEqual([]);
    expect(resizedClaimOwners(sized(hostPvc(), '2Gi'), sized(hostPvc(), '1Gi'))).toEqual([]); // no owner yet
  });
});
