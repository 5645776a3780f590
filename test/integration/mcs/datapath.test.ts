/**
 * The Multi-Cluster Services datapath on real parts: sandbox control planes hold the
 * Services, ClusterLink's lab links two clusters' pods over vxlan on network namespaces,
 * and a real kube-proxy serves the importing cluster inside its client pod's namespace.
 *
 *   sandbox leaf-1 = lab cluster "b": Service echo (its endpoint is b's pod, where a TCP
 *                    echo server listens), exported with a ServiceExport
 *   sandbox leaf-2 = lab cluster "a": the MCS controller gives it a derived Service and
 *                    EndpointSlices; kube-proxy (in a's pod namespace) turns the derived
 *                    Service's cluster IP into b's pod address; leaf-2's clusterset DNS
 *                    server answers the name
 *
 * The client in a's pod resolves echo.shop.svc.clusterset.local through the DNS server and
 * talks to the answer over TCP; the packets cross the vxlan tunnels ClusterLink's agents set
 * up. What stands in for a real cluster: a pod namespace's link-local veth to the root
 * namespace, through which kube-proxy reaches the (loopback-bound) sandbox apiserver and the
 * DNS server is reached, as NodeLocal DNSCache is on a node.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labPlan } from '../../../src/clusterlink/lab/lab.js';
import { eventually, kosmosctl, kubectl, kubectlPath, newSandboxDir } from '../../e2e/harness.js';
import { type RunningLab, startLab, suffix } from '../clusterlink/lab-helpers.js';

const s = suffix();
const LAB = `clusters:
  - name: a${s}
    networkType: p2p
    ipFamily: ipv4
    podCIDRs: [10.233.64.0/18]
    serviceCIDRs: [10.233.0.0/18]
    nodes:
      - {name: n1, podCIDRs: [10.233.64.0/24]}
  - name: b${s}
    networkType: gateway
    ipFamily: ipv4
    podCIDRs: [10.234.64.0/18]
    serviceCIDRs: [10.234.0.0/18]
    nodes:
      - {name: n1, podCIDRs: [10.234.64.0/24]}
`;
const ECHO_PORT = 7000;
/** The root end and the client pod end of the management link. */
const ROOT_IP = '169.254.77.1';
const POD_IP = '169.254.77.2';
const DNS_PORT = 5353;

const dir = newSandboxDir('kosmos-mcs-datapath-');
const kubeconfig = (c: string) => join(dir, c, 'kubeconfig');
const MCS = join(process.cwd(), 'dist', 'mcs', 'main.js');
const children: ChildProcess[] = [];
const logs = new Map<string, string>();
let lab: RunningLab | undefined;
let forwarder: Server | undefined;
let clientNs = '';
let serverIp = '';
let rootLink = '';

function k(c: string, args: string[], input?: string): string {
  const r = kubectl(kubeconfig(c), args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} in ${c}: ${r.stderr}`);
  return r.stdout;
}

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

function start(name: string, cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const add = (c: Buffer) => logs.set(name, ((logs.get(name) ?? '') + c.toString()).slice(-6000));
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  child.on('exit', (code) => {
    if (code !== 0 && code !== null) process.stderr.write(`${name} exited ${code}: ${logs.get(name)}\n`);
  });
  children.push(child);
  return child;
}

/** The leaf-2 apiserver's port on loopback, from its kubeconfig. */
function apiserverPort(c: string): number {
  const kc = parse(readFileSync(kubeconfig(c), 'utf8')) as { clusters: { cluster: { server: string } }[] };
  return Number(new URL(kc.clusters[0]!.cluster.server).port);
}

/** A kubeconfig for kube-proxy in the pod namespace: the apiserver through the link's root end. */
function podKubeconfig(c: string, port: number): string {
  const kc = parse(readFileSync(kubeconfig(c), 'utf8')) as {
    clusters: { cluster: Record<string, string> }[];
  };
  for (const cl of kc.clusters) {
    cl.cluster['server'] = `https://${ROOT_IP}:${port}`;
    cl.cluster['tls-server-name'] = 'localhost';
  }
  const file = join(dirname(kubeconfig(c)), 'kube-proxy.kubeconfig');
  writeFileSync(file, JSON.stringify(kc));
  return file;
}

/** Resolves the name through the clusterset DNS server and echoes a line over TCP, from inside the client pod. */
const CLIENT = `
const { Resolver } = require('node:dns').promises;
const net = require('node:net');
const [server, name, port] = process.argv.slice(1);
(async () => {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([server]);
  const [ip] = await r.resolve4(name);
  const sock = net.connect({ host: ip, port: Number(port), timeout: 3000 });
  sock.on('timeout', () => { console.error('timeout connecting to ' + ip); process.exit(2); });
  sock.on('error', (e) => { console.error(e.message); process.exit(3); });
  sock.on('connect', () => sock.write('hello over the clusterset\\n'));
  sock.on('data', (d) => { console.log(JSON.stringify({ ip, echo: d.toString().trim(), local: sock.localAddress })); process.exit(0); });
})().catch((e) => { console.error(e.message); process.exit(4); });
`;

/** Echoes what it reads and reports who connected, so the test sees the client's pod address. */
const ECHO = `
const net = require('node:net');
net.createServer((s) => { s.on('data', (d) => s.write(d.toString().trim() + ' from ' + s.remoteAddress + '\\n')); }).listen(Number(process.argv[1]), '0.0.0.0', () => console.log('listening'));
`;

beforeAll(async () => {
  const up = await kosmosctl(dir, ['sandbox', 'up', '--bare', '--real-nodes', '0']);
  if (up.code !== 0) throw new Error(`sandbox up: ${up.stderr}`);
  lab = await startLab(LAB);
  const plan = labPlan(lab.state);
  const [a, b] = plan.clusters;
  clientNs = a!.nodes[0]!.podNs;
  serverIp = b!.nodes[0]!.pod[4]!;

  // the management link: root <-> client pod (what a node gives its pods for node-local DNS)
  rootLink = `kmcs${s}`;
  sh('ip', ['link', 'add', rootLink, 'type', 'veth', 'peer', 'name', 'mgmt0', 'netns', clientNs]);
  sh('ip', ['addr', 'add', `${ROOT_IP}/30`, 'dev', rootLink]);
  sh('ip', ['link', 'set', rootLink, 'up']);
  sh('ip', ['netns', 'exec', clientNs, 'ip', 'addr', 'add', `${POD_IP}/30`, 'dev', 'mgmt0']);
  sh('ip', ['netns', 'exec', clientNs, 'ip', 'link', 'set', 'mgmt0', 'up']);
  sh('ip', ['netns', 'exec', clientNs, 'ip', 'link', 'set', 'lo', 'up']);

  // the echo server in b's pod
  start('echo', 'ip', ['netns', 'exec', b!.nodes[0]!.podNs, process.execPath, '-e', ECHO, String(ECHO_PORT)]);

  // leaf-2's apiserver through the link, for kube-proxy in the client pod
  const port = apiserverPort('leaf-2');
  forwarder = createServer((sock) => {
    const up = connect(port, '127.0.0.1');
    sock.pipe(up).pipe(sock);
    sock.on('error', () => up.destroy());
    up.on('error', () => sock.destroy());
  });
  await new Promise<void>((resolve) => forwarder!.listen(port, ROOT_IP, resolve));

  start('mcs-controller', process.execPath, [
    MCS,
    'mcs-controller',
    ...['host', 'leaf-1', 'leaf-2'].flatMap((c) => ['--cluster', `${c}=${kubeconfig(c)}`]),
    '--install-crds',
    '--metrics-port',
    '0',
  ]);
  start('mcs-dns', process.execPath, [
    MCS,
    'mcs-dns',
    '--kubeconfig',
    kubeconfig('leaf-2'),
    '--address',
    ROOT_IP,
    '--port',
    String(DNS_PORT),
  ]);
  start('kube-proxy', 'ip', [
    'netns',
    'exec',
    clientNs,
    join(dirname(kubectlPath()), 'kube-proxy'),
    `--kubeconfig=${podKubeconfig('leaf-2', port)}`,
    '--proxy-mode=iptables',
    `--hostname-override=${clientNs}`,
    '--conntrack-max-per-core=0',
    '--iptables-localhost-nodeports=false',
    // the pod namespace's own loopback: no clash with anything on this machine
    '--metrics-bind-address=127.0.0.1:10249',
    '--healthz-bind-address=127.0.0.1:10256',
    '--v=1',
  ]);
}, 240_000);

afterAll(async () => {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(
    children.map((c) =>
      c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined,
    ),
  );
  await new Promise((r) => (forwarder ? forwarder.close(r) : r(undefined)));
  await lab?.down();
  spawnSync('ip', ['link', 'del', rootLink]);
  await kosmosctl(dir, ['sandbox', 'down']);
}, 120_000);

describe('MCS datapath: a client in one cluster reaches a Service exported by another, by its clusterset name', () => {
  it('resolves to the derived Service IP kube-proxy serves, and TCP crosses the ClusterLink tunnel to the exporting pod', async () => {
    for (const c of ['host', 'leaf-1', 'leaf-2'])
      k(
        c,
        ['apply', '-f', '-'],
        JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }),
      );
    // GIVEN leaf-1's Service echo, whose endpoint is the pod of lab cluster b, exported
    await eventually(() => k('leaf-1', ['get', 'crd', 'serviceexports.multicluster.x-k8s.io']), 60_000);
    k(
      'leaf-1',
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: 'echo', namespace: 'shop' },
            spec: { ports: [{ name: 'tcp', port: 80, targetPort: ECHO_PORT, protocol: 'TCP' }] },
          },
          {
            apiVersion: 'discovery.k8s.io/v1',
            kind: 'EndpointSlice',
            metadata: {
              name: 'echo-pods',
              namespace: 'shop',
              labels: { 'kubernetes.io/service-name': 'echo' },
            },
            addressType: 'IPv4',
            endpoints: [{ addresses: [serverIp], conditions: { ready: true } }],
            ports: [{ name: 'tcp', port: ECHO_PORT, protocol: 'TCP' }],
          },
          {
            apiVersion: 'multicluster.x-k8s.io/v1beta1',
            kind: 'ServiceExport',
            metadata: { name: 'echo', namespace: 'shop' },
          },
        ],
      }),
    );

    // WHEN leaf-2 has imported it
    const vip = await eventually(() => {
      const imp = JSON.parse(
        k('leaf-2', ['get', 'serviceimports.multicluster.x-k8s.io', 'echo', '-n', 'shop', '-o', 'json']),
      ) as { spec: { ips?: string[] } };
      const ip = imp.spec.ips?.[0];
      if (!ip) throw new Error('no import IP yet');
      return ip;
    }, 60_000);
    expect(vip).toMatch(/^10\.2\./); // leaf-2's own service range, not a clusterset-wide VIP

    // THEN a client in the other cluster's pod connects by name and its bytes come back
    const reply = await eventually(() => {
      const r = spawnSync(
        'ip',
        [
          'netns',
          'exec',
          clientNs,
          process.execPath,
          '-e',
          CLIENT,
          `${ROOT_IP}:${DNS_PORT}`,
          'echo.shop.svc.clusterset.local',
          '80',
        ],
        { encoding: 'utf8', timeout: 15_000 },
      );
      if (r.status !== 0) {
        const nat = spawnSync('ip', ['netns', 'exec', clientNs, 'iptables-save', '-t', 'nat'], {
          encoding: 'utf8',
        });
        throw new Error(
          `client: exit ${r.status}: ${r.stderr}\nkube-proxy: ${logs.get('kube-proxy')}\nnat in ${clientNs}:\n${nat.stdout}`,
        );
      }
      return JSON.parse(r.stdout) as { ip: string; echo: string; local: string };
    }, 90_000);
    expect(reply.ip).toBe(vip);
    // the server saw the client's own pod address: routed pod to pod, no NAT on the way back
    const clientPodIp = labPlan(lab!.state).clusters[0]!.nodes[0]!.pod[4]!;
    expect(reply.echo).toBe(`hello over the clusterset from ${clientPodIp}`);
  }, 240_000);
});
