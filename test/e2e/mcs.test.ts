/**
 * Multi-Cluster Services against the real sandbox: host + leaf-1 + leaf-2 (kube-apiserver,
 * kcm's endpointslice controller, kwok pods with IPs), with the MCS controller and the
 * clusterset.local DNS server running as their own processes, queried with dig.
 * The checks follow the upstream mcs-api conformance suite where the sandbox allows.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { loadKubeConfig } from '../../src/common/kube.js';
import { hostClusterSource } from '../../src/mcs/controller/clusters.js';
import { eventually, kosmosctl, kubectl, newSandboxDir, sleep } from './harness.js';

const dir = newSandboxDir('kosmos-mcs-e2e-');
const CLUSTERS = ['host', 'leaf-1', 'leaf-2'] as const;
type ClusterName = (typeof CLUSTERS)[number];
const kubeconfig = (c: ClusterName) => `${dir}/${c}/kubeconfig`;
const MCS = join(process.cwd(), 'dist', 'mcs', 'main.js');
const children: ChildProcess[] = [];
let dnsPort = 0;
let controllerPort = 0;

interface Cond {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface Import {
  metadata: { labels?: Record<string, string> };
  spec: {
    type: string;
    ips?: string[];
    ipFamilies?: string[];
    ports: { name?: string; protocol: string; port: number; appProtocol?: string }[];
    sessionAffinity?: string;
    sessionAffinityConfig?: unknown;
  };
  status?: { clusters?: { cluster: string }[]; endpointSliceObjects?: string };
}
interface Slice {
  metadata: { name: string; labels: Record<string, string> };
  endpoints?: { addresses: string[]; hostname?: string }[];
  ports?: { name?: string; protocol?: string; port?: number }[] | null;
}

/** Starts an MCS process and resolves with the first log line containing `started`. */
async function startMcs(args: string[]): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, [MCS, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  return await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(
      () => reject(new Error(`${args[0]} did not start: ${buf.slice(-2000)}`)),
      60_000,
    );
    child.stderr!.on('data', (c: Buffer) => {
      buf += c.toString();
      for (const line of buf.split('\n')) {
        if (!line.includes('started"')) continue;
        clearTimeout(timer);
        resolve(JSON.parse(line) as Record<string, unknown>);
      }
    });
    child.on('exit', (code) => reject(new Error(`${args[0]} exited ${code}: ${buf.slice(-2000)}`)));
  });
}

function k(c: ClusterName, args: string[], input?: string): string {
  const r = kubectl(kubeconfig(c), args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} in ${c}: ${r.stderr}`);
  return r.stdout;
}
const apply = (c: ClusterName, obj: unknown) => k(c, ['apply', '-f', '-'], JSON.stringify(obj));
const getJson = <T>(c: ClusterName, args: string[]): T =>
  JSON.parse(k(c, ['get', ...args, '-o', 'json'])) as T;
const tryGet = <T>(c: ClusterName, args: string[]): T | undefined => {
  const r = kubectl(kubeconfig(c), ['get', ...args, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as T) : undefined;
};

function dig(name: string, type = 'A'): { status: string; answers: string[] } {
  const r = spawnSync('dig', [`@127.0.0.1`, '-p', String(dnsPort), '+tries=1', '+time=2', name, type], {
    encoding: 'utf8',
  });
  const status = /status: (\w+)/.exec(r.stdout)?.[1] ?? `no reply: ${r.stdout}${r.stderr}`;
  const answers = spawnSync(
    'dig',
    [`@127.0.0.1`, '-p', String(dnsPort), '+tries=1', '+time=2', '+short', name, type],
    { encoding: 'utf8' },
  )
    .stdout.trim()
    .split('\n')
    .filter(Boolean)
    .sort();
  return { status, answers };
}

function newNamespace(prefix = 'mcs'): string {
  const ns = `${prefix}-${randomBytes(3).toString('hex')}`;
  for (const c of CLUSTERS) k(c, ['create', 'namespace', ns]);
  return ns;
}

function service(
  ns: string,
  name: string,
  opts: {
    headless?: boolean;
    ports?: { name: string; port: number; targetPort?: number }[];
    type?: string;
    annotations?: Record<string, string>;
  } = {},
) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
    spec:
      opts.type === 'ExternalName'
        ? { type: 'ExternalName', externalName: 'example.com' }
        : {
            selector: { app: name },
            ...(opts.headless ? { clusterIP: 'None' } : {}),
            ports: (opts.ports ?? [{ name: 'http', port: 80, targetPort: 8080 }]).map((p) => ({
              protocol: 'TCP',
              targetPort: p.port,
              ...p,
            })),
          },
  };
}

function deployment(ns: string, name: string, replicas: number) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'c', image: 'alpine/socat', ports: [{ containerPort: 8080 }] }] },
      },
    },
  };
}

const serviceExport = (ns: string, name: string) => ({
  apiVersion: 'multicluster.x-k8s.io/v1beta1',
  kind: 'ServiceExport',
  metadata: { name, namespace: ns },
});

/** Pod IPs of a Deployment once every replica runs. */
async function podIps(c: ClusterName, ns: string, app: string, replicas: number): Promise<string[]> {
  return await eventually(() => {
    const pods = getJson<{ items: { status: { podIP?: string; phase?: string } }[] }>(c, [
      'pods',
      '-n',
      ns,
      '-l',
      `app=${app}`,
    ]);
    const ips = pods.items
      .filter((p) => p.status.phase === 'Running' && p.status.podIP)
      .map((p) => p.status.podIP!);
    if (ips.length !== replicas) throw new Error(`${ips.length}/${replicas} pods running in ${c}`);
    return ips.sort();
  });
}

const importOf = (c: ClusterName, ns: string, name: string) =>
  tryGet<Import>(c, ['serviceimports.multicluster.x-k8s.io', name, '-n', ns]);
const conditionsOf = (c: ClusterName, ns: string, name: string) =>
  Object.fromEntries(
    (
      getJson<{ status?: { conditions?: Cond[] } }>(c, [
        'serviceexports.multicluster.x-k8s.io',
        name,
        '-n',
        ns,
      ]).status?.conditions ?? []
    ).map((x) => [x.type, x]),
  );
const mcsSlices = (c: ClusterName, ns: string, name: string) =>
  getJson<{ items: Slice[] }>(c, [
    'endpointslices',
    '-n',
    ns,
    '-l',
    `multicluster.kubernetes.io/service-name=${name}`,
  ]).items;
const sliceIps = (c: ClusterName, ns: string, name: string, source?: string) =>
  mcsSlices(c, ns, name)
    .filter((s) => !source || s.metadata.labels['multicluster.kubernetes.io/source-cluster'] === source)
    .flatMap((s) => (s.endpoints ?? []).flatMap((e) => e.addresses))
    .sort();

describe('Multi-Cluster Services in the sandbox', () => {
  beforeAll(async () => {
    const up = await kosmosctl(dir, ['sandbox', 'up', '--bare', '--real-nodes', '0']);
    expect(up.code, up.stderr).toBe(0);
    const ctl = await startMcs([
      'mcs-controller',
      ...CLUSTERS.flatMap((c) => ['--cluster', `${c}=${kubeconfig(c)}`]),
      '--install-crds',
      '--auto-mcs-prefix',
      'mcs-auto-',
      '--metrics-port',
      '0',
    ]);
    controllerPort = ctl['port'] as number;
    const dns = await startMcs([
      'mcs-dns',
      '--kubeconfig',
      kubeconfig('leaf-2'),
      '--address',
      '127.0.0.1',
      '--port',
      '0',
    ]);
    dnsPort = dns['dnsPort'] as number;
    await eventually(async () => {
      const r = await fetch(`http://127.0.0.1:${controllerPort}/readyz`);
      if (r.status !== 200) throw new Error(await r.text());
    });
  });

  afterAll(async () => {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)),
    );
    await kosmosctl(dir, ['sandbox', 'down']);
    rmSync(dirname(dir), { recursive: true, force: true });
  });

  it('the controller serves health, readiness and metrics', async () => {
    expect((await fetch(`http://127.0.0.1:${controllerPort}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${controllerPort}/metrics`)).text();
    expect(metrics).toContain('kosmos_mcs_reconcile_total');
    expect(metrics).toContain('kosmos_mcs_member_clusters{component="mcs-controller"} 3');
  });

  it('the CRDs serve v1beta1 and v1alpha1 in every cluster', () => {
    for (const c of CLUSTERS) {
      for (const v of ['v1beta1', 'v1alpha1']) {
        for (const r of ['serviceexports', 'serviceimports'])
          expect(kubectl(kubeconfig(c), ['get', `${r}.${v}.multicluster.x-k8s.io`, '-A']).code).toBe(0);
      }
    }
  });

  describe('a ClusterIP Service exported from leaf-1, then from leaf-2', () => {
    let ns = '';
    let leaf1Ips: string[] = [];

    beforeAll(async () => {
      ns = newNamespace();
      apply('leaf-1', deployment(ns, 'web', 2));
      apply('leaf-1', service(ns, 'web'));
      leaf1Ips = await podIps('leaf-1', ns, 'web', 2);
      apply('leaf-1', serviceExport(ns, 'web'));
    });

    it('is imported in leaf-2 and the host (and leaf-1) with its port, a clusterset IP and leaf-1 endpoints', async () => {
      for (const c of CLUSTERS) {
        // The import is written in steps (spec, then status): judge it once it is complete.
        await eventually(() => {
          const imp = importOf(c, ns, 'web');
          if (!imp) throw new Error(`no import in ${c}`);
          expect(imp.spec.type).toBe('ClusterSetIP');
          expect(imp.spec.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 80 }]);
          expect(imp.spec.ips).toHaveLength(1);
          expect(imp.spec.ipFamilies).toEqual(['IPv4']);
          expect(imp.status?.clusters).toEqual([{ cluster: 'leaf-1' }]);
        });
        await eventually(() => expect(sliceIps(c, ns, 'web', 'leaf-1')).toEqual(leaf1Ips));
      }
      const [s] = mcsSlices('leaf-2', ns, 'web');
      expect(s?.metadata.labels['endpointslice.kubernetes.io/managed-by']).not.toBe(
        'endpointslice-controller.k8s.io',
      );
      expect(s?.endpoints?.every((e) => e.hostname)).toBe(true);
    });

    it("each cluster's import IP is the cluster IP of a derived Service there, whose EndpointSlices (what kube-proxy reads) hold leaf-1's pods", async () => {
      for (const c of CLUSTERS) {
        const ip = await eventually(() => {
          const got = importOf(c, ns, 'web')?.spec.ips?.[0];
          if (!got) throw new Error(`no import IP in ${c}`);
          return got;
        });
        const derived = getJson<{
          items: { metadata: { name: string }; spec: { clusterIP: string; selector?: unknown } }[];
        }>(c, ['services', '-n', ns, '-l', 'multicluster.kubernetes.io/service-name=web']).items;
        expect(derived).toHaveLength(1);
        expect(derived[0]?.spec.clusterIP).toBe(ip);
        expect(derived[0]?.spec.selector).toBeUndefined();
        await eventually(() => {
          const forProxy = getJson<{ items: Slice[] }>(c, [
            'endpointslices',
            '-n',
            ns,
            '-l',
            `kubernetes.io/service-name=${derived[0]?.metadata.name}`,
          ]).items;
          expect(forProxy.flatMap((x) => (x.endpoints ?? []).flatMap((e) => e.addresses)).sort()).toEqual(
            leaf1Ips,
          );
        });
      }
      // the Service the user exported is not taken over
      expect(
        getJson<{ spec: { selector?: unknown } }>('leaf-1', ['service', 'web', '-n', ns]).spec.selector,
      ).toEqual({
        app: 'web',
      });
    });

    it('the export is Valid, Ready and has no conflicts', async () => {
      await eventually(() => {
        const c = conditionsOf('leaf-1', ns, 'web');
        expect(c['Valid']).toMatchObject({ status: 'True', reason: 'Valid' });
        expect(c['Ready']).toMatchObject({ status: 'True', reason: 'Exported' });
        expect(c['Conflict']).toMatchObject({ status: 'False', reason: 'NoConflicts' });
      });
    });

    it('dig <svc>.<ns>.svc.clusterset.local returns the clusterset IP, and SRV the named port', async () => {
      const ip = importOf('leaf-2', ns, 'web')!.spec.ips![0]!;
      await eventually(() =>
        expect(dig(`web.${ns}.svc.clusterset.local.`)).toEqual({ status: 'NOERROR', answers: [ip] }),
      );
      expect(dig(`web.${ns}.svc.clusterset.local.`, 'SRV').answers).toEqual([
        `0 100 80 web.${ns}.svc.clusterset.local.`,
      ]);
      expect(dig(`_http._tcp.web.${ns}.svc.clusterset.local.`, 'SRV').answers).toEqual([
        `0 100 80 web.${ns}.svc.clusterset.local.`,
      ]);
      expect(dig(`nope.${ns}.svc.clusterset.local.`).status).toBe('NXDOMAIN');
      expect(dig('dns-version.clusterset.local.', 'TXT').answers).toEqual(['"1.0.0"']);
    });

    it('exporting the same Service from leaf-2 adds its endpoints beside leaf-1 ones', async () => {
      apply('leaf-2', deployment(ns, 'web', 1));
      apply('leaf-2', service(ns, 'web'));
      const leaf2Ips = await podIps('leaf-2', ns, 'web', 1);
      apply('leaf-2', serviceExport(ns, 'web'));
      for (const c of CLUSTERS) {
        await eventually(() => {
          expect(importOf(c, ns, 'web')?.status?.clusters).toEqual([
            { cluster: 'leaf-1' },
            { cluster: 'leaf-2' },
          ]);
          expect(sliceIps(c, ns, 'web')).toEqual([...leaf1Ips, ...leaf2Ips].sort());
        });
      }
    });

    it('un-exporting from leaf-1 removes its endpoints; the import survives while leaf-2 exports', async () => {
      const ip = importOf('host', ns, 'web')!.spec.ips;
      k('leaf-1', ['delete', 'serviceexports.multicluster.x-k8s.io', 'web', '-n', ns]);
      for (const c of CLUSTERS) {
        await eventually(() => {
          expect(sliceIps(c, ns, 'web', 'leaf-1')).toEqual([]);
          expect(importOf(c, ns, 'web')?.status?.clusters).toEqual([{ cluster: 'leaf-2' }]);
        });
      }
      expect(importOf('host', ns, 'web')!.spec.ips).toEqual(ip); // the clusterset IP is stable
    });

    it('un-exporting from the last cluster removes the imports and slices everywhere, and the name stops resolving', async () => {
      k('leaf-2', ['delete', 'serviceexports.multicluster.x-k8s.io', 'web', '-n', ns]);
      for (const c of CLUSTERS) {
        await eventually(() => {
          expect(importOf(c, ns, 'web')).toBeUndefined();
          expect(mcsSlices(c, ns, 'web')).toEqual([]);
          expect(
            getJson<{ items: unknown[] }>(c, [
              'services',
              '-n',
              ns,
              '-l',
              'multicluster.kubernetes.io/service-name=web',
            ]).items,
          ).toEqual([]);
        });
      }
      await eventually(() => expect(dig(`web.${ns}.svc.clusterset.local.`).status).toBe('NXDOMAIN'));
    });
  });

  describe('a headless Service', () => {
    it('is imported as Headless without IPs and dig returns the pod addresses, also by hostname', async () => {
      const ns = newNamespace();
      apply('leaf-1', deployment(ns, 'db', 2));
      apply('leaf-1', service(ns, 'db', { headless: true }));
      const ips = await podIps('leaf-1', ns, 'db', 2);
      apply('leaf-1', serviceExport(ns, 'db'));
      const imp = await eventually(
        () => importOf('host', ns, 'db') ?? Promise.reject(new Error('no import')),
      );
      expect(imp.spec.type).toBe('Headless');
      expect(imp.spec.ips ?? []).toEqual([]);
      expect(imp.spec.ipFamilies).toEqual(['IPv4']);
      await eventually(() =>
        expect(dig(`db.${ns}.svc.clusterset.local.`)).toEqual({ status: 'NOERROR', answers: ips }),
      );
      const srv = dig(`db.${ns}.svc.clusterset.local.`, 'SRV').answers;
      // Headless clients dial pods directly, so SRV carries the endpoint port (the targetPort), as CoreDNS does.
      expect(srv).toEqual(
        ips.map((ip) => `0 100 8080 ${ip.replace(/\./g, '-')}.leaf-1.db.${ns}.svc.clusterset.local.`).sort(),
      );
      expect(dig(`${ips[0]!.replace(/\./g, '-')}.leaf-1.db.${ns}.svc.clusterset.local.`).answers).toEqual([
        ips[0],
      ]);
      expect(dig(`leaf-1.db.${ns}.svc.clusterset.local.`).status).toBe('NXDOMAIN'); // reserved by the spec
    });
  });

  describe('conflicts and invalid exports', () => {
    it('a conflicting port definition in leaf-2 shows in both exports conditions, and the import keeps the oldest port', async () => {
      const ns = newNamespace();
      apply('leaf-1', service(ns, 'api', { ports: [{ name: 'http', port: 80 }] }));
      apply('leaf-1', serviceExport(ns, 'api'));
      await eventually(() => expect(importOf('leaf-2', ns, 'api')).toBeDefined());
      apply(
        'leaf-2',
        service(ns, 'api', {
          ports: [
            { name: 'http', port: 8081 },
            { name: 'grpc', port: 9090 },
          ],
        }),
      );
      apply('leaf-2', serviceExport(ns, 'api'));
      for (const c of ['leaf-1', 'leaf-2'] as const) {
        await eventually(() => {
          const cond = conditionsOf(c, ns, 'api')['Conflict'];
          expect(cond).toMatchObject({ status: 'True', reason: 'PortConflict' });
          expect(cond?.message).toContain('"leaf-1"');
        });
      }
      await eventually(() =>
        expect(importOf('host', ns, 'api')?.spec.ports).toEqual([
          { name: 'http', protocol: 'TCP', port: 80 },
          { name: 'grpc', protocol: 'TCP', port: 9090 },
        ]),
      );
    });

    it("exports with different exported labels and annotations: the import takes the oldest's, and every export reports LabelsConflict and AnnotationsConflict", async () => {
      const ns = newNamespace();
      const exportWith = (team: string, note: string) => ({
        ...serviceExport(ns, 'meta'),
        spec: { exportedLabels: { team }, exportedAnnotations: { note } },
      });
      apply('leaf-1', service(ns, 'meta'));
      apply('leaf-1', exportWith('a', 'first'));
      await eventually(() => expect(importOf('host', ns, 'meta')?.metadata.labels?.['team']).toBe('a'));
      // creationTimestamp has one-second resolution: make leaf-2's export the younger one.
      await sleep(1_100);
      apply('leaf-2', service(ns, 'meta'));
      apply('leaf-2', exportWith('b', 'second'));
      for (const c of ['leaf-1', 'leaf-2'] as const) {
        await eventually(() => {
          const cond = conditionsOf(c, ns, 'meta')['Conflict'];
          expect(cond).toMatchObject({ status: 'True', reason: 'LabelsConflict,AnnotationsConflict' });
          expect(cond?.message).toContain(
            'Conflicting exported labels. Using {"team":"a"} from oldest service export in "leaf-1". 1/2 clusters disagree.',
          );
        });
      }
      for (const c of CLUSTERS) {
        await eventually(() => {
          const imp = tryGet<Import & { metadata: { annotations?: Record<string, string> } }>(c, [
            'serviceimports.multicluster.x-k8s.io',
            'meta',
            '-n',
            ns,
          ]);
          expect(imp?.metadata.labels?.['team']).toBe('a');
          expect(imp?.metadata.annotations?.['note']).toBe('first');
          expect(imp?.status?.clusters).toEqual([{ cluster: 'leaf-1' }, { cluster: 'leaf-2' }]);
          expect(imp?.status?.endpointSliceObjects).toBe('Present');
        });
      }
      // leaf-2 agrees again: the conflict clears on both.
      apply('leaf-2', exportWith('a', 'first'));
      for (const c of ['leaf-1', 'leaf-2'] as const)
        await eventually(() =>
          expect(conditionsOf(c, ns, 'meta')['Conflict']).toMatchObject({
            status: 'False',
            reason: 'NoConflicts',
          }),
        );
    });

    it('one port name with another number in leaf-2: only leaf-1 endpoints carry that port, so the proxy sends it to leaf-1 pods only', async () => {
      const ns = newNamespace('mcs-conformance');
      const hello = (ports: { name: string; port: number; protocol: string }[]) => ({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'hello', namespace: ns },
        spec: { selector: { app: 'hello' }, ports: ports.map((p) => ({ ...p, targetPort: 42 })) },
      });
      apply('leaf-1', deployment(ns, 'hello', 2));
      apply(
        'leaf-1',
        hello([
          { name: 'tcp', port: 42, protocol: 'TCP' },
          { name: 'udp', port: 42, protocol: 'UDP' },
        ]),
      );
      const leaf1Ips = await podIps('leaf-1', ns, 'hello', 2);
      apply('leaf-1', serviceExport(ns, 'hello'));
      await eventually(() => expect(importOf('leaf-2', ns, 'hello')).toBeDefined());
      await sleep(1_100);
      // The conformance suite's second cluster: the same name "tcp", exposed as 4242.
      apply('leaf-2', deployment(ns, 'hello', 1));
      apply('leaf-2', hello([{ name: 'tcp', port: 4242, protocol: 'TCP' }]));
      const leaf2Ips = await podIps('leaf-2', ns, 'hello', 1);
      apply('leaf-2', serviceExport(ns, 'hello'));
      await eventually(() =>
        expect(conditionsOf('leaf-2', ns, 'hello')['Conflict']).toMatchObject({
          status: 'True',
          reason: 'PortConflict',
        }),
      );
      for (const c of CLUSTERS) {
        await eventually(() => {
          const imp = importOf(c, ns, 'hello');
          expect(imp?.spec.ports.map((p) => `${p.name}/${p.protocol}/${p.port}`)).toEqual([
            'tcp/TCP/42',
            'udp/UDP/42',
          ]);
          const derived = getJson<{ items: { metadata: { name: string } }[] }>(c, [
            'services',
            '-n',
            ns,
            '-l',
            'multicluster.kubernetes.io/service-name=hello',
          ]).items[0]?.metadata.name;
          // What kube-proxy reads for the derived Service: per port name, the endpoints of the slices carrying it.
          const forProxy = getJson<{ items: Slice[] }>(c, [
            'endpointslices',
            '-n',
            ns,
            '-l',
            `kubernetes.io/service-name=${derived}`,
          ]).items;
          const endpointsOf = (port: string) =>
            forProxy
              .filter((x) => (x.ports ?? []).some((p) => p.name === port))
              .flatMap((x) => (x.endpoints ?? []).flatMap((e) => e.addresses))
              .sort();
          expect(endpointsOf('tcp')).toEqual(leaf1Ips);
          expect(endpointsOf('udp')).toEqual(leaf1Ips);
          // leaf-2's pods are still listed (DNS, the source-cluster label), only without the port.
          expect(sliceIps(c, ns, 'hello', 'leaf-2')).toEqual(leaf2Ips);
        });
      }
    });

    it('a headless export after a ClusterIP one reports TypeConflict on both and the import stays ClusterSetIP', async () => {
      const ns = newNamespace();
      apply('leaf-1', service(ns, 'mix'));
      apply('leaf-1', serviceExport(ns, 'mix'));
      await eventually(() => expect(importOf('host', ns, 'mix')).toBeDefined());
      apply('leaf-2', service(ns, 'mix', { headless: true }));
      apply('leaf-2', serviceExport(ns, 'mix'));
      for (const c of ['leaf-1', 'leaf-2'] as const) {
        await eventually(() =>
          expect(conditionsOf(c, ns, 'mix')['Conflict']).toMatchObject({
            status: 'True',
            reason: 'TypeConflict',
          }),
        );
      }
      expect(importOf('host', ns, 'mix')?.spec.type).toBe('ClusterSetIP');
    });

    it('an ExternalName Service is Valid=False InvalidServiceType and imported nowhere', async () => {
      const ns = newNamespace();
      apply('leaf-1', service(ns, 'ext', { type: 'ExternalName' }));
      apply('leaf-1', serviceExport(ns, 'ext'));
      await eventually(() =>
        expect(conditionsOf('leaf-1', ns, 'ext')['Valid']).toMatchObject({
          status: 'False',
          reason: 'InvalidServiceType',
        }),
      );
      for (const c of CLUSTERS) expect(importOf(c, ns, 'ext')).toBeUndefined();
    });

    it('an export without its Service is Valid=False NoService', async () => {
      const ns = newNamespace();
      apply('host', serviceExport(ns, 'ghost'));
      await eventually(() =>
        expect(conditionsOf('host', ns, 'ghost')['Valid']).toMatchObject({
          status: 'False',
          reason: 'NoService',
        }),
      );
    });

    it('a Service that is not exported does not resolve through clusterset.local', async () => {
      const ns = newNamespace();
      apply('leaf-2', service(ns, 'private'));
      await eventually(() => expect(dig(`private.${ns}.svc.clusterset.local.`).status).toBe('NXDOMAIN'));
    });
  });

  describe('the upstream conformance fixture', () => {
    it('hello (tcp:42/TCP, udp:42/UDP, ClientIP 10 s, PreferDualStack) imports with equal ports, affinity and one IP per family; bare SRV gives one record', async () => {
      const ns = newNamespace('mcs-conformance');
      apply('leaf-1', {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'hello', namespace: ns },
        spec: {
          selector: { app: 'hello' },
          ports: [
            { name: 'tcp', port: 42, protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
            { name: 'udp', port: 42, protocol: 'UDP' },
          ],
          sessionAffinity: 'ClientIP',
          sessionAffinityConfig: { clientIP: { timeoutSeconds: 10 } },
          ipFamilyPolicy: 'PreferDualStack',
        },
      });
      apply('leaf-1', serviceExport(ns, 'hello'));
      for (const c of CLUSTERS) {
        const imp = await eventually(
          () => importOf(c, ns, 'hello') ?? Promise.reject(new Error(`no import in ${c}`)),
        );
        expect([...imp.spec.ports].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? ''))).toEqual([
          { name: 'tcp', protocol: 'TCP', port: 42, appProtocol: 'kubernetes.io/h2c' },
          { name: 'udp', protocol: 'UDP', port: 42 },
        ]);
        expect(imp.spec.sessionAffinity).toBe('ClientIP');
        expect(imp.spec.sessionAffinityConfig).toEqual({ clientIP: { timeoutSeconds: 10 } });
        expect(imp.spec.ips?.length).toBeGreaterThan(0);
        expect(imp.spec.ips?.length).toBe(imp.spec.ipFamilies?.length);
      }
      await eventually(() =>
        expect(dig(`hello.${ns}.svc.clusterset.local.`, 'SRV').answers).toEqual([
          `0 100 42 hello.${ns}.svc.clusterset.local.`,
        ]),
      );
      expect(dig(`hello.${ns}.svc.clusterset.local.`, 'AAAA')).toEqual({ status: 'NOERROR', answers: [] }); // single-stack sandbox
    });
  });

  describe('API versions and member discovery', () => {
    it('a ServiceExport written as v1alpha1 is exported like a v1beta1 one', async () => {
      const ns = newNamespace();
      apply('leaf-1', service(ns, 'old'));
      apply('leaf-1', { ...serviceExport(ns, 'old'), apiVersion: 'multicluster.x-k8s.io/v1alpha1' });
      await eventually(() =>
        expect(importOf('leaf-2', ns, 'old')?.status?.clusters).toEqual([{ cluster: 'leaf-1' }]),
      );
      const viaAlpha = getJson<Import>('leaf-2', [
        'serviceimports.v1alpha1.multicluster.x-k8s.io',
        'old',
        '-n',
        ns,
      ]);
      expect(viaAlpha.spec.type).toBe('ClusterSetIP');
    });

    it('in production the members are the host plus its Cluster objects, with inline or Secret-held kubeconfigs', async () => {
      apply('host', {
        apiVersion: 'kosmos.io/v1alpha1',
        kind: 'Cluster',
        metadata: { name: 'leaf-1' },
        spec: { kubeconfig: readFileSync(kubeconfig('leaf-1')).toString('base64') },
      });
      // as `kosmosctl join` writes it: the kubeconfig in a Secret of the host
      apply('host', {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'leaf-2-kubeconfig', namespace: 'default' },
        data: { config: readFileSync(kubeconfig('leaf-2')).toString('base64') },
      });
      apply('host', {
        apiVersion: 'kosmos.io/v1alpha1',
        kind: 'Cluster',
        metadata: { name: 'leaf-2' },
        spec: { kubeconfigSecretRef: { name: 'leaf-2-kubeconfig', namespace: 'default', key: 'config' } },
      });
      // the host's own Cluster (Go Kosmos' root) is the host entry, not a second member
      apply('host', {
        apiVersion: 'kosmos.io/v1alpha1',
        kind: 'Cluster',
        metadata: { name: 'root', annotations: { 'kosmos.io/cluster-role': 'root' } },
        spec: { kubeconfig: readFileSync(kubeconfig('host')).toString('base64') },
      });
      const errors: string[] = [];
      const source = hostClusterSource(kubeconfig('host'), 'host', (c) => errors.push(c));
      const members = await source.list();
      expect(members.map((m) => m.name)).toEqual(['host', 'leaf-1', 'leaf-2']);
      expect(members[1]?.kubeConfig.getCurrentCluster()?.server).toBe(
        loadKubeConfig(kubeconfig('leaf-1')).getCurrentCluster()?.server,
      );
      expect(members[2]?.kubeConfig.getCurrentCluster()?.server).toBe(
        loadKubeConfig(kubeconfig('leaf-2')).getCurrentCluster()?.server,
      );
      expect(errors).toEqual([]);
      // a Secret that goes away for a while does not take the member out of the clusterset
      k('host', ['delete', 'secret', 'leaf-2-kubeconfig', '-n', 'default']);
      expect((await source.list()).map((m) => m.name)).toEqual(['host', 'leaf-1', 'leaf-2']);
      expect(errors).toEqual(['leaf-2']);
      // a Cluster that is deleted does
      k('host', ['delete', 'clusters.kosmos.io', 'leaf-1', 'leaf-2', 'root']);
      expect((await source.list()).map((m) => m.name)).toEqual(['host']);
    });
  });

  describe('Kosmos automatic export', () => {
    it('a Service in a namespace with the auto-mcs prefix is exported without a ServiceExport from the user, and un-exported when deleted', async () => {
      const ns = newNamespace('mcs-auto');
      apply('host', service(ns, 'auto'));
      await eventually(() =>
        expect(importOf('leaf-1', ns, 'auto')?.status?.clusters).toEqual([{ cluster: 'host' }]),
      );
      const exp = getJson<{ metadata: { annotations?: Record<string, string> } }>('host', [
        'serviceexports.multicluster.x-k8s.io',
        'auto',
        '-n',
        ns,
      ]);
      expect(exp.metadata.annotations?.['kosmos.io/auto-create-mcs']).toBe('true');
      k('host', ['delete', 'service', 'auto', '-n', ns]);
      await eventually(() => {
        expect(tryGet('host', ['serviceexports.multicluster.x-k8s.io', 'auto', '-n', ns])).toBeUndefined();
        expect(importOf('leaf-1', ns, 'auto')).toBeUndefined();
      });
    });

    it('a Service annotated kosmos.io/auto-create-mcs: "ture" (the Go project spelling) is exported', async () => {
      const ns = newNamespace();
      apply('leaf-2', service(ns, 'legacy', { annotations: { 'kosmos.io/auto-create-mcs': 'ture' } }));
      await eventually(() =>
        expect(importOf('host', ns, 'legacy')?.status?.clusters).toEqual([{ cluster: 'leaf-2' }]),
      );
    });
  });

  describe('the DNS server under bad input', () => {
    it('drops a malformed packet without harm and keeps answering', async () => {
      const sock = createSocket('udp4');
      await new Promise<void>((r) =>
        sock.send(Buffer.from([1, 2, 3, 0xff, 0xff]), dnsPort, '127.0.0.1', () => r()),
      );
      await new Promise<void>((r) => sock.send(randomBytes(300), dnsPort, '127.0.0.1', () => r()));
      sock.close();
      expect(dig('dns-version.clusterset.local.', 'TXT').answers).toEqual(['"1.0.0"']);
      expect(dig('example.com.').status).toBe('REFUSED');
    });
  });
});
