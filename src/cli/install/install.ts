/** `kosmosctl install` and `uninstall` against the host cluster. */
import type { KubeObject } from '../../api/meta.js';
import { UserError } from '../../common/errors.js';
import { type KubeClient, isNotServed } from '../../common/kube.js';
import { applyObjects, deleteObjects, waitForWorkloads, type ApplyReport } from './apply.js';
import { configureCoreDns, unconfigureCoreDns } from './coredns.js';
import { ensureHostCluster, isRootCluster, linkHostMembers, unlinkHost } from './host-link.js';
import type { Progress } from './progress.js';
import { defaultLayout, renderHost, type Layout } from './render.js';
import { ensureWebhookCa, newWebhookCertSecret } from './webhook-certs.js';
import { WEBHOOK_CERT_SECRET, type HostValues } from './values.js';

export interface InstallOptions {
  values: HostValues;
  /** 'client' renders only; 'server' asks the apiserver to validate without persisting. */
  dryRun?: 'client' | 'server';
  /** With the mcs module: add the clusterset.local block to the host's CoreDNS (default true). */
  coreDns?: boolean;
  /** With the clusterlink module: link the host's own nodes too (default true; see host-link.ts). */
  linkHost?: boolean;
  /** With linkHost: the host apiserver as its nodes' agents reach it (default: this kubeconfig's). */
  hostServer?: string;
  wait: boolean;
  timeoutMs: number;
  progress: Progress;
  layout?: Layout;
}

export interface InstallResult {
  objects: KubeObject[];
  report?: ApplyReport;
}

/** Renders with the install's webhook CA (created on first install, reused afterwards). */
export async function renderForInstall(
  client: KubeClient | undefined,
  o: InstallOptions,
): Promise<KubeObject[]> {
  const v = { ...o.values };
  if (v.modules.webhooks && !v.caBundle) {
    v.caBundle = client
      ? await ensureWebhookCa(client, v.namespace, o.dryRun !== undefined)
      : ((await newWebhookCertSecret(v.namespace)).data?.['ca.crt'] ?? '');
  }
  return renderHost(v, o.layout ?? defaultLayout());
}

export async function install(client: KubeClient | undefined, o: InstallOptions): Promise<InstallResult> {
  if (o.dryRun === 'client') return { objects: await renderForInstall(undefined, o) };
  if (!client) throw new UserError('install needs a host cluster kubeconfig');
  const dryRun = o.dryRun === 'server';
  // The namespace first: the webhook Secret (created before rendering, for its CA) lives in it.
  const objects0 = renderHost({ ...o.values, caBundle: o.values.caBundle || 'cGVuZGluZw==' }, o.layout);
  const ns = objects0.filter((x) => x.kind === 'Namespace');
  if (!dryRun) await applyObjects(client, ns, { dryRun, progress: () => {} });
  const objects = await renderForInstall(client, o);
  o.progress(
    `${dryRun ? 'checking' : 'applying'} ${objects.length} objects in namespace ${o.values.namespace}`,
  );
  // The host's own Cluster goes in before the webhook configurations (see host-link.ts).
  const linkHost = !dryRun && o.values.modules.clusterlink && o.linkHost !== false;
  const hooks = (x: KubeObject) => linkHost && !!x.kind?.endsWith('WebhookConfiguration');
  const report = await applyObjects(
    client,
    objects.filter((x) => !hooks(x)),
    { dryRun, progress: o.progress },
  );
  if (linkHost) {
    await ensureHostCluster(client, o);
    const last = await applyObjects(client, objects.filter(hooks), { dryRun, progress: o.progress });
    report.applied.push(...last.applied);
  }
  if (report.unchecked.length > 0)
    o.progress(
      `namespace ${o.values.namespace} does not exist yet, so the server did not check ${report.unchecked.length} namespaced objects`,
    );
  if (!dryRun && o.values.modules.mcs && o.coreDns !== false)
    await configureCoreDns(client, o.values.namespace, 'host', o.progress);
  if (!dryRun && o.wait)
    await waitForWorkloads(client, objects, { timeoutMs: o.timeoutMs, progress: o.progress });
  if (linkHost) {
    // The host's agents and electors are components too: `install` returns once they run.
    const members = await linkHostMembers(client, o);
    if (o.wait) await waitForWorkloads(client, members, { timeoutMs: o.timeoutMs, progress: o.progress });
  }
  return { objects, report };
}

export interface UninstallOptions {
  values: HostValues;
  keepCrds: boolean;
  timeoutMs: number;
  progress: Progress;
  layout?: Layout;
}

export async function uninstall(client: KubeClient, o: UninstallOptions): Promise<void> {
  // Clusters carry finalizers that ClusterTree removes: with ClusterTree gone first they
  // would hang, and the CRDs with them.
  let clusters: string[];
  try {
    clusters = (await client.list<KubeObject>('kosmos.io/v1alpha1', 'Cluster')).items
      .filter((c) => !isRootCluster(c)) // the host's own, from install: removed below
      .map((c) => c.metadata?.name ?? '');
  } catch {
    clusters = []; // no CRD: nothing joined
  }
  if (clusters.length > 0)
    throw new UserError(
      `${clusters.length} cluster(s) still joined (${clusters.join(', ')}): run 'kosmosctl unjoin cluster --name <name>' for each first`,
    );
  const rendered = renderHost({ ...o.values, caBundle: 'dW5pbnN0YWxs' }, o.layout ?? defaultLayout());
  const certSecret: KubeObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: WEBHOOK_CERT_SECRET, namespace: o.values.namespace },
  };
  // The cert Secret goes right after the workloads, before the namespace (last in reverse).
  const [first, ...rest] = rendered;
  const objects = first?.kind === 'Namespace' ? [first, certSecret, ...rest] : [certSecret, ...rendered];
  const toDelete = o.keepCrds ? objects.filter((x) => x.kind !== 'CustomResourceDefinition') : objects;
  await unconfigureCoreDns(client, 'host', o.progress);
  // Without the kosmos.io CRDs there is no host Cluster to unlink.
  await unlinkHost(client, o).catch((e: unknown) => {
    if (!isNotServed(e) && !isNotServed((e as { cause?: unknown }).cause)) throw e;
  });
  await deleteObjects(client, toDelete, { timeoutMs: o.timeoutMs, progress: o.progress });
}
