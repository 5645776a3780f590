/**
 * Renders what `kosmosctl install` applies to the host cluster and what `join` applies to a
 * member, as plain objects in apply order. Pure apart from reading the files under deploy/
 * and config/ (the same files the image and the Helm chart carry).
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { DEFAULT_SCHEDULER_NAME } from '../../api/constants.js';
import type { KubeObject } from '../../api/meta.js';
import { KosmosError } from '../../common/errors.js';
import { renderWebhookConfigurations } from '../../webhooks/configurations.js';
import { renderTemplate } from './template.js';
import {
  EXTENDER_PORT,
  EXTENDER_SERVICE,
  LABEL_MANAGED_BY,
  LABEL_PART_OF,
  PART_OF,
  SCHEDULER_CONFIG_KEY,
  SCHEDULER_CONFIG_MAP,
  WEBHOOK_SERVICE,
  hostTemplateValues,
  memberTemplateValues,
  MODULES,
  type HostValues,
  type MemberValues,
  type Module,
} from './values.js';

/** The repository (or image) root: dist/cli/install and src/cli/install are both three levels down. */
export function installRoot(): string {
  return new URL('../../../', import.meta.url).pathname;
}

export interface Layout {
  deploy: string;
  config: string;
}

export function defaultLayout(root = installRoot()): Layout {
  return { deploy: join(root, 'deploy'), config: join(root, 'config') };
}

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .map((f) => join(dir, f));
}

function parseObjects(text: string, name: string): KubeObject[] {
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new KosmosError(`${name}: ${doc.errors[0]?.message ?? 'bad YAML'}`);
    const obj = doc.toJS() as KubeObject | null;
    if (obj === null || obj === undefined) continue;
    if (!obj.apiVersion || !obj.kind || !obj.metadata?.name)
      throw new KosmosError(`${name}: every document needs apiVersion, kind and metadata.name`);
    out.push(obj);
  }
  return out;
}

/**
 * A template file belongs to the part named after its order prefix: `30-scheduler.yaml`,
 * `60-clusterlink-network-manager.yaml`. The chart decides the same way from the same names.
 */
export function filePart(file: string): string {
  const m = /^\d+-([a-z]+)/.exec(basename(file));
  if (!m?.[1])
    throw new KosmosError(`${file}: template names start with <order>-<part>, e.g. 30-scheduler.yaml`);
  return m[1];
}

function renderDir(
  dir: string,
  values: Parameters<typeof renderTemplate>[1],
  include: (part: string) => boolean,
): KubeObject[] {
  return yamlFiles(dir)
    .filter((f) => include(filePart(f)))
    .flatMap((f) => parseObjects(renderTemplate(readFileSync(f, 'utf8'), values, f), f));
}

/** Parts of the host install: core always, the bundled Redis unless another is given, then the modules. */
export function hostPartIncluded(v: HostValues, part: string): boolean {
  if (part === 'core') return true;
  if (part === 'redis') return v.redisUrl === '';
  if ((MODULES as readonly string[]).includes(part)) return v.modules[part as Module];
  throw new KosmosError(`deploy/kosmos: unknown part "${part}" (core, redis, ${MODULES.join(', ')})`);
}

/** Objects whose files are not templates (CRDs, webhook configurations) get the labels here. */
function labelled<T extends KubeObject>(obj: T, managedBy: string): T {
  const meta = obj.metadata ?? {};
  return {
    ...obj,
    metadata: {
      ...meta,
      labels: { ...meta.labels, [LABEL_PART_OF]: PART_OF, [LABEL_MANAGED_BY]: managedBy },
    },
  };
}

/**
 * Apply order: what others refer to comes first (a RoleBinding needs its namespace, a
 * Deployment its ServiceAccount and ConfigMap, a webhook configuration its Service, and
 * webhooks last so a half-installed Kosmos never intercepts anything).
 */
const KIND_ORDER = [
  'Namespace',
  'CustomResourceDefinition',
  'ServiceAccount',
  'Secret',
  'ConfigMap',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'Service',
  'DaemonSet',
  'Deployment',
  'PodDisruptionBudget',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
];

export function applyOrder(objects: KubeObject[]): KubeObject[] {
  const rank = (o: KubeObject) => {
    const i = KIND_ORDER.indexOf(o.kind ?? '');
    return i === -1 ? KIND_ORDER.indexOf('Service') : i;
  };
  // Stable: objects of one kind keep their file order.
  return objects
    .map((o, i) => ({ o, i }))
    .sort((a, b) => rank(a.o) - rank(b.o) || a.i - b.i)
    .map((x) => x.o);
}

/**
 * config/scheduler-config.yaml as the kosmos-scheduler pods need it: in-cluster credentials
 * (no kubeconfig file), leader election between the replicas, the extender's Service.
 */
export function schedulerConfig(configDir: string, namespace: string): Record<string, unknown> {
  const file = join(configDir, 'scheduler-config.yaml');
  let cfg: Record<string, unknown>;
  try {
    cfg = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new KosmosError(`reading ${file}: ${(e as Error).message}`);
  }
  const extenders = cfg['extenders'];
  if (!Array.isArray(extenders) || extenders.length === 0)
    throw new KosmosError(`${file}: has no extenders entry for the Kosmos extender`);
  const profiles = cfg['profiles'];
  return {
    ...cfg,
    // Only the kosmos-scheduler profile: the cluster's own scheduler keeps default-scheduler,
    // and two schedulers answering one name bind the same pods twice (seen in the e2e).
    ...(Array.isArray(profiles)
      ? {
          profiles: profiles.filter(
            (p: { schedulerName?: string }) => p.schedulerName === DEFAULT_SCHEDULER_NAME,
          ),
        }
      : {}),
    clientConnection: { ...(cfg['clientConnection'] as object), kubeconfig: '' },
    leaderElection: {
      leaderElect: true,
      resourceNamespace: namespace,
      resourceName: 'kosmos-scheduler',
    },
    extenders: extenders.map((e: Record<string, unknown>, i: number) =>
      i === 0 ? { ...e, urlPrefix: `http://${EXTENDER_SERVICE}.${namespace}.svc:${EXTENDER_PORT}/` } : e,
    ),
  };
}

export function schedulerConfigMap(
  v: HostValues,
  layout: Layout,
): KubeObject & { data: Record<string, string> } {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: SCHEDULER_CONFIG_MAP,
      namespace: v.namespace,
      labels: {
        'app.kubernetes.io/name': 'kosmos-scheduler',
        [LABEL_PART_OF]: PART_OF,
        [LABEL_MANAGED_BY]: v.managedBy,
      },
    },
    data: { [SCHEDULER_CONFIG_KEY]: JSON.stringify(schedulerConfig(layout.config, v.namespace), null, 2) },
  };
}

/** The CRD files of deploy/mcs (named <group>_<plural>.yaml; its CoreDNS example is not one). */
const mcsCrdFiles = (layout: Layout): string[] =>
  yamlFiles(join(layout.deploy, 'mcs')).filter((f) => /^[a-z0-9.-]+_[a-z]+\.yaml$/.test(basename(f)));

function crdsOf(files: string[], managedBy: string): KubeObject[] {
  return files.flatMap((f) =>
    parseObjects(readFileSync(f, 'utf8'), f)
      .filter((o) => o.kind === 'CustomResourceDefinition')
      .map((o) => labelled(o, managedBy)),
  );
}

/** deploy/crds and the MCS CRDs: every CRD the host needs. */
export function crdObjects(layout: Layout, managedBy: string): KubeObject[] {
  return crdsOf([...yamlFiles(join(layout.deploy, 'crds')), ...mcsCrdFiles(layout)], managedBy);
}

/** ServiceExport and ServiceImport: members need them to export and import Services. */
export function mcsCrdObjects(layout: Layout, managedBy: string): KubeObject[] {
  return crdsOf(mcsCrdFiles(layout), managedBy);
}

/** Everything `kosmosctl install` applies to the host cluster, in apply order. */
export function renderHost(v: HostValues, layout: Layout = defaultLayout()): KubeObject[] {
  const objects: KubeObject[] = [
    ...crdObjects(layout, v.managedBy),
    ...renderDir(join(layout.deploy, 'kosmos'), hostTemplateValues(v), (p) => hostPartIncluded(v, p)),
  ];
  if (v.modules.scheduler) objects.push(schedulerConfigMap(v, layout));
  if (v.modules.webhooks) {
    const { mutating, validating } = renderWebhookConfigurations({
      target: { service: { name: WEBHOOK_SERVICE, namespace: v.namespace, port: 443 } },
      caBundle: v.caBundle,
      templatesDir: join(layout.deploy, 'webhooks'),
    });
    objects.push(
      labelled(mutating as KubeObject, v.managedBy),
      labelled(validating as KubeObject, v.managedBy),
    );
  }
  return applyOrder(objects);
}

/** Parts of a member: core always, ClusterLink's daemons, the clusterset.local DNS server. */
export function memberPartIncluded(v: MemberValues, part: string): boolean {
  if (part === 'core') return true;
  if (part === 'clusterlink') return v.link;
  if (part === 'mcs') return v.mcs;
  throw new KosmosError(`deploy/member: unknown part "${part}" (core, clusterlink, mcs)`);
}

/** What `kosmosctl join` applies to a member cluster, in apply order (the MCS CRDs with mcs). */
export function renderMember(v: MemberValues, layout: Layout = defaultLayout()): KubeObject[] {
  return applyOrder([
    ...(v.mcs ? mcsCrdObjects(layout, v.managedBy) : []),
    ...renderDir(join(layout.deploy, 'member'), memberTemplateValues(v), (p) => memberPartIncluded(v, p)),
  ]);
}

/** A manifest's kind/namespace/name, for messages and de-duplication. */
export const manifestKey = (o: KubeObject): string =>
  `${o.kind}/${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? ''}`;
