/**
 * The Helm chart renders the same objects as `kosmosctl install --dry-run=client -o yaml`
 * for the same values. helm is built from its Go module by scripts/build-helm.sh (cached
 * per user); Helm installs crds/ verbatim, so CRDs are compared without the two labels
 * kosmosctl adds to them.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, test } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.js';

const root = process.cwd();

function helmBin(): string {
  const r = spawnSync('bash', [join(root, 'scripts', 'build-helm.sh')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/build-helm.sh failed: ${r.stderr}`);
  return join(r.stdout.trim().split('\n').pop() ?? '', 'helm');
}

function objects(text: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const doc of parseAllDocuments(text)) {
    const o = doc.toJS() as (KubeObject & { data?: Record<string, string> }) | null;
    if (!o) continue;
    if (o.kind === 'CustomResourceDefinition' && o.metadata?.labels) {
      delete o.metadata.labels['app.kubernetes.io/part-of'];
      delete o.metadata.labels['app.kubernetes.io/managed-by'];
      if (Object.keys(o.metadata.labels).length === 0) delete o.metadata.labels;
    }
    // The scheduler configuration is compared as data, not as text (JSON here, YAML in Helm).
    if (o.kind === 'ConfigMap' && o.data?.['scheduler-config.yaml'])
      o.data['scheduler-config.yaml'] = parse(o.data['scheduler-config.yaml']) as string;
    out.set(`${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`, o);
  }
  return out;
}

function kosmosctl(args: string[]): string {
  const r = spawnSync(
    process.execPath,
    [
      join(root, 'dist', 'cli', 'main.js'),
      'install',
      '--dry-run=client',
      '-o',
      'yaml',
      '--ca-bundle',
      'Q0E=',
      ...args,
    ],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`kosmosctl install: ${r.stderr}`);
  return r.stdout;
}

function helm(sets: string[]): string {
  const r = spawnSync(
    helmBin(),
    [
      'template',
      'kosmos',
      join(root, 'charts', 'kosmos'),
      '--include-crds',
      '--set',
      'managedBy=kosmosctl',
      '--set',
      'webhooks.caBundle=Q0E=',
      ...sets.flatMap((s) => ['--set', s]),
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`helm template: ${r.stderr}`);
  return r.stdout;
}

describe('Helm chart', () => {
  test('renders the same objects as kosmosctl install with the default values', () => {
    const a = objects(kosmosctl([]));
    const b = objects(helm([]));
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, v] of a) expect(b.get(k), k).toEqual(v);
  }, 300_000);

  test('renders the same objects for one module, an existing Redis and another namespace', () => {
    const a = objects(
      kosmosctl([
        '-m',
        'scheduler,clusterlink',
        '--redis-url',
        'rediss://redis.example:6380',
        '-n',
        'kosmos-alt',
        '--image',
        'example/kosmos:1',
      ]),
    );
    const b = objects(
      helm([
        'modules.webhooks=false',
        'modules.clustertree=false',
        'modules.mcs=false',
        'redis.url=rediss://redis.example:6380',
        'namespace=kosmos-alt',
        'image=example/kosmos:1',
      ]),
    );
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, v] of a) expect(b.get(k), k).toEqual(v);
  }, 300_000);
});
