import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { UserError } from '../../common/errors.js';
import { sandboxDown, sandboxStatus, sandboxUp } from '../sandbox/sandbox.js';
import { kubeconfigPath, readState, sandboxDir } from '../sandbox/state.js';
import { ensureBinaries } from '../sandbox/binaries.js';
import { sandboxImageLoad } from '../sandbox/node-runtime.js';
import { supervise } from '../sandbox/supervisor.js';
import { NGINX_IMAGE } from '../image/images.js';
import {
  MAX_NODES_PER_CLUSTER,
  MAX_REAL_NODES_PER_CLUSTER,
  defaultTopology,
  parseTopology,
} from '../sandbox/topology.js';
import { printTable } from '../table.js';

function positiveInt(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > max)
      throw new InvalidArgumentError(`must be an integer from 0 to ${max}`);
    return n;
  };
}

export function guide(dir: string, clusters: string[], ports: Record<string, number> = {}): string {
  const host = kubeconfigPath('host', dir);
  const leaf = clusters.find((c) => c !== 'host');
  const dns = (c: string) => ports[`${c}/mcs-dns`];
  const mcs =
    leaf && dns('host')
      ? [
          '',
          `Multi-cluster services: export a Service from ${leaf}, resolve it from any cluster:`,
          `  kubectl --kubeconfig ${kubeconfigPath(leaf, dir)} create deployment hello --image=${NGINX_IMAGE} --port=80`,
          `  kubectl --kubeconfig ${kubeconfigPath(leaf, dir)} expose deployment hello --port=80`,
          `  kubectl --kubeconfig ${kubeconfigPath(leaf, dir)} apply -f - <<< '{"apiVersion":"multicluster.x-k8s.io/v1beta1","kind":"ServiceExport","metadata":{"name":"hello","namespace":"default"}}'`,
          `  kubectl --kubeconfig ${host} get serviceimports`,
          ...clusters
            .filter((c) => dns(c))
            .map(
              (c) => `  dig @127.0.0.1 -p ${dns(c)} hello.default.svc.clusterset.local   # ${c}'s DNS server`,
            ),
        ]
      : [];
  return [
    '',
    'Kosmos sandbox is up.',
    ...clusters.map((c) => `  ${c.padEnd(8)} export KUBECONFIG=${kubeconfigPath(c, dir)}`),
    '',
    'Try:',
    `  kubectl --kubeconfig ${host} get nodes`,
    `  kubectl --kubeconfig ${host} get clusters,dp,cdp,wlp -A`,
    `  kubectl --kubeconfig ${host} apply -f deploy/examples/nginx.yaml   # 4 pods over the leaves`,
    `  kubectl --kubeconfig ${host} get pods -o wide                        # their containers run in the leaves`,
    `  kubectl --kubeconfig ${host} logs <pod> / exec -it <pod> -- sh         # through the virtual node`,
    '  npx kosmosctl sandbox status',
    '  npm stop            # or: npx kosmosctl sandbox down',
    ...mcs,
    '',
  ].join('\n');
}

export function sandboxCommand(): Command {
  const cmd = new Command('sandbox').description(
    'a local multi-cluster Kubernetes (host + leaf clusters) on loopback',
  );

  cmd
    .command('up')
    .description('start the clusters (and every Kosmos component unless --bare); idempotent')
    .option('-t, --topology <file>', 'topology file (clusters and their nodes)')
    .option('--leaves <n>', 'number of leaf clusters when no topology file is given', positiveInt(47), 2)
    .option(
      '--real-nodes <n>',
      'real nodes (kubelet + containerd, each in its own network namespace) per cluster when no topology file is given',
      positiveInt(MAX_REAL_NODES_PER_CLUSTER),
      1,
    )
    .option(
      '--nodes <n>',
      'simulated (kwok) nodes per cluster when no topology file is given (default: 3 with --real-nodes 0, else 0)',
      positiveInt(MAX_NODES_PER_CLUSTER),
    )
    .option('--bare', 'start the clusters and Redis only', false)
    .option('--with-guide', 'print how to use the sandbox when it is up', false)
    .action(
      async (o: {
        topology?: string;
        leaves: number;
        nodes?: number;
        realNodes: number;
        bare: boolean;
        withGuide: boolean;
      }) => {
        let topology;
        if (o.topology) {
          let text: string;
          try {
            text = readFileSync(o.topology, 'utf8');
          } catch (e) {
            throw new UserError(`--topology: cannot read ${o.topology}: ${(e as Error).message}`);
          }
          topology = parseTopology(text, o.topology);
        } else if (!readState()) {
          const simulated = o.nodes ?? (o.realNodes === 0 ? 3 : 0);
          if (simulated + o.realNodes === 0)
            throw new UserError('--nodes and --real-nodes: a cluster needs at least one node');
          topology = defaultTopology(o.leaves, simulated, o.realNodes);
        }
        const state = await sandboxUp({ ...(topology ? { topology } : {}), bare: o.bare });
        if (o.withGuide)
          process.stdout.write(
            guide(
              sandboxDir(),
              state.topology.clusters.map((c) => c.name),
              state.ports,
            ),
          );
      },
    );

  cmd
    .command('down')
    .description('stop every process of the sandbox and remove its files')
    .action(async () => {
      const { stopped, busyPorts, left } = await sandboxDown();
      process.stdout.write(`stopped ${stopped} process(es)\n`);
      if (busyPorts.length > 0) throw new UserError(`ports still in use after down: ${busyPorts.join(', ')}`);
      if (left.length > 0) throw new UserError(`left behind after down: ${left.join('; ')}`);
    });

  cmd
    .command('status')
    .description('show each component: pid, port, health')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (o: { output: string }) => {
      const rows = await sandboxStatus();
      if (!rows) throw new UserError(`no sandbox in ${sandboxDir()}; run 'kosmosctl sandbox up'`);
      if (o.output === 'json') {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      printTable(
        ['COMPONENT', 'CLUSTER', 'NODE', 'PID', 'PORT', 'RESTARTS', 'HEALTHY'],
        rows.map((r) => [
          r.component,
          r.cluster,
          r.node,
          String(r.pid),
          r.port === 0 ? '-' : String(r.port),
          String(r.restarts),
          r.healthy ? 'yes' : r.running ? 'no' : 'not running',
        ]),
      );
      if (rows.some((r) => !r.healthy)) process.exitCode = 1;
    });

  const image = cmd.command('image').description("the real nodes' images");
  image
    .command('load')
    .description('load a docker-archive or OCI archive into every real node (of one cluster)')
    .argument('<file>', 'image archive (docker save / OCI archive, e.g. from `kosmosctl image build`)')
    .option('--cluster <name>', 'only the real nodes of this cluster')
    .action(async (file: string, o: { cluster?: string }) => {
      const state = readState();
      if (!state) throw new UserError(`no sandbox in ${sandboxDir()}; run 'kosmosctl sandbox up'`);
      const { refs, nodes } = await sandboxImageLoad(
        state,
        sandboxDir(),
        await ensureBinaries({ quiet: true }),
        file,
        o.cluster,
      );
      process.stdout.write(`loaded ${refs.join(', ') || file} into ${nodes.join(', ')}\n`);
    });

  cmd
    .command('supervise', { hidden: true })
    .description('start again any component of the sandbox that exits (run by `up`)')
    .action(async () => {
      const ac = new AbortController();
      process.once('SIGTERM', () => ac.abort());
      process.once('SIGINT', () => ac.abort());
      await supervise(sandboxDir(), ac.signal);
    });

  cmd
    .command('kubeconfig')
    .description('print the path of a cluster admin kubeconfig')
    .argument('<cluster>', 'cluster name, e.g. host or leaf-1')
    .action((cluster: string) => {
      const state = readState();
      if (!state) throw new UserError(`no sandbox in ${sandboxDir()}; run 'kosmosctl sandbox up'`);
      const names = state.topology.clusters.map((c) => c.name);
      if (!names.includes(cluster))
        throw new UserError(`unknown cluster "${cluster}": the sandbox has ${names.join(', ')}`);
      process.stdout.write(`${kubeconfigPath(cluster)}\n`);
    });
  return cmd;
}
