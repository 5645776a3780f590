/**
 * The Kosmos components `sandbox up` runs beside the clusters (skipped with --bare), each
 * as `node dist/cli/main.js <component>`: the one entry point the image uses too.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { projectRoot } from '../paths.js';
import type { SandboxContext } from './context.js';
import { schedulerDef, type ComponentDef } from './control-plane.js';
import { HOST_CLUSTER } from './topology.js';

export const EXTENDER_URL_PLACEHOLDER = 'http://127.0.0.1:10262/';

function cli(): string {
  return join(projectRoot(), 'dist', 'cli', 'main.js');
}

function nodeComponent(
  ctx: SandboxContext,
  name: string,
  port: number,
  args: string[],
  health: string,
  cluster = HOST_CLUSTER,
): ComponentDef {
  const files = ctx.files(cluster);
  return {
    name,
    cluster,
    port,
    hint: cli(),
    health: { url: health, insecure: true },
    spec: {
      name: `${name} (${cluster})`,
      command: process.execPath,
      args: [cli(), name, ...args],
      env: { KOSMOS_LOG_LEVEL: process.env['KOSMOS_LOG_LEVEL'] ?? 'info' },
      logFile: join(files.dir, 'logs', `${name}.log`),
    },
  };
}

/** config/scheduler-config.yaml with the sandbox's kubeconfig and extender address. */
export function kosmosSchedulerConfig(template: string, kubeconfig: string, extenderUrl: string): string {
  const doc = parse(template) as {
    clientConnection?: Record<string, unknown>;
    leaderElection?: Record<string, unknown>;
    extenders?: { urlPrefix?: string }[];
  };
  doc.clientConnection = { ...doc.clientConnection, kubeconfig, qps: 500, burst: 1000 };
  doc.leaderElection = { leaderElect: false };
  for (const e of doc.extenders ?? []) {
    if (e.urlPrefix === EXTENDER_URL_PLACEHOLDER) e.urlPrefix = extenderUrl;
  }
  return stringify(doc);
}

/** Components to start once the apiservers answer, before the clusters' schedulers. */
export async function kosmosComponents(ctx: SandboxContext): Promise<ComponentDef[]> {
  const defs: ComponentDef[] = [];
  const host = ctx.files(HOST_CLUSTER);
  const has = (command: string) =>
    existsSync(join(projectRoot(), 'dist', 'cli', 'commands', `${command}.js`));

  if (has('extender')) {
    const port = await ctx.port('host/extender');
    defs.push(
      nodeComponent(
        ctx,
        'extender',
        port,
        ['--port', String(port), '--kubeconfig', host.kubeconfig, '--redis-url', ctx.state.redisUrl],
        `http://127.0.0.1:${port}/readyz`,
      ),
    );
  }
  return defs;
}

/**
 * The host's kube-scheduler configuration: with the extender, Kosmos' configuration (it
 * serves both the kosmos-scheduler and default-scheduler profiles, as Kosmos replaces the
 * default scheduler); otherwise a plain one.
 */
export async function hostSchedulerConfig(ctx: SandboxContext): Promise<string | undefined> {
  const template = join(projectRoot(), 'config', 'scheduler-config.yaml');
  const extenderPort = ctx.state.ports['host/extender'];
  if (ctx.state.bare || !extenderPort || !existsSync(template)) return undefined;
  const host = ctx.files(HOST_CLUSTER);
  const file = join(host.dir, 'kosmos-scheduler.yaml');
  writeFileSync(
    file,
    kosmosSchedulerConfig(
      readFileSync(template, 'utf8'),
      host.kubeconfig,
      `http://127.0.0.1:${extenderPort}/`,
    ),
  );
  return file;
}

export { schedulerDef };
