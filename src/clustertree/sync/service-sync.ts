/**
 * Job `services` (one leaf, one namespace): the leaf copies of the namespace's host Services
 * and EndpointSlices, brought to what transform/services.ts plans from the host watch caches,
 * the leaf pod cache (does the leaf run pods of the namespace?) and the leaf's Services and
 * slices as they are now. Each copy is applied whole (server-side apply), a slice with an
 * owner reference to its Service copy so the leaf's garbage collector removes what a
 * deleted Service leaves behind.
 */
import { FIELD_MANAGER } from '../../api/constants.js';
import type { KubeObject } from '../../api/meta.js';
import type { ListResult } from '../../common/kube.js';
import { planLeafServices, type EndpointSlice, type Service } from '../transform/services.js';
import type { ClusterTreeContext } from './context.js';
import { ensureNamespace } from './dependency-sync.js';
import type { Leaf } from './leaf-registry.js';

const inNamespace =
  (ns: string) =>
  (o: KubeObject): boolean =>
    o.metadata?.namespace === ns;

/** Conflicts already reported by this process, so each is logged once. */
const reported = new Set<string>();

export async function reconcileServices(ctx: ClusterTreeContext, leaf: Leaf, ns: string): Promise<void> {
  const used = leaf.pods.list().some(inNamespace(ns));
  const path = (group: string, plural: string) => `${group}/namespaces/${encodeURIComponent(ns)}/${plural}`;
  const [leafServices, leafSlices] = await Promise.all([
    leaf.client.request<ListResult<Service>>('GET', path('/api/v1', 'services')),
    leaf.client.request<ListResult<EndpointSlice>>(
      'GET',
      path('/apis/discovery.k8s.io/v1', 'endpointslices'),
    ),
  ]);
  const plan = planLeafServices({
    used,
    hostServices: ctx.caches.services.list().filter(inNamespace(ns)) as Service[],
    hostSlices: ctx.caches.endpointSlices.list().filter(inNamespace(ns)) as EndpointSlice[],
    leafServices: leafServices.items,
    leafSlices: leafSlices.items,
  });
  if (plan.apply.length > 0) await ensureNamespace(leaf, ns);
  for (const { service, slices, recreate } of plan.apply) {
    if (recreate) await leaf.client.delete(service);
    const applied = await leaf.client.apply(service, FIELD_MANAGER);
    const owner = {
      apiVersion: 'v1',
      kind: 'Service',
      name: applied.metadata?.name ?? '',
      uid: applied.metadata?.uid ?? '',
    };
    for (const slice of slices)
      await leaf.client.apply(
        { ...slice, metadata: { ...slice.metadata, ownerReferences: [owner] } },
        FIELD_MANAGER,
      );
  }
  for (const name of plan.deleteSlices)
    await leaf.client.delete({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name, namespace: ns },
    });
  for (const name of plan.deleteServices)
    await leaf.client.delete({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns } });
  if (plan.deleteServices.length > 0)
    ctx.log.info('removed unused leaf Service copies', {
      cluster: leaf.name,
      namespace: ns,
      services: plan.deleteServices,
    });
  for (const name of plan.conflicts) {
    const key = `${leaf.name}/${ns}/${name}`;
    if (reported.has(key)) continue;
    reported.add(key);
    ctx.log.warn('the leaf has a Service of the same name that ClusterTree did not make; leaving it', {
      cluster: leaf.name,
      namespace: ns,
      name,
    });
  }
}
