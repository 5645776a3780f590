/**
 * kosmosctl install | uninstall | join cluster | unjoin cluster | status | check.
 * The work is in ../install/; this file is flags, messages and exit codes.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { stringify } from 'yaml';
import {
  CNI_NAMES,
  DEFAULT_NAMESPACE,
  IP_FAMILIES,
  LEAF_MODES,
  NETWORK_TYPES,
  type LeafMode,
} from '../../api/constants.js';
import type { KubeObject } from '../../api/meta.js';
import { UserError, describeError } from '../../common/errors.js';
import { KubeClient, kubeConfigFromString, loadKubeConfig } from '../../common/kube.js';
import { formatTable } from '../table.js';
import { check, checkTable } from '../install/check.js';
import { install, uninstall } from '../install/install.js';
import { join, parseServiceCIDRs, storedKubeconfig, unjoin } from '../install/join.js';
import { stderrProgress } from '../install/progress.js';
import {
  CERT_HEADERS,
  CLUSTER_HEADERS,
  COMPONENT_HEADERS,
  QUEUE_HEADERS,
  gatherStatus,
  summarize,
} from '../install/status.js';
import {
  DEFAULT_IMAGE,
  MODULES,
  bundledRedisUrl,
  defaultHostValues,
  type Module,
} from '../install/values.js';

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number of seconds');
  return n;
}

/** `-m all`, `-m scheduler,webhooks` or `-m scheduler -m webhooks`. */
export function parseModules(value: string, previous: Module[] | undefined): Module[] {
  const out = new Set<Module>(previous ?? []);
  for (const part of value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (part === 'all') MODULES.forEach((m) => out.add(m));
    else if ((MODULES as readonly string[]).includes(part)) out.add(part as Module);
    else
      throw new InvalidArgumentError(
        `Unsupported value: "${part}": supported values: "all", ${MODULES.map((m) => `"${m}"`).join(', ')}`,
      );
  }
  return [...out];
}

function parseSelector(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of value.split(',').filter(Boolean)) {
    const [k, v, ...rest] = kv.split('=');
    if (!k || v === undefined || rest.length > 0) throw new InvalidArgumentError(`"${kv}" is not key=value`);
    out[k] = v;
  }
  return out;
}

/** A client for a kubeconfig file (or the default chain), checked to answer before any write. */
async function connect(path: string | undefined, what: string): Promise<KubeClient> {
  let client: KubeClient;
  try {
    client = new KubeClient(loadKubeConfig(path));
  } catch (e) {
    throw new UserError(
      `${what}: cannot load kubeconfig ${path ?? '(KUBECONFIG or ~/.kube/config)'}: ${describeError(e)}`,
    );
  }
  try {
    await client.request('GET', '/version', undefined, { timeoutMs: 10_000 });
  } catch (e) {
    client.close();
    throw new UserError(`${what}: cannot reach ${client.server}: ${describeError(e)}`);
  }
  return client;
}

function readText(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`${flag}: cannot read ${path}: ${(e as Error).message}`);
  }
}

const printYaml = (objects: KubeObject[]) =>
  process.stdout.write(objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n'));

interface InstallFlags {
  kubeconfig?: string;
  namespace: string;
  cni: string;
  defaultNic: string;
  redisUrl?: string;
  module?: Module[];
  dryRun?: boolean | string;
  output?: string;
  image: string;
  schedulerImage?: string;
  caBundle?: string;
  coredns: boolean;
  enableLink: boolean;
  wait: boolean;
  timeout: number;
}

function installCommand(): Command {
  return new Command('install')
    .description('install Kosmos into the host cluster (server-side apply; run again to upgrade in place)')
    .option('--kubeconfig <path>', 'host cluster kubeconfig (default: KUBECONFIG, then ~/.kube/config)')
    .option('-n, --namespace <namespace>', 'namespace of the Kosmos components', DEFAULT_NAMESPACE)
    .addOption(
      new Option('--cni <name>', 'CNI of the host cluster (default for join)')
        .choices([...CNI_NAMES])
        .default('calico'),
    )
    .option('--default-nic <name>', "node interface ClusterLink uses ('*' detects it)", '*')
    .option('--redis-url <url>', 'use this Redis (redis://, rediss://) instead of installing one')
    .option(
      '-m, --module <modules>',
      `all, ${MODULES.join(', ')} (comma-separated or repeated)`,
      parseModules,
    )
    .option('--dry-run [mode]', 'server: validate with the apiserver, nothing persisted; client: render only')
    .addOption(new Option('-o, --output <format>', 'print the rendered objects').choices(['yaml']))
    .option('--image <image>', 'image of the Kosmos components', DEFAULT_IMAGE)
    .option('--scheduler-image <image>', 'kube-scheduler image of kosmos-scheduler')
    .addOption(
      new Option('--ca-bundle <base64>', "webhook CA bundle (default: the install's own CA)").hideHelp(),
    )
    .option(
      '--no-coredns',
      'leave kube-system/coredns alone (by default the mcs module adds a clusterset.local block)',
    )
    .option(
      '--no-enable-link',
      'with the clusterlink module, leave the host\'s own nodes out of ClusterLink (by default the host joins it like a member: Cluster "host", agents on its nodes)',
    )
    .option('--no-wait', 'return after applying, without waiting for the components')
    .option('--timeout <seconds>', 'how long to wait for the components', seconds, 300)
    .action(async (f: InstallFlags) => {
      const dryRun =
        f.dryRun === undefined
          ? undefined
          : f.dryRun === true || f.dryRun === 'server'
            ? 'server'
            : f.dryRun === 'client'
              ? 'client'
              : undefined;
      if (f.dryRun !== undefined && !dryRun)
        throw new UserError(
          `--dry-run: Unsupported value: "${String(f.dryRun)}": supported values: "server", "client"`,
        );
      const modules = new Set(f.module ?? MODULES);
      const values = defaultHostValues({
        namespace: f.namespace,
        cni: f.cni,
        defaultNic: f.defaultNic,
        image: f.image,
        redisUrl: f.redisUrl ?? '',
        modules: {
          scheduler: modules.has('scheduler'),
          webhooks: modules.has('webhooks'),
          clustertree: modules.has('clustertree'),
          clusterlink: modules.has('clusterlink'),
          mcs: modules.has('mcs'),
        },
        ...(f.schedulerImage ? { schedulerImage: f.schedulerImage } : {}),
        ...(f.caBundle ? { caBundle: f.caBundle } : {}),
      });
      const client = dryRun === 'client' ? undefined : await connect(f.kubeconfig, 'install');
      try {
        const progress = f.output ? () => {} : stderrProgress;
        const { objects } = await install(client, {
          values,
          ...(dryRun ? { dryRun } : {}),
          coreDns: f.coredns,
          linkHost: f.enableLink,
          wait: f.wait,
          timeoutMs: f.timeout * 1000,
          progress,
        });
        if (f.output === 'yaml') printYaml(objects);
        else if (dryRun) process.stdout.write(`${objects.length} objects valid (dry run, nothing changed)\n`);
        else process.stdout.write(`Kosmos installed in ${client?.server} namespace ${f.namespace}\n`);
      } finally {
        client?.close();
      }
    });
}

function uninstallCommand(): Command {
  return new Command('uninstall')
    .description('remove everything install applied (refuses while clusters are joined)')
    .option('--kubeconfig <path>', 'host cluster kubeconfig (default: KUBECONFIG, then ~/.kube/config)')
    .option('-n, --namespace <namespace>', 'namespace of the Kosmos components', DEFAULT_NAMESPACE)
    .option('--keep-crds', 'keep the kosmos.io CRDs (and every object of those kinds)', false)
    .option('--timeout <seconds>', 'how long to wait for objects to go', seconds, 300)
    .action(async (f: { kubeconfig?: string; namespace: string; keepCrds: boolean; timeout: number }) => {
      const client = await connect(f.kubeconfig, 'uninstall');
      try {
        await uninstall(client, {
          values: defaultHostValues({ namespace: f.namespace }),
          keepCrds: f.keepCrds,
          timeoutMs: f.timeout * 1000,
          progress: stderrProgress,
        });
        process.stdout.write(`Kosmos removed from ${client.server}\n`);
      } finally {
        client.close();
      }
    });
}

interface JoinFlags {
  name: string;
  kubeconfig: string;
  hostKubeconfig?: string;
  namespace: string;
  cni?: string;
  defaultNic?: string;
  networkType: 'p2p' | 'gateway';
  ipFamily: 'all' | 'ipv4' | 'ipv6';
  leafModel: LeafMode;
  partySelector?: Record<string, string>;
  serviceCidr?: string[];
  enableAll?: boolean;
  enableLink?: boolean;
  enableTree?: boolean;
  redisUrl?: string;
  hostServer?: string;
  image: string;
  coredns: boolean;
  wait: boolean;
  timeout: number;
}

async function hostConfig(
  host: KubeClient,
  namespace: string,
): Promise<{ cni?: string; defaultNic?: string; redisUrl?: string; mcs: boolean }> {
  const cm = await host.getOrUndefined<KubeObject & { data?: Record<string, string> }>(
    'v1',
    'ConfigMap',
    'kosmos-config',
    namespace,
  );
  const secret = await host.getOrUndefined<KubeObject & { data?: Record<string, string> }>(
    'v1',
    'Secret',
    'kosmos-redis',
    namespace,
  );
  const url = secret?.data?.['url'];
  return {
    ...(cm?.data?.['cni'] ? { cni: cm.data['cni'] } : {}),
    ...(cm?.data?.['defaultNICName'] ? { defaultNic: cm.data['defaultNICName'] } : {}),
    ...(url ? { redisUrl: Buffer.from(url, 'base64').toString('utf8') } : {}),
    mcs: cm?.data?.['mcs'] === 'true',
  };
}

function cliServiceCIDRs(value: string): string[] {
  try {
    return parseServiceCIDRs(value);
  } catch (e) {
    throw new InvalidArgumentError(describeError(e).replace(/^--service-cidr: /, ''));
  }
}

function joinCommand(): Command {
  const cmd = new Command('join').description('join a cluster to Kosmos');
  cmd
    .command('cluster')
    .description(
      'store the member kubeconfig, create its Cluster, install its ClusterLink and (when the host runs MCS) clusterset DNS parts, wait for its virtual nodes',
    )
    .requiredOption('--name <name>', 'Cluster name')
    .requiredOption('--kubeconfig <path>', 'member cluster kubeconfig')
    .option('--host-kubeconfig <path>', 'host cluster kubeconfig (default: KUBECONFIG, then ~/.kube/config)')
    .option('-n, --namespace <namespace>', 'namespace of Kosmos in host and member', DEFAULT_NAMESPACE)
    .addOption(
      new Option('--cni <name>', "CNI of the member (default: the install's)").choices([...CNI_NAMES]),
    )
    .option('--default-nic <name>', "member node interface for ClusterLink (default: the install's)")
    .addOption(
      new Option('--network-type <type>', 'ClusterLink mode').choices([...NETWORK_TYPES]).default('p2p'),
    )
    .addOption(
      new Option('--ip-family <family>', 'address families to link')
        .choices([...IP_FAMILIES])
        .default('ipv4'),
    )
    .addOption(
      new Option('--leaf-model <model>', 'how the member appears as virtual nodes')
        .choices([...LEAF_MODES])
        .default('one2cluster'),
    )
    .option(
      '--party-selector <labels>',
      'one2party: member nodes of the party (key=value,...)',
      parseSelector,
    )
    .option(
      '--service-cidr <cidrs>',
      "the member's service CIDRs (comma separated), used when it shows none itself (no ServiceCIDR objects, no kube-apiserver pod)",
      cliServiceCIDRs,
    )
    .option('--enable-all', 'ClusterTree and ClusterLink')
    .option('--enable-tree', 'ClusterTree: virtual nodes and pod sync (the default)')
    .option('--enable-link', 'ClusterLink: pod and service network between clusters')
    .option('--redis-url <url>', "Redis the member's ClusterLink daemons use (default: the install's)")
    .option(
      '--host-server <url>',
      "host apiserver address as the member's nodes reach it (default: the host kubeconfig's)",
    )
    .option('--image <image>', 'image of the member components', DEFAULT_IMAGE)
    .option(
      '--no-coredns',
      "leave the member's kube-system/coredns alone (by default a clusterset.local block is added when the host runs MCS)",
    )
    .option('--no-wait', 'return after creating, without waiting for virtual nodes and ClusterNodes')
    .option('--timeout <seconds>', 'how long to wait', seconds, 300)
    .action(async (f: JoinFlags) => {
      const memberText = readText(f.kubeconfig, '--kubeconfig');
      const tree = !!(f.enableAll || f.enableTree || !f.enableLink);
      const link = !!(f.enableAll || f.enableLink);
      const host = await connect(f.hostKubeconfig, 'host cluster');
      let member: KubeClient | undefined;
      try {
        try {
          member = new KubeClient(kubeConfigFromString(memberText));
        } catch (e) {
          throw new UserError(`--kubeconfig ${f.kubeconfig}: ${describeError(e)}`);
        }
        const defaults = await hostConfig(host, f.namespace);
        const redisUrl = f.redisUrl ?? defaults.redisUrl ?? bundledRedisUrl(f.namespace);
        if (link && redisUrl.includes('.svc'))
          stderrProgress(
            `note: ${f.name}'s agents use ${redisUrl}, a host-cluster Service name; pass --redis-url if the member cannot resolve it`,
          );
        await join(host, member, {
          name: f.name,
          namespace: f.namespace,
          kubeconfig: memberText,
          cni: f.cni ?? defaults.cni ?? 'calico',
          defaultNic: f.defaultNic ?? defaults.defaultNic ?? '*',
          networkType: f.networkType,
          ipFamily: f.ipFamily,
          leafModel: f.leafModel,
          ...(f.partySelector ? { partySelector: f.partySelector } : {}),
          ...(f.serviceCidr ? { serviceCIDRs: f.serviceCidr } : {}),
          tree,
          link,
          mcs: defaults.mcs,
          coreDns: f.coredns,
          image: f.image,
          redisUrl,
          ...(f.hostServer ? { hostServer: f.hostServer } : {}),
          wait: f.wait,
          timeoutMs: f.timeout * 1000,
          progress: stderrProgress,
        });
        process.stdout.write(`cluster ${f.name} joined\n`);
      } finally {
        member?.close();
        host.close();
      }
    });
  return cmd;
}

function unjoinCommand(): Command {
  const cmd = new Command('unjoin').description('remove a cluster from Kosmos');
  cmd
    .command('cluster')
    .description('delete the Cluster, its kubeconfig Secret, its virtual nodes and its parts in the member')
    .requiredOption('--name <name>', 'Cluster name')
    .option('--kubeconfig <path>', 'member cluster kubeconfig (default: the one stored by join)')
    .option('--host-kubeconfig <path>', 'host cluster kubeconfig (default: KUBECONFIG, then ~/.kube/config)')
    .option('-n, --namespace <namespace>', 'namespace of Kosmos in host and member', DEFAULT_NAMESPACE)
    .option('--timeout <seconds>', 'how long to wait', seconds, 300)
    .action(
      async (f: {
        name: string;
        kubeconfig?: string;
        hostKubeconfig?: string;
        namespace: string;
        timeout: number;
      }) => {
        const host = await connect(f.hostKubeconfig, 'host cluster');
        let member: KubeClient | undefined;
        try {
          const text = f.kubeconfig
            ? readText(f.kubeconfig, '--kubeconfig')
            : await storedKubeconfig(host, f.name, f.namespace);
          if (text) member = new KubeClient(kubeConfigFromString(text));
          else stderrProgress(`no kubeconfig for ${f.name}: its member-side parts (if any) stay`);
          await unjoin(host, member, {
            name: f.name,
            namespace: f.namespace,
            timeoutMs: f.timeout * 1000,
            progress: stderrProgress,
            image: DEFAULT_IMAGE,
          });
          process.stdout.write(`cluster ${f.name} unjoined\n`);
        } finally {
          member?.close();
          host.close();
        }
      },
    );
  return cmd;
}

function statusCommand(): Command {
  return new Command('status')
    .description('clusters, virtual nodes, gateways, components, queue depths and certificate expiry')
    .option('--kubeconfig <path>', 'host cluster kubeconfig (default: KUBECONFIG, then ~/.kube/config)')
    .option('-n, --namespace <namespace>', 'namespace of the Kosmos components', DEFAULT_NAMESPACE)
    .option(
      '--redis-url <url>',
      "read queue depths from this Redis (default: the install's, if reachable from here)",
    )
    .addOption(
      new Option('-o, --output <format>', 'table or json').choices(['table', 'json']).default('table'),
    )
    .action(async (f: { kubeconfig?: string; namespace: string; redisUrl?: string; output: string }) => {
      const host = await connect(f.kubeconfig, 'status');
      try {
        const input = await gatherStatus(host, {
          namespace: f.namespace,
          ...(f.redisUrl ? { redisUrl: f.redisUrl } : {}),
        });
        const t = summarize(input);
        if (f.output === 'json') process.stdout.write(`${JSON.stringify(t, null, 2)}\n`);
        else
          process.stdout.write(
            [
              formatTable(CLUSTER_HEADERS, t.clusters),
              formatTable(COMPONENT_HEADERS, t.components),
              formatTable(QUEUE_HEADERS, t.queues),
              formatTable(CERT_HEADERS, t.certificates),
            ].join('\n'),
          );
        if (!t.healthy) process.exitCode = 1;
      } finally {
        host.close();
      }
    });
}

function checkCommand(): Command {
  return new Command('check')
    .description('ping between every pair of nodes (or pods) of two clusters; exit code 0 only if all pass')
    .requiredOption('--src-kubeconfig <path>', 'source cluster kubeconfig')
    .option(
      '--dst-kubeconfig <path>',
      'destination cluster kubeconfig (default: full mesh inside the source)',
    )
    .option('-n, --namespace <namespace>', 'namespace of the probe pods', DEFAULT_NAMESPACE)
    .option(
      '--image <image>',
      'probe image (needs ping and sleep; default: the Kosmos image, which has both)',
      DEFAULT_IMAGE,
    )
    .option('--host-network', 'probe node to node instead of pod to pod', false)
    .option('--timeout <seconds>', 'how long to wait for the probes to start', seconds, 120)
    .action(
      async (f: {
        srcKubeconfig: string;
        dstKubeconfig?: string;
        namespace: string;
        image: string;
        hostNetwork: boolean;
        timeout: number;
      }) => {
        // Rows name each side by its kubeconfig's cluster, so a saved table still says which.
        const side = async (path: string, fallback: string) => {
          const kubeConfig = loadKubeConfig(path);
          const name = kubeConfig.getCurrentCluster()?.name ?? fallback;
          return { name, client: await connect(path, fallback), kubeConfig };
        };
        const src = await side(f.srcKubeconfig, 'src');
        let dst = f.dstKubeconfig ? await side(f.dstKubeconfig, 'dst') : undefined;
        if (dst && dst.name === src.name) dst = { ...dst, name: `${dst.name}(dst)` };
        try {
          const results = await check(src, dst, {
            namespace: f.namespace,
            image: f.image,
            hostNetwork: f.hostNetwork,
            timeoutMs: f.timeout * 1000,
            progress: stderrProgress,
          });
          process.stdout.write(checkTable(results));
          const failed = results.filter((r) => r.verdict !== 'PASS').length;
          process.stdout.write(`${results.length - failed}/${results.length} passed\n`);
          if (failed > 0) process.exitCode = 1;
        } finally {
          src.client.close();
          dst?.client.close();
        }
      },
    );
}

export function installCommands(): Command[] {
  return [
    installCommand(),
    uninstallCommand(),
    joinCommand(),
    unjoinCommand(),
    statusCommand(),
    checkCommand(),
  ];
}
