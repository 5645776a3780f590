/**
 * Where the member clusters come from: a static list (CLI flags, tests, the sandbox) or the
 * host's kosmos.io Cluster objects (spec.kubeconfig, base64) plus the host itself.
 */
import { API_VERSION } from '../../api/constants.js';
import type { Cluster } from '../../api/kinds.js';
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

/** The host (under `hostName`) plus every Cluster object with an inline kubeconfig. */
export function hostClusterSource(hostKubeconfig: string | undefined, hostName: string): ClusterSource {
  const hostKc = loadKubeConfig(hostKubeconfig);
  const client = new KubeClient(hostKc);
  return {
    list: async () => {
      const clusters = await client.list<Cluster>(API_VERSION, 'Cluster');
      const members: MemberCluster[] = [
        { name: hostName, kubeConfig: hostKc, fingerprint: hostKubeconfig ?? 'default' },
      ];
      for (const c of clusters.items) {
        const name = c.metadata.name ?? '';
        if (!c.spec.kubeconfig || name === hostName || c.metadata.deletionTimestamp) continue;
        const text = Buffer.from(c.spec.kubeconfig, 'base64').toString('utf8');
        members.push({ name, kubeConfig: kubeConfigFromString(text), fingerprint: text });
      }
      return members;
    },
  };
}
