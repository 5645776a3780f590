/**
 * The agent's DaemonSet gives the container what the agent needs and no more: checked on the
 * rendered manifest (test/integration/clusterlink/agent-pod.test.ts runs the agent with exactly
 * this shape on a real kernel).
 */
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.js';
import { renderMember } from '../../../src/cli/install/render.js';

interface Container {
  args?: string[];
  securityContext?: Record<string, unknown> & { capabilities?: { add?: string[]; drop?: string[] } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
type DaemonSet = KubeObject & {
  spec: {
    template: {
      spec: {
        hostNetwork?: boolean;
        containers: Container[];
        volumes?: { name: string; hostPath?: { path: string; type?: string } }[];
      };
    };
  };
};

const agent = renderMember({
  namespace: 'kosmos-system',
  image: 'kosmos:test',
  clusterName: 'leaf-1',
  hostNamespace: 'kosmos-system',
  redisUrl: 'redis://r:6379',
  link: true,
  mcs: false,
  managedBy: 'kosmosctl',
}).find((o) => o.kind === 'DaemonSet' && o.metadata?.name === 'kosmos-clusterlink-agent') as DaemonSet;
const pod = agent.spec.template.spec;
const c = pod.containers[0]!;

describe('the ClusterLink agent DaemonSet', () => {
  it('GIVEN the rendered agent THEN it runs in the node network namespace, unprivileged, as uid 0 with NET_ADMIN and NET_RAW only', () => {
    expect(pod.hostNetwork).toBe(true);
    expect(c.securityContext).toMatchObject({
      runAsUser: 0,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
    });
    expect(c.securityContext?.capabilities).toEqual({ drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] });
  });

  it("GIVEN --sysctl-root THEN the node's /proc/sys/net is mounted writable exactly under it, and no other host path is", () => {
    const args = c.args ?? [];
    const root = args[args.indexOf('--sysctl-root') + 1];
    expect(root).toBe('/host/proc/sys');
    const mount = c.volumeMounts?.find((m) => m.mountPath === `${root}/net`);
    expect(mount?.readOnly).not.toBe(true);
    const volume = pod.volumes?.find((v) => v.name === mount?.name);
    expect(volume?.hostPath).toEqual({ path: '/proc/sys/net', type: 'Directory' });
    expect(
      pod.volumes
        ?.filter((v) => v.hostPath)
        .map((v) => v.hostPath?.path)
        .sort(),
    ).toEqual(['/proc/sys/net', '/run/xtables.lock']);
  });
});
