/**
 * The namespaced objects a pod needs in the leaf before it can start there: ConfigMaps and
 * Secrets it mounts or reads into env, image pull Secrets, its ServiceAccount, its PVCs, and
 * the Secret holding the host token it is given in place of a leaf token.
 */
import type { Container, Pod } from '../../api/core.js';
import { HOST_CA_CONFIGMAP_IN_LEAF, ROOT_CA_CONFIGMAP } from '../names.js';

export type DependencyKind = 'ConfigMap' | 'Secret' | 'ServiceAccount' | 'PersistentVolumeClaim';

export interface Dependency {
  kind: DependencyKind;
  /** Name in the host. */
  name: string;
  /** Name in the leaf (the host CA ConfigMap is renamed so it does not clash with the leaf's). */
  leafName: string;
}

/** Host Secret holding a long-lived token of a ServiceAccount, copied to the leaf for its pods. */
export const tokenSecretName = (serviceAccount: string): string => `kosmos-${serviceAccount}-token`;

export const serviceAccountOf = (pod: Pod): string =>
  pod.spec.serviceAccountName ?? (pod.spec['serviceAccount'] as string | undefined) ?? 'default';

/** The host pod asked for API credentials (the host's admission mounted a token). */
export function wantsApiCredentials(pod: Pod): boolean {
  return pod.spec.automountServiceAccountToken !== false;
}

export const leafConfigMapName = (name: string): string =>
  name === ROOT_CA_CONFIGMAP ? HOST_CA_CONFIGMAP_IN_LEAF : name;

interface Sources {
  configMap?: { name?: string };
  secret?: { name?: string };
}

function fromContainers(
  containers: readonly Container[] | undefined,
  add: (kind: DependencyKind, name: string) => void,
): void {
  for (const c of containers ?? []) {
    for (const e of c.env ?? []) {
      const from = e.valueFrom as
        { configMapKeyRef?: { name?: string }; secretKeyRef?: { name?: string } } | undefined;
      if (from?.configMapKeyRef?.name) add('ConfigMap', from.configMapKeyRef.name);
      if (from?.secretKeyRef?.name) add('Secret', from.secretKeyRef.name);
    }
    for (const e of c.envFrom ?? []) {
      const ef = e as { configMapRef?: { name?: string }; secretRef?: { name?: string } };
      if (ef.configMapRef?.name) add('ConfigMap', ef.configMapRef.name);
      if (ef.secretRef?.name) add('Secret', ef.secretRef.name);
    }
  }
}

export function podDependencies(pod: Pod): Dependency[] {
  const out = new Map<string, Dependency>();
  const add = (kind: DependencyKind, name: string) => {
    const leafName = kind === 'ConfigMap' ? leafConfigMapName(name) : name;
    out.set(`${kind}/${name}`, { kind, name, leafName });
  };
  for (const v of pod.spec.volumes ?? []) {
    if (v.configMap?.name) add('ConfigMap', v.configMap.name);
    if (v.secret?.secretName) add('Secret', v.secret.secretName);
    if (v.persistentVolumeClaim?.claimName) add('PersistentVolumeClaim', v.persistentVolumeClaim.claimName);
    for (const s of (v.projected?.sources ?? []) as Sources[]) {
      if (s.configMap?.name) add('ConfigMap', s.configMap.name);
      if (s.secret?.name) add('Secret', s.secret.name);
    }
  }
  fromContainers(pod.spec.containers, add);
  fromContainers(pod.spec.initContainers, add);
  for (const s of (pod.spec['imagePullSecrets'] as { name?: string }[] | undefined) ?? [])
    if (s.name) add('Secret', s.name);
  const sa = serviceAccountOf(pod);
  add('ServiceAccount', sa);
  if (wantsApiCredentials(pod)) {
    add('Secret', tokenSecretName(sa));
    add('ConfigMap', ROOT_CA_CONFIGMAP);
  }
  return [...out.values()].sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));
}

/** The dependency key of a leaf object ("ConfigMap/x"), to compare against what pods use. */
export const dependencyKey = (kind: DependencyKind, leafName: string): string => `${kind}/${leafName}`;
