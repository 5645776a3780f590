/**
 * Points a cluster's CoreDNS at its Kosmos clusterset DNS server: a `clusterset.local` server
 * block between markers in kube-system/coredns's Corefile (the shape of
 * deploy/mcs/coredns-clusterset.yaml; Submariner's Lighthouse edits CoreDNS the same way).
 * Only the marked block is ever written or removed; the rest of the Corefile is kept byte for
 * byte. CoreDNS's `reload` plugin (on in kubeadm and most distributions) picks it up.
 */
import type { KubeObject } from '../../api/meta.js';
import { describeError } from '../../common/errors.js';
import { isNotFound, type KubeClient } from '../../common/kube.js';
import type { Progress } from './progress.js';

export const COREDNS_START = '#kosmos-mcs-start';
export const COREDNS_END = '#kosmos-mcs-end';
const ZONE = 'clusterset.local';

/** The Corefile block that forwards the clusterset zone to `ip`. */
export function clustersetBlock(ip: string): string {
  return [
    COREDNS_START,
    `${ZONE}:53 {`,
    '    errors',
    '    cache 5',
    `    forward . ${ip}`,
    '}',
    COREDNS_END,
  ].join('\n');
}

/** The Corefile without Kosmos' block (unchanged when it has none). */
export function withoutClustersetBlock(corefile: string): string {
  const start = corefile.indexOf(COREDNS_START);
  if (start === -1) return corefile;
  const endMarker = corefile.indexOf(COREDNS_END, start);
  if (endMarker === -1) return corefile; // a half block someone edited: not ours to guess at
  let end = endMarker + COREDNS_END.length;
  if (corefile[end] === '\n') end++;
  return corefile.slice(0, start) + corefile.slice(end);
}

/** The Corefile with Kosmos' block first, forwarding to `ip` (replacing an earlier block). */
export function withClustersetBlock(corefile: string, ip: string): string {
  return `${clustersetBlock(ip)}\n${withoutClustersetBlock(corefile)}`;
}

/** Whether a Corefile already serves the zone outside Kosmos' block (then it is left alone). */
export function servesZoneElsewhere(corefile: string): boolean {
  return withoutClustersetBlock(corefile)
    .split('\n')
    .some((l) => l.trim().startsWith(`${ZONE}:`) || l.trim().startsWith(`${ZONE} `));
}

type ConfigMap = KubeObject & { data?: Record<string, string> };

async function corednsConfigMap(client: KubeClient): Promise<ConfigMap | undefined> {
  return await client.getOrUndefined<ConfigMap>('v1', 'ConfigMap', 'coredns', 'kube-system');
}

async function writeCorefile(client: KubeClient, cm: ConfigMap, corefile: string): Promise<void> {
  // A replace carrying the resourceVersion: a concurrent edit of the Corefile is not lost.
  await client.request('PUT', '/api/v1/namespaces/kube-system/configmaps/coredns', {
    ...cm,
    data: { ...cm.data, Corefile: corefile },
  });
}

/**
 * Adds (or updates) the block forwarding clusterset.local to the cluster's kosmos-mcs-dns
 * Service. Clusters without a kube-system/coredns Corefile, or whose Corefile already serves
 * the zone itself, are told so and left alone.
 */
export async function configureCoreDns(
  client: KubeClient,
  namespace: string,
  cluster: string,
  progress: Progress,
): Promise<void> {
  try {
    const svc = await client.getOrUndefined<KubeObject & { spec?: { clusterIP?: string } }>(
      'v1',
      'Service',
      'kosmos-mcs-dns',
      namespace,
    );
    const ip = svc?.spec?.clusterIP;
    if (!ip || ip === 'None') {
      progress(`${cluster}: Service ${namespace}/kosmos-mcs-dns has no cluster IP; CoreDNS not changed`);
      return;
    }
    const cm = await corednsConfigMap(client);
    const corefile = cm?.data?.['Corefile'];
    if (!cm || corefile === undefined) {
      progress(
        `${cluster}: no kube-system/coredns Corefile; point your DNS at ${ip} for ${ZONE} (deploy/mcs/coredns-clusterset.yaml)`,
      );
      return;
    }
    if (servesZoneElsewhere(corefile)) {
      progress(`${cluster}: CoreDNS already serves ${ZONE} outside Kosmos' block; left as it is`);
      return;
    }
    const next = withClustersetBlock(corefile, ip);
    if (next === corefile) return;
    await writeCorefile(client, cm, next);
    progress(`${cluster}: CoreDNS forwards ${ZONE} to ${ip}`);
  } catch (e) {
    progress(`${cluster}: warning: could not configure CoreDNS for ${ZONE} (${describeError(e)})`);
  }
}

/** Takes Kosmos' block out of the cluster's Corefile, if it is there. */
export async function unconfigureCoreDns(
  client: KubeClient,
  cluster: string,
  progress: Progress,
): Promise<void> {
  try {
    const cm = await corednsConfigMap(client);
    const corefile = cm?.data?.['Corefile'];
    if (!cm || corefile === undefined) return;
    const next = withoutClustersetBlock(corefile);
    if (next === corefile) return;
    await writeCorefile(client, cm, next);
    progress(`${cluster}: CoreDNS no longer forwards ${ZONE}`);
  } catch (e) {
    if (isNotFound(e)) return;
    progress(`${cluster}: warning: could not remove Kosmos' block from CoreDNS (${describeError(e)})`);
  }
}
