import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../../src/clusterlink/exec.js';
import { labDown, readState } from '../../../src/clusterlink/lab/lab.js';
import { suffix } from './lab-helpers.js';

const hook = fileURLToPath(new URL('../../../src/clusterlink/lab/dev/ts-hook.mjs', import.meta.url));
const upScript = fileURLToPath(new URL('./fixtures/lab-up.ts', import.meta.url));
let dir: string | undefined;

afterEach(async () => {
  if (!dir) return;
  await labDown({ stateDir: dir }).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Processes whose working directory is the lab's state directory (the lab starts all of its own there). */
async function processesIn(d: string): Promise<number[]> {
  const out: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cwd = await readlink(`/proc/${p}/cwd`).catch(() => '');
    if (cwd === d) out.push(Number(p));
  }
  return out;
}

describe('lab lifecycle', () => {
  it('GIVEN lab up killed half-way (a crash) WHEN lab down runs THEN no namespace, link or process of the lab is left', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kosmos-lab-crash-'));
    const s = suffix();
    const file = join(dir, 'lab.yaml');
    await writeFile(
      file,
      `clusters:
  - {name: a${s}, networkType: gateway, ipFamily: all, podCIDRs: [10.233.64.0/18, "fd00:a::/56"], serviceCIDRs: [10.233.0.0/18], nodes: [{name: n1, podCIDRs: [10.233.64.0/24, "fd00:a:0:1::/64"]}, {name: n2, podCIDRs: [10.233.65.0/24, "fd00:a:0:2::/64"]}]}
  - {name: b${s}, networkType: p2p, ipFamily: all, podCIDRs: [10.234.64.0/18, "fd00:b::/56"], serviceCIDRs: [10.234.0.0/18], nodes: [{name: n1, podCIDRs: [10.234.64.0/24, "fd00:b:0:1::/64"]}]}
`,
    );
    const child = spawn(process.execPath, ['--import', hook, upScript, dir, file], { stdio: 'ignore' });
    const stateDir = dir;
    // Kill it once it has made namespaces and started processes, but before it finished.
    for (let i = 0; i < 200; i++) {
      const st = await readState(stateDir).catch(() => undefined);
      if (st?.redis?.pid && (await run('ip', ['netns', 'list'])).includes(`a${s}-n2`)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const state = await readState(stateDir);
    expect(state?.namespaces.length).toBe(6);
    await labDown({ stateDir });
    const netns = await run('ip', ['netns', 'list']);
    for (const ns of state?.namespaces ?? []) expect(netns).not.toContain(ns);
    const links = await run('ip', ['-o', 'link', 'show']);
    for (const l of state?.rootLinks ?? []) expect(links).not.toMatch(new RegExp(`: ${l}[@:]`));
    expect(await processesIn(stateDir)).toEqual([]);
    expect(existsSync(join(stateDir, 'state.json'))).toBe(false);
  });
});
