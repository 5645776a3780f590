/** Sandbox start times: cold (empty folder, binaries cached) and warm (`up` on a running sandbox). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries } from '../cli/sandbox/binaries.js';
import { sandboxDown, sandboxUp } from '../cli/sandbox/sandbox.js';
import { defaultTopology } from '../cli/sandbox/topology.js';
import type { BenchRow } from './types.js';

export async function benchSandbox(): Promise<BenchRow[]> {
  await ensureBinaries(); // a first build is not a start time
  const dir = mkdtempSync(join(tmpdir(), 'kosmos-bench-sandbox-'));
  const quiet = () => undefined;
  try {
    let t = performance.now();
    await sandboxUp({ dir, topology: defaultTopology(2, 3), bare: true, progress: quiet });
    const cold = (performance.now() - t) / 1000;
    t = performance.now();
    await sandboxUp({ dir, progress: quiet });
    const warm = (performance.now() - t) / 1000;
    t = performance.now();
    await sandboxDown({ dir, progress: quiet });
    const down = (performance.now() - t) / 1000;
    return [
      { suite: 'sandbox', metric: 'cold start, host + 2 leaves x 3 nodes (bare)', value: cold, unit: 's' },
      { suite: 'sandbox', metric: 'warm start (up on a running sandbox)', value: warm, unit: 's' },
      { suite: 'sandbox', metric: 'down', value: down, unit: 's' },
    ];
  } finally {
    await sandboxDown({ dir, progress: quiet }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
