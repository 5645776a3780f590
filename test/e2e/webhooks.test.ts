/**
 * The admission webhooks as the host apiserver calls them: over HTTPS with the CA the
 * project generated, registered by `sandbox up`.
 */
import { readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startDetached, stopProcess, waitHealthy } from '../../src/cli/sandbox/processes.js';
import type { SandboxState } from '../../src/cli/sandbox/state.js';
import { CLI, eventually, kosmosctl, kubectl, newSandboxDir } from './harness.js';

const dir = newSandboxDir();
const host = () => `${dir}/host/kubeconfig`;
const apply = (doc: object) => kubectl(host(), ['apply', '-f', '-'], JSON.stringify(doc));
const kosmos = (kind: string, name: string, spec: object, namespace?: string) => ({
  apiVersion: 'kosmos.io/v1alpha1',
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}) },
  spec,
});

describe('admission webhooks in the sandbox', () => {
  beforeAll(async () => {
    const up = await kosmosctl(dir, ['sandbox', 'up', '--leaves', '1', '--real-nodes', '0']);
    expect(up.code, up.stderr).toBe(0);
    expect(
      apply(
        kosmos(
          'DistributionPolicy',
          'web',
          {
            resourceSelectors: [
              { labelSelector: { matchLabels: { app: 'web' } }, policyName: 'leaf' },
              { labelSelector: { matchLabels: { app: 'db' } }, policyName: 'host' },
            ],
            policyTerms: [
              {
                name: 'leaf',
                nodeType: 'leaf',
                topologySpreadConstraints: [{ topologyKey: 'kosmos.io/cluster' }],
              },
              { name: 'host', nodeType: 'host' },
            ],
          },
          'default',
        ),
      ).code,
    ).toBe(0);
  });

  afterAll(async () => {
    await kosmosctl(dir, ['sandbox', 'down']);
    rmSync(dirname(dir), { recursive: true, force: true });
  });

  it.each([
    [
      'a DistributionPolicy whose policyName names no term',
      kosmos(
        'DistributionPolicy',
        'bad-ref',
        {
          resourceSelectors: [{ name: 'x', policyName: 'nope' }],
          policyTerms: [{ name: 't', nodeType: 'leaf' }],
        },
        'default',
      ),
      'spec.resourceSelectors[0].policyName: Not found: "nope"',
    ],
    [
      'a ClusterDistributionPolicy with two terms of one name',
      kosmos('ClusterDistributionPolicy', 'dup', {
        resourceSelectors: [{ name: 'x', policyName: 't' }],
        policyTerms: [{ name: 't' }, { name: 't' }],
      }),
      'spec.policyTerms[1].name: Duplicate value: "t"',
    ],
    [
      'a selector with no matcher',
      kosmos('ClusterDistributionPolicy', 'empty', {
        resourceSelectors: [{ policyName: 't' }],
        policyTerms: [{ name: 't' }],
      }),
      'spec.resourceSelectors[0]',
    ],
    [
      'a WorkloadPolicy with a domain twice',
      kosmos(
        'WorkloadPolicy',
        'w',
        {
          topologyKey: 'kosmos.io/cluster',
          labelSelector: { matchLabels: { app: 'x' } },
          allocationPolicy: [
            { name: 'leaf-1', replicas: 1 },
            { name: 'leaf-1', replicas: 2 },
          ],
        },
        'default',
      ),
      'spec.allocationPolicy[1].name: Duplicate value: "leaf-1"',
    ],
    [
      'a Cluster whose kubeconfig does not parse',
      kosmos('Cluster', 'broken', { kubeconfig: Buffer.from('not: [a kubeconfig').toString('base64') }),
      'spec.kubeconfig',
    ],
    [
      'a Cluster whose global CIDR map key is not one of its CIDRs or has another prefix length',
      kosmos('Cluster', 'nets', {
        clusterLinkOptions: { ipFamily: 'ipv4', globalCIDRsMap: { '10.0.0.0/16': '20.0.0.0/24' } },
      }),
      'spec.clusterLinkOptions.globalCIDRsMap',
    ],
  ])('refuses %s, naming the field', (_what, obj, message) => {
    const r = apply(obj);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(message);
  });

  it('admits valid Kosmos objects', () => {
    const r = apply(
      kosmos(
        'WorkloadPolicy',
        'ok',
        {
          topologyKey: 'kosmos.io/cluster',
          labelSelector: { matchLabels: { app: 'x' } },
          allocationPolicy: [{ name: 'leaf-1', replicas: 2 }],
        },
        'default',
      ),
    );
    expect(r.code, r.stderr).toBe(0);
  });

  it('a pod a policy matches comes out with the kosmos scheduler, the leaf toleration and the spread', () => {
    const r = kubectl(host(), [
      'run',
      'web-1',
      '--image=nginx',
      '--labels=app=web',
      '-o',
      'json',
      '--dry-run=server',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const pod = JSON.parse(r.stdout) as {
      spec: {
        schedulerName: string;
        tolerations: object[];
        topologySpreadConstraints?: { topologyKey: string }[];
      };
    };
    expect(pod.spec.schedulerName).toBe('kosmos-scheduler');
    expect(pod.spec.tolerations).toContainEqual({
      key: 'kosmos.io/node',
      operator: 'Exists',
      effect: 'NoSchedule',
    });
    expect(pod.spec.topologySpreadConstraints?.map((c) => c.topologyKey)).toContain('kosmos.io/cluster');
  });

  it('a pod whose nodeSelector contradicts its host-only policy is refused, naming policy and field', () => {
    const r = apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'db-1', namespace: 'default', labels: { app: 'db' } },
      spec: { nodeSelector: { 'kosmos.io/node': 'true' }, containers: [{ name: 'c', image: 'x' }] },
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('spec.nodeSelector');
    expect(r.stderr).toContain('DistributionPolicy default/web');
  });

  it('in a real install the CA and serving certificate live in a Secret, kept across restarts', async () => {
    expect(apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kosmos-system' } }).code).toBe(0);
    const start = async () => {
      const port = await freePort();
      const pid = startDetached({
        name: 'webhooks-secret',
        command: process.execPath,
        args: [
          CLI,
          'webhooks',
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          '--kubeconfig',
          host(),
          '--cert-secret',
          'kosmos-system/kosmos-webhook-certs',
        ],
        logFile: `${dirname(dir)}/webhooks-secret.log`,
      });
      await waitHealthy(
        'webhooks',
        { url: `https://127.0.0.1:${port}/healthz`, insecure: true },
        pid,
        `${dirname(dir)}/webhooks-secret.log`,
        60_000,
      );
      return pid;
    };
    const secretData = () =>
      (
        JSON.parse(
          kubectl(host(), ['get', 'secret', '-n', 'kosmos-system', 'kosmos-webhook-certs', '-o', 'json'])
            .stdout,
        ) as {
          data: Record<string, string>;
        }
      ).data;
    const first = await start();
    const before = secretData();
    expect(Object.keys(before).sort()).toEqual(expect.arrayContaining(['ca.crt', 'tls.crt', 'tls.key']));
    await stopProcess(first);
    const second = await start();
    try {
      expect(secretData()['ca.crt']).toBe(before['ca.crt']);
    } finally {
      await stopProcess(second);
    }
  });

  it('with the webhook server stopped, pods are still admitted and Kosmos objects are not', async () => {
    const state = JSON.parse(readFileSync(`${dir}/state.json`, 'utf8')) as SandboxState;
    const webhooks = state.components.find((c) => c.name === 'webhooks')!;
    await stopProcess(webhooks.pid, webhooks.command);
    const pod = await eventually(() => {
      const r = kubectl(host(), ['run', 'web-2', '--image=nginx', '--labels=app=web']);
      if (r.code !== 0) throw new Error(r.stderr);
      return r;
    }, 30_000);
    expect(pod.code).toBe(0);
    const obj = apply(
      kosmos('ClusterDistributionPolicy', 'while-down', {
        resourceSelectors: [{ name: 'x', policyName: 't' }],
        policyTerms: [{ name: 't' }],
      }),
    );
    expect(obj.code).not.toBe(0);
    expect(obj.stderr).toMatch(/failed calling webhook|connection refused/);
    // The sandbox restarts it, and Kosmos objects are admitted again.
    expect((await kosmosctl(dir, ['sandbox', 'up', '--real-nodes', '0'])).code).toBe(0);
    await eventually(() => {
      const again = apply(
        kosmos('ClusterDistributionPolicy', 'after-restart', {
          resourceSelectors: [{ name: 'x', policyName: 't' }],
          policyTerms: [{ name: 't' }],
        }),
      );
      if (again.code !== 0) throw new Error(again.stderr);
    }, 30_000);
  });
});
