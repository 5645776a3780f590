/**
 * What deploy/ renders to, checked without a cluster: the apply order, labels that make
 * uninstall exact, least-privilege RBAC, and that every container's arguments are ones the
 * `kosmos` entry point accepts (the same entry point the Dockerfile declares).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, test } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.js';
import { buildProgram } from '../../../src/cli/program.js';
import { renderHost, renderMember } from '../../../src/cli/install/render.js';
import { defaultHostValues } from '../../../src/cli/install/values.js';
import { renderTemplate } from '../../../src/cli/install/template.js';

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  securityContext?: { privileged?: boolean; capabilities?: { add?: string[]; drop?: string[] } };
  readinessProbe?: unknown;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface PodSpec {
  containers: Container[];
  hostNetwork?: boolean;
}
type Workload = KubeObject & { spec: { replicas?: number; template: { spec: PodSpec } } };
type Rule = { apiGroups?: string[]; resources?: string[]; verbs?: string[] };

const host = renderHost(defaultHostValues({ caBundle: 'Q0E=' }));
const member = renderMember({
  namespace: 'kosmos-system',
  image: 'kosmos:test',
  clusterName: 'leaf-1',
  hostNamespace: 'kosmos-system',
  redisUrl: 'redis://r:6379',
  link: true,
  mcs: true,
  managedBy: 'kosmosctl',
});
const all = [...host, ...member];
const workloads = all.filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet') as Workload[];
const kosmosContainers = workloads.flatMap((w) =>
  w.spec.template.spec.containers.filter((c) => c.image.includes('kosmos')).map((c) => ({ w, c })),
);

describe('rendered manifests', () => {
  test('the namespace comes first, CRDs before anything using them, webhook configurations last', () => {
    const kinds = host.map((o) => o.kind);
    expect(kinds[0]).toBe('Namespace');
    expect(kinds.lastIndexOf('CustomResourceDefinition')).toBeLessThan(kinds.indexOf('ServiceAccount'));
    expect(kinds.slice(-2)).toEqual(['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);
    expect(kinds.indexOf('Deployment')).toBeGreaterThan(kinds.lastIndexOf('RoleBinding'));
  });

  test('every object carries the part-of and managed-by labels uninstall relies on', () => {
    for (const o of all) {
      expect(o.metadata?.labels?.['app.kubernetes.io/part-of'], `${o.kind}/${o.metadata?.name}`).toBe(
        'kosmos',
      );
      expect(o.metadata?.labels?.['app.kubernetes.io/managed-by'], `${o.kind}/${o.metadata?.name}`).toBe(
        'kosmosctl',
      );
    }
  });

  test('no role grants a wildcard, unlike the Go project', () => {
    const rules = all
      .filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')
      .flatMap((o) => (o as { rules?: Rule[] }).rules ?? []);
    expect(rules.length).toBeGreaterThan(10);
    for (const r of rules) {
      expect([...(r.apiGroups ?? []), ...(r.resources ?? []), ...(r.verbs ?? [])]).not.toContain('*');
    }
  });

  test('the ClusterLink agent gets NET_ADMIN and NET_RAW on the host network, not full privilege', () => {
    const agent = workloads.find((w) => w.metadata?.name === 'kosmos-clusterlink-agent');
    expect(agent?.spec.template.spec.hostNetwork).toBe(true);
    const c = agent?.spec.template.spec.containers[0];
    expect(c?.securityContext?.privileged).toBe(false);
    expect(c?.securityContext?.capabilities?.add).toEqual(['NET_ADMIN', 'NET_RAW']);
  });

  test('every Deployment with more than one replica has a PodDisruptionBudget, and every container has requests and a memory limit', () => {
    const pdbs = new Set(all.filter((o) => o.kind === 'PodDisruptionBudget').map((o) => o.metadata?.name));
    for (const w of workloads) {
      if (w.kind === 'Deployment' && (w.spec.replicas ?? 1) > 1)
        expect(pdbs, w.metadata?.name).toContain(w.metadata?.name);
      for (const c of w.spec.template.spec.containers) {
        expect(c.resources?.requests?.['cpu'], `${w.metadata?.name}/${c.name}`).toBeDefined();
        expect(c.resources?.limits?.['memory'], `${w.metadata?.name}/${c.name}`).toBeDefined();
      }
    }
  });

  test('a second scheduler runs the stock kube-scheduler with the rendered scheduler config', () => {
    const s = workloads.find((w) => w.metadata?.name === 'kosmos-scheduler');
    expect(s?.spec.template.spec.containers[0]?.image).toMatch(/^registry\.k8s\.io\/kube-scheduler:/);
    const cm = host.find(
      (o) => o.kind === 'ConfigMap' && o.metadata?.name === 'kosmos-scheduler-config',
    ) as KubeObject & {
      data: Record<string, string>;
    };
    const cfg = JSON.parse(cm.data['scheduler-config.yaml'] ?? '{}') as {
      clientConnection: { kubeconfig: string };
      leaderElection: { leaderElect: boolean; resourceNamespace: string };
      extenders: { urlPrefix: string }[];
      profiles: { schedulerName: string }[];
    };
    expect(cfg.clientConnection.kubeconfig).toBe('');
    expect(cfg.leaderElection).toMatchObject({ leaderElect: true, resourceNamespace: 'kosmos-system' });
    expect(cfg.extenders[0]?.urlPrefix).toBe('http://kosmos-extender.kosmos-system.svc:10262/');
    expect(cfg.profiles.map((p) => p.schedulerName)).toContain('kosmos-scheduler');
  });

  test('-m and --redis-url choose what is rendered: one module, and no bundled Redis', () => {
    const only = renderHost(
      defaultHostValues({
        redisUrl: 'rediss://:pw@redis.example:6380',
        modules: { scheduler: true, webhooks: false, clustertree: false, clusterlink: false, mcs: false },
      }),
    );
    const names = only.filter((o) => o.kind === 'Deployment').map((o) => o.metadata?.name);
    expect(names).toEqual(['kosmos-extender', 'kosmos-scheduler']);
    expect(only.some((o) => o.kind === 'MutatingWebhookConfiguration')).toBe(false);
    const secret = only.find((o) => o.kind === 'Secret') as KubeObject & {
      stringData: Record<string, string>;
    };
    expect(secret.stringData['url']).toBe('rediss://:pw@redis.example:6380');
  });
});

describe('Multi-Cluster Services in install and join', () => {
  const deployments = (objects: KubeObject[]) =>
    objects.filter((o) => o.kind === 'Deployment').map((o) => o.metadata?.name);
  const configOf = (objects: KubeObject[]) =>
    (
      objects.find((o) => o.metadata?.name === 'kosmos-config') as KubeObject & {
        data: Record<string, string>;
      }
    ).data;

  test('the host gets the MCS controller and a clusterset.local DNS server, and kosmos-config tells join so', () => {
    expect(deployments(host)).toEqual(expect.arrayContaining(['kosmos-mcs-controller', 'kosmos-mcs-dns']));
    expect(configOf(host)['mcs']).toBe('true');
    const crds = host.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata?.name);
    expect(crds).toEqual(
      expect.arrayContaining([
        'serviceexports.multicluster.x-k8s.io',
        'serviceimports.multicluster.x-k8s.io',
      ]),
    );
  });

  test('-m without mcs leaves both out and says so in kosmos-config', () => {
    const v = defaultHostValues({ caBundle: 'Q0E=' });
    const without = renderHost({ ...v, modules: { ...v.modules, mcs: false } });
    expect(deployments(without).filter((n) => n?.includes('mcs'))).toEqual([]);
    expect(configOf(without)['mcs']).toBe('false');
  });

  test('the controller may read the member kubeconfigs join keeps in its namespace, and nothing else of Secrets', () => {
    const roles = host.filter(
      (o) => (o.kind === 'Role' || o.kind === 'ClusterRole') && o.metadata?.name === 'kosmos-mcs-controller',
    ) as (KubeObject & { rules: Rule[] })[];
    const secretRules = roles.flatMap((r) =>
      r.rules.filter((x) => x.resources?.includes('secrets')).map((x) => ({ kind: r.kind, verbs: x.verbs })),
    );
    expect(secretRules).toEqual([{ kind: 'Role', verbs: ['get'] }]);
  });

  test('a member gets the MCS CRDs and its own DNS server only when the host runs MCS', () => {
    const base = {
      namespace: 'kosmos-system',
      image: 'kosmos:test',
      clusterName: 'leaf-1',
      hostNamespace: 'kosmos-system',
      redisUrl: 'redis://r:6379',
      managedBy: 'kosmosctl',
    };
    const mcsOnly = renderMember({ ...base, link: false, mcs: true });
    expect(deployments(mcsOnly)).toEqual(['kosmos-mcs-dns']);
    expect(mcsOnly.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata?.name)).toEqual(
      ['serviceexports.multicluster.x-k8s.io', 'serviceimports.multicluster.x-k8s.io'],
    );
    expect(mcsOnly[0]?.kind).toBe('Namespace');
    const linkOnly = renderMember({ ...base, link: true, mcs: false });
    expect(linkOnly.some((o) => o.kind === 'CustomResourceDefinition')).toBe(false);
    expect(deployments(linkOnly)).not.toContain('kosmos-mcs-dns');
  });
});

describe('manifests and the entry point agree', () => {
  test('Kosmos containers give only args, so the image ENTRYPOINT `node /app/dist/cli/main.js` runs them', () => {
    const dockerfile = readFileSync(join(process.cwd(), 'Dockerfile'), 'utf8');
    const entry = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1];
    expect(JSON.parse(entry ?? '[]')).toEqual(['node', '/app/dist/cli/main.js']);
    expect(kosmosContainers.length).toBeGreaterThanOrEqual(6);
    for (const { w, c } of kosmosContainers)
      expect(c.command, `${w.metadata?.name}/${c.name}`).toBeUndefined();
  });

  test('every container names a kosmos command and passes only flags that command accepts', async () => {
    const program = await buildProgram();
    for (const { w, c } of kosmosContainers) {
      const [name, ...args] = c.args ?? [];
      const cmd = program.commands.find((x: Command) => x.name() === name);
      expect(cmd, `${w.metadata?.name}: no command "${name}"`).toBeDefined();
      const flags = new Set(cmd?.options.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f)));
      for (const a of args.filter((x) => x.startsWith('-'))) {
        expect(flags, `${w.metadata?.name}: ${name} has no option ${a}`).toContain(a.split('=')[0]);
      }
      for (const req of cmd?.options.filter((o) => o.required && o.mandatory) ?? [])
        expect(args, `${w.metadata?.name}: ${name} needs ${req.long}`).toContain(req.long);
    }
  });
});

describe('template placeholders', () => {
  test('a value is substituted, quotes are doubled for the YAML string around it', () => {
    expect(renderTemplate("url: '{{ .Values.redis.url }}'", { redis: { url: "a'b" } }, 't.yaml')).toBe(
      "url: 'a''b'",
    );
  });

  test('a missing value fails with the file and line', () => {
    expect(() => renderTemplate("a: 1\nb: '{{ .Values.nope }}'", {}, 'x.yaml')).toThrow(
      'x.yaml:2: .Values.nope is not set',
    );
  });

  test('any other template expression is refused rather than left for Helm to interpret differently', () => {
    expect(() => renderTemplate('{{ include "x" . }}', {}, 'y.yaml')).toThrow(
      /y\.yaml:1: unsupported template expression/,
    );
  });
});
