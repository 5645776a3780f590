/**
 * Host pod → leaf pod. The leaf pod has the host pod's name, namespace, labels and
 * containers, plus `kosmos-io/pod=true`; what only made sense in the host is removed or
 * rewritten so the leaf's scheduler and kubelets can run it:
 *
 * - scheduling aimed at virtual nodes (nodeName, schedulerName, nodeSelector, required node
 *   affinity, topology spread) is dropped; one2one pins the pod to its member node and
 *   one2party to the party's selector; tolerations are kept, since leaf taints mean the same;
 * - priority is left to the leaf's admission (the class may not exist there);
 * - the host's service-account token volume is replaced by one built from leaf copies of a
 *   host token Secret and the host CA, with KUBERNETES_SERVICE_HOST/PORT pointing at the host
 *   apiserver, so in-cluster clients in the leaf talk to the host, where the user deployed;
 * - the host CA ConfigMap is renamed wherever it is referenced;
 * - PodConvertPolicies are applied last.
 */
import {
  ANNOTATION_CONVERT_POLICY,
  ANNOTATION_HOST_METADATA_KEYS,
  LABEL_POD,
  type LeafMode,
} from '../../api/constants.js';
import type { Container, NodeSelectorRequirement, Pod, Volume } from '../../api/core.js';
import type { LabelSelector } from '../../api/meta.js';
import {
  HOST_TOKEN_VOLUME_PREFIX,
  LEGACY_TOKEN_VOLUME_PREFIX,
  ROOT_CA_CONFIGMAP,
  SERVICE_ACCOUNT_MOUNT_PATH,
} from '../names.js';
import { applyConverters, selectConvertPolicy, type ConvertPolicies } from './convert-policy.js';
import { leafConfigMapName, serviceAccountOf, tokenSecretName, wantsApiCredentials } from './dependencies.js';
import { hostKeysAnnotation } from './pod-update.js';

export interface LeafPodContext {
  mode: LeafMode;
  /** Labels of the virtual node the pod is bound to (for convert policies' leafNodeSelector). */
  virtualNodeLabels: Record<string, string>;
  /** one2one: the member node the pod runs on. */
  memberNodeName?: string;
  /** one2party: the member nodes' selector. */
  partySelector?: LabelSelector;
  policies: ConvertPolicies;
  /** Where leaf pods reach the host apiserver. */
  hostApiserver?: { host: string; port: number };
}

/** Name of the volume carrying host API credentials in the leaf pod. */
export const LEAF_TOKEN_VOLUME = 'kosmos-host-api-access';

const isTokenVolume = (name: string): boolean =>
  name.startsWith(HOST_TOKEN_VOLUME_PREFIX) || name.startsWith(LEGACY_TOKEN_VOLUME_PREFIX);

function partyAffinity(selector: LabelSelector): NodeSelectorRequirement[] {
  const reqs: NodeSelectorRequirement[] = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => ({
    key,
    operator: 'In',
    values: [value],
  }));
  for (const e of selector.matchExpressions ?? [])
    reqs.push({ key: e.key, operator: e.operator, ...(e.values ? { values: [...e.values] } : {}) });
  return reqs;
}

function renameRootCa(v: Volume): Volume {
  if (v.configMap?.name) v.configMap = { ...v.configMap, name: leafConfigMapName(v.configMap.name) };
  if (v.projected?.sources) {
    v.projected.sources = v.projected.sources.map((s) => {
      const cm = s['configMap'] as { name?: string } | undefined;
      return cm?.name ? { ...s, configMap: { ...cm, name: leafConfigMapName(cm.name) } } : s;
    });
  }
  return v;
}

function rewriteContainer(
  c: Container,
  tokenMount: boolean,
  hostApiserver: LeafPodContext['hostApiserver'],
): Container {
  const mounts = (c.volumeMounts ?? []).filter((m) => !isTokenVolume(m.name));
  const hadToken = mounts.length !== (c.volumeMounts ?? []).length;
  if (tokenMount && hadToken)
    mounts.push({ name: LEAF_TOKEN_VOLUME, mountPath: SERVICE_ACCOUNT_MOUNT_PATH, readOnly: true });
  const out: Container = { ...c };
  if (mounts.length > 0) out.volumeMounts = mounts;
  else delete out.volumeMounts;
  for (const ref of ['configMapKeyRef'] as const) {
    for (const e of out.env ?? []) {
      const r = e.valueFrom?.[ref] as { name?: string } | undefined;
      if (r?.name) e.valueFrom = { ...e.valueFrom, [ref]: { ...r, name: leafConfigMapName(r.name) } };
    }
  }
  if (tokenMount && hadToken && hostApiserver) {
    const env = (out.env ?? []).filter(
      (e) => e.name !== 'KUBERNETES_SERVICE_HOST' && e.name !== 'KUBERNETES_SERVICE_PORT',
    );
    env.push(
      { name: 'KUBERNETES_SERVICE_HOST', value: hostApiserver.host },
      { name: 'KUBERNETES_SERVICE_PORT', value: String(hostApiserver.port) },
    );
    out.env = env;
  }
  return out;
}

export function leafPodFor(host: Pod, ctx: LeafPodContext): Pod {
  const src = structuredClone(host);
  const meta = src.metadata ?? {};
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: meta.name,
      namespace: meta.namespace,
      labels: { ...(meta.labels ?? {}), [LABEL_POD]: 'true' },
      // Which keys came from the host, so a later update can tell removals from leaf-only keys.
      annotations: {
        ...(meta.annotations ?? {}),
        [ANNOTATION_HOST_METADATA_KEYS]: hostKeysAnnotation(
          { ...(meta.labels ?? {}), [LABEL_POD]: 'true' },
          meta.annotations,
        ),
      },
    },
    spec: src.spec,
  };
  const spec = pod.spec;
  // Scheduling aimed at virtual nodes means nothing to the leaf's scheduler.
  delete spec.nodeName;
  delete spec.schedulerName;
  delete spec.nodeSelector;
  delete spec.topologySpreadConstraints;
  delete spec['nominatedNodeName'];
  if (spec.affinity?.nodeAffinity) {
    delete spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution;
    delete spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution;
    delete spec.affinity.nodeAffinity;
  }
  if (spec.affinity && Object.keys(spec.affinity).length === 0) delete spec.affinity;
  if (ctx.mode === 'one2one' && ctx.memberNodeName) spec.nodeName = ctx.memberNodeName;
  if (ctx.mode === 'one2party' && ctx.partySelector) {
    const reqs = partyAffinity(ctx.partySelector);
    if (reqs.length > 0) {
      spec.affinity = {
        ...(spec.affinity ?? {}),
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: reqs }] },
        },
      };
    }
  }
  // The leaf's priority admission computes these from its own classes, and refuses a
  // pod that names a class it does not have.
  delete spec.priority;
  delete spec.priorityClassName;
  delete spec['preemptionPolicy'];

  const credentials = wantsApiCredentials(host);
  const volumes = (spec.volumes ?? []).filter((v) => !isTokenVolume(v.name)).map(renameRootCa);
  const hadTokenVolume = volumes.length !== (spec.volumes ?? []).length;
  if (credentials && hadTokenVolume) {
    volumes.push({
      name: LEAF_TOKEN_VOLUME,
      projected: {
        defaultMode: 0o644,
        sources: [
          {
            secret: {
              name: tokenSecretName(serviceAccountOf(host)),
              items: [{ key: 'token', path: 'token' }],
            },
          },
          {
            configMap: {
              name: leafConfigMapName(ROOT_CA_CONFIGMAP),
              items: [{ key: 'ca.crt', path: 'ca.crt' }],
            },
          },
          {
            downwardAPI: {
              items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
            },
          },
        ],
      },
    });
  }
  if (volumes.length > 0) spec.volumes = volumes;
  else delete spec.volumes;
  spec.containers = spec.containers.map((c) => rewriteContainer(c, credentials, ctx.hostApiserver));
  if (spec.initContainers)
    spec.initContainers = spec.initContainers.map((c) => rewriteContainer(c, credentials, ctx.hostApiserver));
  // The leaf must not mount a token of its own: it would authenticate to the wrong cluster.
  spec.automountServiceAccountToken = false;

  const policy = selectConvertPolicy(
    ctx.policies,
    pod.metadata?.labels,
    ctx.virtualNodeLabels,
    meta.namespace ?? 'default',
  );
  if (policy?.spec.converters) {
    applyConverters(pod, policy.spec.converters);
    pod.metadata = {
      ...pod.metadata,
      annotations: {
        ...(pod.metadata?.annotations ?? {}),
        [ANNOTATION_CONVERT_POLICY]: policy.metadata.name ?? '',
      },
    };
  }
  return pod;
}
