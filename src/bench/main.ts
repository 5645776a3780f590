/**
 * `npm run bench`: every suite's measurements in one table, each beside the baseline it
 * was measured against in the same run. `--only a,b` runs some suites.
 */
import { formatTable } from '../cli/table.js';
import { benchSandbox } from './sandbox.js';
import type { BenchRow } from './types.js';

type Suite = { name: string; run: () => Promise<BenchRow[]> };

async function loadSuites(): Promise<Suite[]> {
  const suites: Suite[] = [{ name: 'sandbox', run: benchSandbox }];
  // Suites of modules that exist; each module exports bench<Name>(): Promise<BenchRow[]>.
  const optional: [string, string, string][] = [
    ['extender', './extender.js', 'benchExtender'],
    ['scheduling', './scheduling.js', 'benchScheduling'],
    ['webhooks', './webhooks.js', 'benchWebhooks'],
    ['clusterlink', './clusterlink.js', 'benchClusterlink'],
    ['clustertree', './clustertree.js', 'benchClustertree'],
    ['mcs', './mcs.js', 'benchMcs'],
    ['real-nodes', './real-nodes.js', 'benchRealNodes'],
  ];
  for (const [name, path, fn] of optional) {
    try {
      const mod = (await import(path)) as Record<string, unknown>;
      const run = mod[fn];
      if (typeof run === 'function') suites.push({ name, run: run as () => Promise<BenchRow[]> });
    } catch (e) {
      if ((e as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw e;
    }
  }
  return suites;
}

function fmt(n: number): string {
  if (n === 0) return '0';
  const abs = Math.abs(n);
  return abs >= 100 ? n.toFixed(0) : abs >= 1 ? n.toFixed(2) : n.toPrecision(3);
}

async function main(): Promise<void> {
  const onlyArg = process.argv.find((a) => a.startsWith('--only='));
  const only = onlyArg ? new Set(onlyArg.slice('--only='.length).split(',')) : undefined;
  const rows: BenchRow[] = [];
  let failed = false;
  for (const suite of await loadSuites()) {
    if (only && !only.has(suite.name)) continue;
    process.stderr.write(`[bench] ${suite.name}...\n`);
    try {
      rows.push(...(await suite.run()));
    } catch (e) {
      failed = true;
      process.stderr.write(`[bench] ${suite.name} failed: ${(e as Error).message}\n`);
    }
  }
  process.stdout.write(
    formatTable(
      ['SUITE', 'METRIC', 'VALUE', 'UNIT', 'BASELINE', 'RATIO', 'TARGET', 'MET'],
      rows.map((r) => [
        r.suite,
        r.metric,
        fmt(r.value),
        r.unit,
        r.baseline ? `${r.baseline.name}: ${fmt(r.baseline.value)}` : '',
        r.ratio !== undefined ? fmt(r.ratio) : '',
        r.target ?? '',
        r.met === undefined ? '' : r.met ? 'yes' : 'MISSED',
      ]),
    ),
  );
  const missed = rows.filter((r) => r.met === false);
  if (missed.length > 0)
    process.stdout.write(
      `\n${missed.length} target(s) missed: ${missed.map((r) => `${r.suite}/${r.metric}`).join('; ')}\n`,
    );
  if (failed) process.exitCode = 1;
}

await main();
