import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The compiled CLI, as `npx kosmosctl` runs it (npm test builds first).
const cli = join(process.cwd(), 'dist', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'kosmos-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, KOSMOS_SANDBOX_DIR: join(dir, 'sandbox') },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.trim() };
}

describe('kosmosctl arguments', () => {
  it('prints help and exits 0', () => {
    const r = run('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('sandbox');
  });

  it.each([
    ['sandbox', 'up', '--help'],
    ['sandbox', 'status', '--help'],
    ['sandbox', 'kubeconfig', '--help'],
  ])('%s %s %s documents the command', (...args) => {
    const r = run(...args);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: kosmosctl sandbox/);
  });

  it.each([
    [['bogus'], "unknown command 'bogus'"],
    [
      ['sandbox', 'up', '--leaves', 'many'],
      "option '--leaves <n>' argument 'many' is invalid. must be an integer",
    ],
    [['sandbox', 'up', '--topology', '/no/such/file'], '--topology: cannot read /no/such/file'],
    [['sandbox', 'kubeconfig'], "missing required argument 'cluster'"],
    [
      ['agent', '--name', 'c-n1', '--node-ip', '10.0.0.5,eth0'],
      `option '--node-ip <ips>' argument '10.0.0.5,eth0' is invalid. "eth0" is not an IP address`,
    ],
    [['sandbox', 'status'], 'no sandbox in'],
    [['sandbox', 'kubeconfig', 'host'], 'no sandbox in'],
  ])('kosmosctl %j fails with a one-line reason', (args, reason) => {
    const r = run(...args);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(reason);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('error')).length).toBe(1);
  });

  it('reports a bad topology file by field before starting anything', () => {
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, 'clusters: [{name: host, nodes: [{memory: much}]}]');
    const r = run('sandbox', 'up', '--topology', f);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('clusters[0].nodes[0].memory: Invalid value: "much"');
  });
});
