/**
 * ClusterLink's production path against the sandbox's real apiservers: the clusterlink
 * controller and the network manager run in Kubernetes mode (started by `sandbox up`), the
 * desired state is kosmos.io objects in the host, and one agent applies its NodeConfig to
 * a real kernel (a network namespace of this test, root only) and reports its status.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterNode, NodeConfig } from '../../src/api/kinds.js';
import { run } from '../../src/clusterlink/exec.js';
import { CALICO_CRDS, CILIUM_CRDS, crdNames } from './cni-objects.js';
import { CLI, eventually, kosmosctl, kubectl, newSandboxDir, sleep } from './harness.js';

const dir = newSandboxDir('kosmos-e2e-clusterlink-');
const kc = (cluster: string) => `${dir}/${cluster}/kubeconfig`;
const isRoot = process.getuid?.() === 0;
const hex = () => randomBytes(3).toString('hex');

interface NodeJson {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { podCIDRs?: string[] };
  status: { addresses?: { type: string; address: string }[] };
}
interface Lease {
  spec: { holderIdentity?: string };
}

function getJson<T>(cluster: string, args: string[]): T {
  const r = kubectl(kc(cluster), ['get', ...args, '-o', 'json']);
  if (r.code !== 0) throw new Error(`kubectl get ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
const items = <T>(cluster: string, resource: string) => getJson<{ items: T[] }>(cluster, [resource]).items;
const clusterNodes = () => items<ClusterNode>('host', 'clusternodes');
const nodeConfigs = () => items<NodeConfig>('host', 'nodeconfigs');
const nodeConfig = (name: string) => getJson<NodeConfig>('host', ['nodeconfig', name]);
const internalIP = (n: NodeJson) => n.status.addresses?.find((a) => a.type === 'InternalIP')?.address;
const memberNodes = (cluster: string) =>
  items<NodeJson>(cluster, 'nodes').filter((n) => n.metadata.labels?.['kosmos.io/node'] !== 'true');

/** A Node as a user's new machine would register: an InternalIP; kube-controller-manager gives its pod CIDR. */
function addNode(cluster: string, name: string, ip: string): void {
  const r = kubectl(
    kc(cluster),
    ['create', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name },
      status: { addresses: [{ type: 'InternalIP', address: ip }] },
    }),
  );
  expect(r.code, r.stderr).toBe(0);
}

function patchCluster(name: string, clusterLinkOptions: Record<string, unknown>): void {
  const r = kubectl(kc('host'), [
    'patch',
    'cluster',
    name,
    '--type',
    'merge',
    '-p',
    JSON.stringify({ spec: { clusterLinkOptions } }),
  ]);
  expect(r.code, r.stderr).toBe(0);
}

const children: ChildProcess[] = [];
/** The last lines each process we started logged (its JSON log goes to stdout). */
const logs = new Map<ChildProcess, string>();
function start(args: string[], wrap: string[] = []): ChildProcess {
  const cmd = [...wrap, process.execPath, CLI, ...args];
  const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  const keep = (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
    logs.set(child, err);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('exit', (code) => {
    if (code && code !== 0 && code !== 143) process.stderr.write(`${args[0]} exited ${code}: ${err}\n`);
  });
  children.push(child);
  return child;
}
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid, 'SIGTERM');
  await Promise.race([exited, sleep(5_000)]);
  if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
}

describe('ClusterLink in Kubernetes mode (sandbox)', () => {
  beforeAll(async () => {
    const up = await kosmosctl(dir, ['sandbox', 'up', '--real-nodes', '0']);
    expect(up.code, up.stderr).toBe(0);
  });

  afterAll(async () => {
    for (const c of children) await stop(c);
    await kosmosctl(dir, ['sandbox', 'down']);
    rmSync(dirname(dir), { recursive: true, force: true });
  });

  it('both ClusterLink control-plane components run and are healthy', async () => {
    const r = await kosmosctl(dir, ['sandbox', 'status']);
    for (const component of ['clusterlink-controller', 'network-manager'])
      expect(r.stdout).toMatch(new RegExp(`^${component}\\s+host\\s+-\\s+\\d+\\s+\\d+\\s+\\d+\\s+yes$`, 'm'));
  });

  it('every node of every joined cluster has a ClusterNode with its pod CIDRs and InternalIP', async () => {
    await eventually(() => {
      const byName = new Map(clusterNodes().map((n) => [n.metadata.name, n]));
      for (const cluster of ['leaf-1', 'leaf-2']) {
        const nodes = memberNodes(cluster);
        expect(nodes.length).toBeGreaterThan(0);
        for (const n of nodes) {
          const cn = byName.get(`${cluster}-${n.metadata.name}`);
          expect(cn, `${cluster}-${n.metadata.name}`).toBeDefined();
          expect(cn!.metadata.labels?.['kosmos.io/cluster']).toBe(cluster);
          expect(cn!.spec).toMatchObject({
            clusterName: cluster,
            nodeName: n.metadata.name,
            podCIDRs: n.spec.podCIDRs,
            ip: internalIP(n),
            interfaceName: 'eth0',
          });
          expect(n.spec.podCIDRs?.length).toBeGreaterThan(0);
        }
      }
      // The host is not a Cluster object in the sandbox, so none of its nodes is linked.
      expect([...byName.keys()].filter((k) => k?.startsWith('host-'))).toEqual([]);
    });
  });

  it('each Cluster reports the pod CIDRs of its nodes and its service CIDRs in clusterLinkStatus', async () => {
    await eventually(() => {
      for (const [cluster, serviceCIDR] of [
        ['leaf-1', '10.1.0.0/16'],
        ['leaf-2', '10.2.0.0/16'],
      ] as const) {
        const c = getJson<{
          status?: { clusterLinkStatus?: { podCIDRs?: string[]; serviceCIDRs?: string[] } };
        }>('host', ['cluster', cluster]);
        const podCIDRs = memberNodes(cluster)
          .flatMap((n) => n.spec.podCIDRs ?? [])
          .sort();
        expect(c.status?.clusterLinkStatus).toEqual({ podCIDRs, serviceCIDRs: [serviceCIDR] });
      }
    });
  });

  it('every linked node gets a NodeConfig, and a resync that changes nothing rewrites none', async () => {
    const settled = await eventually(() => {
      const names = clusterNodes()
        .map((n) => n.metadata.name)
        .sort();
      const configs = nodeConfigs();
      expect(configs.map((c) => c.metadata.name).sort()).toEqual(names);
      for (const c of configs) {
        expect(c.spec.devices?.map((d) => [d.name, d.bindDev])).toEqual([['vx-bridge', 'eth0']]);
        // p2p: a route to every pod CIDR of the other cluster.
        expect(c.spec.routes?.length).toBeGreaterThan(0);
      }
      return new Map(configs.map((c) => [c.metadata.name, c.metadata.resourceVersion]));
    });
    // The network manager recomputes every 10 s in the sandbox: wait for more than one resync.
    await sleep(22_000);
    const after = new Map(nodeConfigs().map((c) => [c.metadata.name, c.metadata.resourceVersion]));
    expect(after).toEqual(settled);
  });

  it('a node added to a leaf gets its ClusterNode, its NodeConfig, and a route in the other cluster', async () => {
    const name = `extra-${hex()}`;
    addNode('leaf-1', name, '198.18.8.201');
    const cn = await eventually(() => {
      const n = clusterNodes().find((x) => x.metadata.name === `leaf-1-${name}`);
      expect(n?.spec.podCIDRs?.length).toBeGreaterThan(0);
      return n!;
    });
    expect(cn.spec).toMatchObject({ clusterName: 'leaf-1', nodeName: name, ip: '198.18.8.201' });
    const podCIDR = cn.spec.podCIDRs![0]!;
    await eventually(() => {
      expect(nodeConfig(`leaf-1-${name}`).spec.devices?.[0]?.bindDev).toBe('eth0');
      const remote = nodeConfig('leaf-2-leaf-2-node-0');
      expect(remote.spec.routes?.map((r) => r.cidr)).toContain(podCIDR);
    });
    // And it leaves again with its Node.
    expect(kubectl(kc('leaf-1'), ['delete', 'node', name]).code).toBe(0);
    await eventually(() => {
      expect(clusterNodes().map((n) => n.metadata.name)).not.toContain(`leaf-1-${name}`);
      expect(nodeConfigs().map((n) => n.metadata.name)).not.toContain(`leaf-1-${name}`);
      expect(nodeConfig('leaf-2-leaf-2-node-0').spec.routes?.map((r) => r.cidr)).not.toContain(podCIDR);
    });
  });

  it("a Cluster without serviceCIDRs reports its leaf's ServiceCIDR objects, the network manager routes them, and the spec list overrides them", async () => {
    const status = () =>
      getJson<{ status?: { clusterLinkStatus?: { serviceCIDRs?: string[] } } }>('host', ['cluster', 'leaf-1'])
        .status?.clusterLinkStatus?.serviceCIDRs;
    const remoteRoutes = () => nodeConfig('leaf-2-leaf-2-node-0').spec.routes?.map((r) => r.cidr) ?? [];
    const extra = `extra-${hex()}`;
    const gateway = 'leaf-1-leaf-1-node-0';
    const setRoles = (roles: string[]) => {
      const r = kubectl(kc('host'), [
        'patch',
        'clusternode',
        gateway,
        '--type',
        'merge',
        '-p',
        JSON.stringify({ spec: { roles } }),
      ]);
      expect(r.code, r.stderr).toBe(0);
    };
    try {
      // The sandbox names the range in the spec; without it, discovery has to find it.
      patchCluster('leaf-1', { serviceCIDRs: null });
      const created = kubectl(
        kc('leaf-1'),
        ['create', '-f', '-'],
        JSON.stringify({
          apiVersion: 'networking.k8s.io/v1',
          kind: 'ServiceCIDR',
          metadata: { name: extra },
          spec: { cidrs: ['10.101.0.0/24'] },
        }),
      );
      expect(created.code, created.stderr).toBe(0);
      // The apiserver's default ServiceCIDR (from --service-cluster-ip-range) first, then the added one.
      await eventually(() => expect(status()).toEqual(['10.1.0.0/16', '10.101.0.0/24']));
      // p2p routes a cluster's service CIDRs through its gateway node.
      setRoles(['gateway']);
      await eventually(() =>
        expect(remoteRoutes()).toEqual(expect.arrayContaining(['10.1.0.0/16', '10.101.0.0/24'])),
      );
      patchCluster('leaf-1', { serviceCIDRs: ['10.1.0.0/16'] });
      await eventually(() => {
        expect(status()).toEqual(['10.1.0.0/16']);
        expect(remoteRoutes()).toContain('10.1.0.0/16');
        expect(remoteRoutes()).not.toContain('10.101.0.0/24');
      });
    } finally {
      setRoles([]);
      patchCluster('leaf-1', { serviceCIDRs: ['10.1.0.0/16'] });
      kubectl(kc('leaf-1'), ['delete', 'servicecidr', extra, '--wait=false']);
    }
  });

  const apply = (cluster: string, objects: readonly object[]) => {
    const r = kubectl(
      kc(cluster),
      ['apply', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
    );
    expect(r.code, r.stderr).toBe(0);
  };
  const installCrds = (cluster: string, crds: readonly Record<string, unknown>[]) => {
    apply(cluster, crds);
    const r = kubectl(kc(cluster), [
      'wait',
      '--for',
      'condition=established',
      '--timeout=60s',
      ...crdNames(crds).map((n) => `crd/${n}`),
    ]);
    expect(r.code, r.stderr).toBe(0);
  };
  const linkStatus = (cluster: string) =>
    getJson<{ status?: { clusterLinkStatus?: { podCIDRs?: string[]; serviceCIDRs?: string[] } } }>('host', [
      'cluster',
      cluster,
    ]).status?.clusterLinkStatus ?? {};
  const podCIDRsOf = (clusterNode: string) =>
    clusterNodes().find((n) => n.metadata.name === clusterNode)?.spec.podCIDRs;
  const nodePodCIDRs = (cluster: string) =>
    memberNodes(cluster)
      .flatMap((n) => n.spec.podCIDRs ?? [])
      .sort();
  const clusterlinkPools = (cluster: string) =>
    items<{
      metadata: { name: string; resourceVersion?: string };
      spec: { cidr: string; disabled?: boolean; natOutgoing?: boolean };
    }>(cluster, 'ippools.crd.projectcalico.org').filter((p) => p.metadata.name.startsWith('clusterlink-'));

  it("a Calico member: its IPPools and block affinities become its pod CIDRs, and it gets disabled natOutgoing-false pools for the other cluster's CIDRs that come and go with the link", async () => {
    const node0 = memberNodes('leaf-1')[0]!.metadata.name;
    try {
      installCrds('leaf-1', CALICO_CRDS);
      apply('leaf-1', [
        {
          apiVersion: 'crd.projectcalico.org/v1',
          kind: 'IPPool',
          metadata: { name: 'default-ipv4-ippool' },
          spec: {
            cidr: '10.233.64.0/18',
            blockSize: 26,
            natOutgoing: true,
            ipipMode: 'Never',
            vxlanMode: 'Always',
          },
        },
        ...['10.233.64.0/26', '10.233.64.64/26'].map((cidr) => ({
          apiVersion: 'crd.projectcalico.org/v1',
          kind: 'BlockAffinity',
          metadata: { name: `${node0}-${cidr.replace(/[./]/g, '-')}` },
          spec: { cidr, node: node0, state: 'confirmed', deleted: 'false' },
        })),
      ]);
      await eventually(() => {
        expect(linkStatus('leaf-1').podCIDRs).toEqual(['10.233.64.0/18']);
        expect(podCIDRsOf(`leaf-1-${node0}`)).toEqual(['10.233.64.0/26', '10.233.64.64/26']);
      });
      // The other cluster's pod and service CIDRs, as pools Calico never allocates from or masquerades to.
      const leaf2 = linkStatus('leaf-2');
      const wanted = [...(leaf2.podCIDRs ?? []), ...(leaf2.serviceCIDRs ?? [])].sort();
      expect(wanted.length).toBeGreaterThan(1);
      await eventually(() => {
        const pools = clusterlinkPools('leaf-1');
        expect(pools.map((p) => p.spec.cidr).sort()).toEqual(wanted);
        for (const p of pools) expect(p.spec).toMatchObject({ disabled: true, natOutgoing: false });
        expect(pools.map((p) => p.metadata.name)).toContain('clusterlink-leaf-2-service-10-2-0-0-16');
      });
      // Passes that change nothing write nothing (the controller reads the member every 5 s here).
      const versions = () =>
        clusterlinkPools('leaf-1').map((p) => [p.metadata.name, p.metadata.resourceVersion]);
      const before = versions();
      await sleep(11_000);
      expect(versions()).toEqual(before);
      // The remote cluster leaves ClusterLink: its pools go; it comes back: they come back.
      patchCluster('leaf-2', { enable: false });
      await eventually(() => expect(clusterlinkPools('leaf-1')).toEqual([]));
      patchCluster('leaf-2', { enable: true });
      await eventually(() => expect(clusterlinkPools('leaf-1').length).toBe(wanted.length));
      // This cluster leaves ClusterLink: all its ClusterLink pools go, its own pool stays.
      patchCluster('leaf-1', { enable: false });
      await eventually(() => {
        expect(clusterlinkPools('leaf-1')).toEqual([]);
        expect(items<object>('leaf-1', 'ippools.crd.projectcalico.org')).toHaveLength(1);
      });
    } finally {
      patchCluster('leaf-2', { enable: true });
      patchCluster('leaf-1', { enable: true });
      kubectl(kc('leaf-1'), ['delete', ...crdNames(CALICO_CRDS).map((n) => `crd/${n}`)]);
    }
    // Without Calico's CRDs, the nodes' own CIDRs again.
    await eventually(() => {
      expect(linkStatus('leaf-1').podCIDRs).toEqual(nodePodCIDRs('leaf-1'));
      expect(podCIDRsOf(`leaf-1-${node0}`)).toEqual(memberNodes('leaf-1')[0]!.spec.podCIDRs);
    });
  });

  it("a Cilium member (cluster-pool IPAM): cilium-config's pools become its pod CIDRs, each CiliumNode's its node's", async () => {
    const node0 = memberNodes('leaf-2')[0]!.metadata.name;
    try {
      patchCluster('leaf-2', { enable: false, cni: 'cilium' });
      patchCluster('leaf-2', { enable: true });
      installCrds('leaf-2', CILIUM_CRDS);
      apply('leaf-2', [
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'cilium-config', namespace: 'kube-system' },
          data: {
            ipam: 'cluster-pool',
            'cluster-pool-ipv4-cidr': '10.202.0.0/16 10.203.0.0/16',
            'cluster-pool-ipv4-mask-size': '24',
          },
        },
        {
          apiVersion: 'cilium.io/v2',
          kind: 'CiliumNode',
          metadata: { name: node0 },
          spec: { ipam: { podCIDRs: ['10.202.7.0/24'] } },
        },
      ]);
      await eventually(() => {
        expect(linkStatus('leaf-2').podCIDRs).toEqual(['10.202.0.0/16', '10.203.0.0/16']);
        expect(podCIDRsOf(`leaf-2-${node0}`)).toEqual(['10.202.7.0/24']);
        // p2p: the other cluster routes the node's Cilium CIDR to it.
        expect(nodeConfig('leaf-1-leaf-1-node-0').spec.routes?.map((r) => r.cidr)).toContain('10.202.7.0/24');
      });
    } finally {
      kubectl(kc('leaf-2'), ['delete', 'configmap', '-n', 'kube-system', 'cilium-config']);
      kubectl(kc('leaf-2'), ['delete', ...crdNames(CILIUM_CRDS).map((n) => `crd/${n}`)]);
      patchCluster('leaf-2', { enable: false, cni: 'calico' });
      patchCluster('leaf-2', { enable: true });
    }
    await eventually(() => expect(linkStatus('leaf-2').podCIDRs).toEqual(nodePodCIDRs('leaf-2')));
  });

  describe.runIf(isRoot)('an agent on a real kernel (network namespace), root only', () => {
    const ns = `kle2e${hex()}`;
    const veth = `kle${hex()}`;
    const octet = 1 + (randomBytes(1)[0]! % 250);
    const rootIP = `169.254.${octet}.1`;
    const target = 'leaf-1-leaf-1-node-0';
    let proxy: Server | undefined;
    const sockets = new Set<Socket>();
    let agent: ChildProcess | undefined;

    const inNs = (args: string[]) => run('ip', ['-n', ns, ...args]);
    const table200 = async () =>
      (await inNs(['route', 'show', 'table', '200']))
        .split('\n')
        .map((l) => l.trim().split(' ')[0])
        .filter((x): x is string => !!x)
        .sort();

    beforeAll(async () => {
      const ip = clusterNodes().find((n) => n.metadata.name === target)?.spec.ip;
      expect(ip).toBeDefined();
      // The underlay NIC the NodeConfig binds to (bindDev eth0), with the node's InternalIP.
      await run('ip', ['netns', 'add', ns]);
      await inNs(['link', 'set', 'lo', 'up']);
      await inNs(['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
      await inNs(['addr', 'add', `${ip}/21`, 'dev', 'eth0']);
      for (const l of ['eth0', 'eth1']) await inNs(['link', 'set', l, 'up']);
      // The apiserver listens on the root namespace's loopback: reach it over a veth pair and
      // a TCP relay on the root side (the certificate is checked for "localhost").
      await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'api0', 'netns', ns]);
      await run('ip', ['addr', 'add', `${rootIP}/30`, 'dev', veth]);
      await run('ip', ['link', 'set', veth, 'up']);
      await inNs(['addr', 'add', `169.254.${octet}.2/30`, 'dev', 'api0']);
      await inNs(['link', 'set', 'api0', 'up']);
      const host = parse(readFileSync(kc('host'), 'utf8')) as {
        clusters: { cluster: Record<string, string> }[];
      };
      const api = new URL(host.clusters[0]!.cluster['server']!);
      proxy = createServer((s) => {
        sockets.add(s);
        const up = createConnection(Number(api.port), '127.0.0.1');
        sockets.add(up);
        s.pipe(up).pipe(s);
        const end = () => (s.destroy(), up.destroy(), sockets.delete(s), sockets.delete(up));
        s.on('error', end).on('close', end);
        up.on('error', end).on('close', end);
      });
      await new Promise<void>((r) => proxy!.listen(0, rootIP, r));
      const port = (proxy.address() as { port: number }).port;
      host.clusters[0]!.cluster['server'] = `https://${rootIP}:${port}`;
      host.clusters[0]!.cluster['tls-server-name'] = 'localhost';
      const agentKubeconfig = join(dirname(dir), 'agent-kubeconfig');
      writeFileSync(agentKubeconfig, stringify(host), { mode: 0o600 });
      agent = start(
        ['agent', '--kubeconfig', agentKubeconfig, '--name', target, '--resync-ms', '1000'],
        ['ip', 'netns', 'exec', ns],
      );
    });

    afterAll(async () => {
      if (agent) await stop(agent);
      for (const s of sockets) s.destroy();
      await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
      // Deleting the namespace removes its devices, routes and rules, and the veth's root end.
      await run('ip', ['netns', 'del', ns]).catch(() => undefined);
      await run('ip', ['link', 'del', veth]).catch(() => undefined);
    });

    it('applies its NodeConfig to the kernel and reports the applied generation', async () => {
      await eventually(async () => {
        const nc = nodeConfig(target);
        expect(nc.status?.appliedGeneration).toBe(nc.metadata.generation);
        expect(nc.status?.error).toBeUndefined();
        const link = await inNs(['-d', 'link', 'show', 'vx-bridge']);
        expect(link).toMatch(/vxlan id 54 /);
        expect(link).toContain('dev eth0');
        expect(await table200()).toEqual(nc.spec.routes!.map((r) => r.cidr).sort());
      }, 60_000);
    });

    it('follows a change of its source: a node added to the other cluster becomes a route', async () => {
      const name = `extra-${hex()}`;
      addNode('leaf-2', name, '198.18.16.202');
      const podCIDR = await eventually(() => {
        const n = clusterNodes().find((x) => x.metadata.name === `leaf-2-${name}`);
        expect(n?.spec.podCIDRs?.length).toBeGreaterThan(0);
        return n!.spec.podCIDRs![0]!;
      });
      await eventually(async () => {
        expect(await table200()).toContain(podCIDR);
        const nc = nodeConfig(target);
        expect(nc.status?.appliedGeneration).toBe(nc.metadata.generation);
      }, 60_000);
    });

    it('refuses a NodeConfig with an unparsable CIDR: status.error is set, the kernel keeps the last good state', async ({
      onTestFailed,
    }) => {
      onTestFailed(() => {
        process.stderr.write(`agent log:\n${agent ? logs.get(agent) : ''}\n`);
      });
      const before = await table200();
      const good = nodeConfig(target);
      const routes = good.spec.routes!.map((r, i) => (i === 0 ? { ...r, cidr: '10.999.0.0/16' } : r));
      const writeBad = () => {
        const r = kubectl(kc('host'), [
          'patch',
          'nodeconfig',
          target,
          '--type',
          'merge',
          '-p',
          JSON.stringify({ spec: { routes } }),
        ]);
        expect(r.code, r.stderr).toBe(0);
      };
      writeBad();
      expect(nodeConfig(target).metadata.generation).toBeGreaterThan(good.metadata.generation!);
      // The network manager puts its own spec back at each resync (every 10 s): write the bad
      // one again whenever it did, until the agent has reported the refusal.
      await eventually(
        () => {
          const nc = nodeConfig(target);
          if (nc.spec.routes?.[0]?.cidr !== '10.999.0.0/16') {
            writeBad();
            throw new Error('the network manager restored the spec before the agent reported');
          }
          expect(nc.status?.error).toMatch(/spec\.routes\[0\]\.cidr: Invalid value: "10\.999\.0\.0\/16"/);
          // Refused: the applied generation stays behind the bad one.
          expect(nc.status?.appliedGeneration).toBeLessThan(nc.metadata.generation!);
        },
        30_000,
        200,
      );
      expect(await table200()).toEqual(before);
      // Then the manager's resync restores the computed spec and the agent applies it again.
      await eventually(async () => {
        const nc = nodeConfig(target);
        expect(nc.spec.routes).toEqual(good.spec.routes);
        expect(nc.status?.error).toBeUndefined();
        expect(nc.status?.appliedGeneration).toBe(nc.metadata.generation);
        expect(await table200()).toEqual(before);
      }, 60_000);
    });
  });

  it('switching a leaf to gateway mode elects exactly one gateway through a Lease, and fails over', async () => {
    const cluster = 'leaf-2';
    const ns = kubectl(kc('host'), ['create', 'namespace', 'kosmos-system']);
    expect(ns.code === 0 || ns.stderr.includes('AlreadyExists'), ns.stderr).toBe(true);
    // networkType may only change while ClusterLink is off for the cluster (webhook rule).
    patchCluster(cluster, { enable: false, networkType: 'gateway' });
    patchCluster(cluster, { enable: true });
    const candidates = memberNodes(cluster).map((n) => `${cluster}-${n.metadata.name}`);
    const electors = new Map(
      candidates.map((name) => [
        name,
        start(['elector', '--kubeconfig', kc('host'), '--cluster', cluster, '--name', name]),
      ]),
    );
    const gateways = () =>
      clusterNodes()
        .filter((n) => n.spec.clusterName === cluster && (n.spec.roles ?? []).includes('gateway'))
        .map((n) => n.metadata.name);
    const holder = () =>
      getJson<Lease>('host', ['lease', '-n', 'kosmos-system', `elector-${cluster}`]).spec.holderIdentity;
    const first = await eventually(() => {
      const g = gateways();
      expect(g).toHaveLength(1);
      expect(holder()).toBe(g[0]);
      return g[0]!;
    }, 60_000);
    await eventually(() => {
      // Only the gateway has the bridge device; the others reach other clusters through it.
      const gw = nodeConfig(first);
      expect(gw.spec.devices?.map((d) => d.name)).toContain('vx-bridge');
      for (const other of candidates.filter((c) => c !== first))
        expect(nodeConfig(other).spec.devices?.map((d) => d.name)).not.toContain('vx-bridge');
    });
    // Exactly one gateway stays true for a while, not only at one instant.
    for (let i = 0; i < 5; i++) {
      expect(gateways()).toEqual([first]);
      await sleep(1_000);
    }
    // The gateway's elector dies without releasing the lease: another takes over (8 s TTL + 2 s retry).
    const leader = electors.get(first)!;
    process.kill(leader.pid!, 'SIGKILL');
    const second = await eventually(() => {
      const g = gateways();
      expect(g).toHaveLength(1);
      expect(g[0]).not.toBe(first);
      expect(holder()).toBe(g[0]);
      return g[0]!;
    }, 30_000);
    expect(candidates).toContain(second);
    for (const e of electors.values()) await stop(e);
  });
});
