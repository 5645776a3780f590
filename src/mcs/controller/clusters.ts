/**
 * Where the member clusters come from: a static list (CLI flags, tests, the sandbox) or the
 * host's kosmos.io Cluster objects (inline or Secret-held kubeconfigs) plus the host itself.
 */
import { ANNOTATION_CLUSTER_ROLE, API_VERSION } from '../../api/constants.js';
import type { Cluster } from '../../api/kinds.js';
import { clusterKubeconfigText } from '../../common/cluster-kubeconfig.js';
import { UserError } from '../../common/errors.js';
import { KubeClient, kubeConfigFromString, loadKubeConfig } from '../../common/kube.js';
import type { KubeConfig } from '@kubernetes/client-node';

export interface MemberCluster {
  name: string;
  kubeConfig: KubeConfig;
  /** Identifies the credentials, so a changed kubeconfig restarts the member. */
  fingerprint: string;
}

export interface ClusterSource {
  list(): Promise<MemberCluster[]>;
}

const RFC1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Parses `NAME=KUBECONFIG` flags. */
export function parseClusterFlag(flag: string): { name: string; kubeconfig: string } {
  const i = flag.indexOf('=');
  const name = i > 0 ? flag.slice(0, i) : '';
  const kubeconfig = i > 0 ? flag.slice(i + 1) : '';
  if (!name || !kubeconfig) throw new UserError(`--cluster ${flag}: want NAME=KUBECONFIG`);
  if (!RFC1123_LABEL.test(name) || name.length > 63) {
    throw new UserError(
      `--cluster ${flag}: the cluster name "${name}" must be an RFC 1123 label (it becomes the source-cluster label value)`,
    );
  }
  return { name, kubeconfig };
}

export function staticSource(flags: readonly string[]): ClusterSource {
  const parsed = flags.map(parseClusterFlag);
  const seen = new Set<string>();
  for (const p of parsed) {
    if (seen.has(p.name)) throw new UserError(`--cluster ${p.name}: given twice`);
    seen.add(p.name);
  }
  return {
    list: async () =>
      parsed.map((p) => ({
        name: p.name,
        kubeConfig: loadKubeConfig(p.kubeconfig),
        fingerprint: p.kubeconfig,
      })),
  };
}

/**
 * The host (under `hostName`) plus every Cluster object with credentials: inline
 * (spec.kubeconfig) or in a Secret (spec.kubeconfigSecretRef, as `kosmosctl join` writes
 * them). The host's own Cluster (kosmos.io/cluster-role=root) is the host entry already.
 * A Cluster whose credentials cannot be read right now keeps its last known ones, so a
 * passing apiserver error never removes a member's services from the clusterset; one never
 * read is left out until it can be (`onError` is told either way).
 */
export function hostClusterSource(
  hostKubeconfig: string | undefined,
  hostName: string,
  onError: (cluster: string, err: unknown) => void = () => {},
): ClusterSource {
  const hostKc = loadKubeConfig(hostKubeconfig);
  const client = new KubeClient(hostKc);
  const lastGood = new Map<string, MemberCluster>();
  return {
    list: async () => {
      const clusters = await client.list<Cluster>(API_VERSION, 'Cluster');
      const members: MemberCluster[] = [
        { name: hostName, kubeConfig: hostKc, fingerprint: hostKubeconfig ?? 'default' },
      ];
      const seen = new Set<string>();
      for (const c of clusters.items) {
        const name = c.metadata.name ?? '';
        if (name === hostName || c.metadata.deletionTimestamp) continue;
        if (c.metadata.annotations?.[ANNOTATION_CLUSTER_ROLE] === 'root') continue;
        seen.add(name);
        try {
          const text = await clusterKubeconfigText(client, c);
          if (text === undefined) continue;
          const prev = lastGood.get(name);
          const m =
            prev && prev.fingerprint === text
              ? prev
              : { name, kubeConfig: kubeConfigFromString(text), fingerprint: text };
          lastGood.set(name, m);
          members.push(m);
        } catch (e) {
          onError(name, e);
          const prev = lastGood.get(name);
          if (prev) members.push(prev);
        }
      }
      for (const name of lastGood.keys()) if (!seen.has(name)) lastGood.delete(name);
      return members;
    },
  };
}
