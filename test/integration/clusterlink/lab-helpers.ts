import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLabConfig, type LabConfig } from '../../../src/clusterlink/lab/config.js';
import {
  type CheckResult,
  formatCheck,
  labCheck,
  labDown,
  labUp,
  type LabOptions,
  type LabState,
} from '../../../src/clusterlink/lab/lab.js';
import { RedisStore } from '../../../src/clusterlink/store/redis-store.js';
import { redisUrlFor } from '../../../src/clusterlink/lab/lab.js';

/** Random cluster-name suffix so namespaces never clash with another run or a user's lab. */
export const suffix = (): string => randomBytes(2).toString('hex');

export interface RunningLab {
  dir: string;
  state: LabState;
  check(): Promise<CheckResult[]>;
  store(): RedisStore;
  down(): Promise<void>;
}

export async function startLab(yaml: string, o: Omit<LabOptions, 'stateDir'> = {}): Promise<RunningLab> {
  const dir = await mkdtemp(join(tmpdir(), 'kosmos-lab-test-'));
  const config: LabConfig = parseLabConfig(yaml);
  const stores: RedisStore[] = [];
  const down = async () => {
    await Promise.all(stores.map((s) => s.close()));
    await labDown({ stateDir: dir });
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const state = await labUp(config, { ...o, stateDir: dir });
    return {
      dir,
      state,
      check: () => labCheck({ stateDir: dir }),
      store: () => {
        const s = new RedisStore(redisUrlFor(state, '127.0.0.1'), state.prefix);
        stores.push(s);
        return s;
      },
      down,
    };
  } catch (err) {
    await down().catch(() => undefined);
    throw err;
  }
}

export function summary(results: readonly CheckResult[]): {
  ok: number;
  total: number;
  failed: string[];
  text: string;
} {
  const ok = results.filter((r) => r.icmp && r.tcp).length;
  return {
    ok,
    total: results.length,
    failed: results
      .filter((r) => !(r.icmp && r.tcp))
      .map((r) => `${r.src} -> ${r.dst} ${r.ip} icmp=${r.icmp} tcp=${r.tcp}`),
    text: formatCheck(results),
  };
}
