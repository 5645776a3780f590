import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kosmosctl, kubectl, newSandboxDir } from './harness.js';

const dir = newSandboxDir();
const kubeconfig = (cluster: string) => `${dir}/${cluster}/kubeconfig`;

describe('kosmosctl sandbox up --topology', () => {
  beforeAll(async () => {
    const file = join(dirname(dir), 'topology.yaml');
    writeFileSync(
      file,
      `clusters:
  - name: host
    nodes:
      - {count: 2, namePrefix: host-node, cpu: "1", memory: 2Gi}
  - name: leaf-1
    nodes:
      - {count: 6, cpu: 1500m, memory: 4Gi, pods: 110}
  - name: leaf-2
    nodes:
      - {name: big-1, cpu: "3", memory: 8Gi, labels: {topology.kubernetes.io/zone: z2}, taints: []}
      - {name: gpu-1, nvidia.com/gpu: 2, taints: [{key: gpu, value: "yes", effect: NoSchedule}]}
`,
    );
    const up = await kosmosctl(dir, ['sandbox', 'up', '--bare', '--topology', file]);
    expect(up.code, up.stderr).toBe(0);
  });

  afterAll(async () => {
    await kosmosctl(dir, ['sandbox', 'down']);
    rmSync(dirname(dir), { recursive: true, force: true });
  });

  it('GIVEN node groups THEN each cluster has exactly those nodes, Ready', () => {
    const names = (c: string) =>
      kubectl(kubeconfig(c), ['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}'])
        .stdout.split(' ')
        .sort();
    expect(names('host')).toEqual(['host-node-0', 'host-node-1']);
    expect(names('leaf-1')).toHaveLength(6);
    expect(names('leaf-2')).toEqual(['big-1', 'gpu-1']);
  });

  it('cpu, memory, pods and extended resources become capacity and allocatable', () => {
    const node = JSON.parse(kubectl(kubeconfig('leaf-2'), ['get', 'node', 'gpu-1', '-o', 'json']).stdout) as {
      status: { allocatable: Record<string, string>; capacity: Record<string, string> };
      spec: { taints?: { key: string; value: string; effect: string }[] };
    };
    expect(node.status.allocatable['nvidia.com/gpu']).toBe('2');
    expect(node.status.capacity['nvidia.com/gpu']).toBe('2');
    expect(node.spec.taints).toEqual([{ key: 'gpu', value: 'yes', effect: 'NoSchedule' }]);
    const leaf1 = JSON.parse(
      kubectl(kubeconfig('leaf-1'), ['get', 'node', 'leaf-1-node-0', '-o', 'json']).stdout,
    ) as {
      status: { allocatable: Record<string, string> };
    };
    expect(leaf1.status.allocatable).toMatchObject({ cpu: '1500m', memory: '4Gi', pods: '110' });
  });

  it('labels from the file are on the node', () => {
    const r = kubectl(kubeconfig('leaf-2'), [
      'get',
      'node',
      'big-1',
      '-o',
      'jsonpath={.metadata.labels.topology\\.kubernetes\\.io/zone}',
    ]);
    expect(r.stdout).toBe('z2');
  });
});
