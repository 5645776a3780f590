/**
 * ClusterLink state in Redis, one hash per kind and part (spec, roles, status, generation),
 * so that each writer owns its fields and every multi-key change is one Lua script.
 * Changes are announced on `<prefix>:events` as `<kind>/<name>`.
 */
import type { Redis } from 'ioredis';
import { API_VERSION, ROLE_GATEWAY } from '../../api/constants.js';
import type {
  Cluster,
  ClusterNode,
  ClusterStatus,
  NodeConfig,
  NodeConfigSpec,
  NodeConfigStatus,
} from '../../api/kinds.js';
import { KosmosError } from '../../common/errors.js';
import { RedisKeys, createRedis, registerScripts, runScript, type LuaScript } from '../../common/redis.js';
import type { ChangeEvent, Kind, Store, Unsubscribe } from './types.js';

const PUT_SPEC: LuaScript = {
  name: 'kosmosLinkPutSpec',
  doc: "Writes an object's spec; an unchanged spec changes nothing, a changed one moves its generation.",
  keys: ['spec hash', 'generation hash', 'events channel'],
  args: ['name', 'spec JSON', 'event'],
  returns: 'the new generation, or 0 when the spec was unchanged',
  body: `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local g = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('PUBLISH', KEYS[3], ARGV[3])
return g`,
};

const DELETE: LuaScript = {
  name: 'kosmosLinkDelete',
  doc: 'Deletes an object from every hash of its kind, announcing it when it existed.',
  keys: ['spec hash', 'roles hash', 'status hash', 'generation hash', 'events channel'],
  args: ['name', 'event'],
  returns: 'how many fields were deleted',
  body: `
local n = 0
for i = 1, #KEYS - 1 do n = n + redis.call('HDEL', KEYS[i], ARGV[1]) end
if n > 0 then redis.call('PUBLISH', KEYS[#KEYS], ARGV[2]) end
return n`,
};

const SET_GATEWAY: LuaScript = {
  name: 'kosmosLinkSetGateway',
  doc: 'Gives the gateway role to one node of a cluster and takes it from the others, in one step.',
  keys: ['roles hash', 'events channel'],
  args: ['winner node', 'event prefix'],
  restArgs: 'every node name of the cluster',
  returns: '1 when any role changed, else 0',
  body: `
local changed = 0
for i = 3, #ARGV do
  local want = (ARGV[i] == ARGV[1]) and '["${ROLE_GATEWAY}"]' or '[]'
  if (redis.call('HGET', KEYS[1], ARGV[i]) or '[]') ~= want then
    redis.call('HSET', KEYS[1], ARGV[i], want)
    redis.call('PUBLISH', KEYS[2], ARGV[2] .. ARGV[i])
    changed = 1
  end
end
return changed`,
};

const LEASE: LuaScript = {
  name: 'kosmosLinkLease',
  doc: 'Takes a free lease or renews one the holder already has.',
  keys: ['lease'],
  args: ['holder', 'ttl in ms'],
  returns: '1 held, 0 someone else holds it',
  body: `
local cur = redis.call('GET', KEYS[1])
if cur == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`,
};

const RELEASE: LuaScript = {
  name: 'kosmosLinkRelease',
  doc: 'Gives a lease up, if the holder still has it.',
  keys: ['lease'],
  args: ['holder'],
  returns: '1 released, 0 not held by the holder',
  body: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
};

export const CLUSTERLINK_SCRIPTS = [PUT_SPEC, DELETE, SET_GATEWAY, LEASE, RELEASE] as const;

const parse = <T>(raw: string | null | undefined, what: string): T | undefined => {
  if (raw === null || raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch (err) {
    throw new KosmosError(`corrupt ${what} in Redis`, { cause: err });
  }
};

export class RedisStore implements Store {
  readonly redis: Redis;
  private readonly keys: RedisKeys;
  private readonly subscribers: Redis[] = [];

  constructor(url: string, prefix: string) {
    this.redis = createRedis(url, 'background');
    registerScripts(this.redis, CLUSTERLINK_SCRIPTS);
    this.keys = new RedisKeys(prefix);
  }

  private key(kind: Kind, part: 'spec' | 'roles' | 'status' | 'gen'): string {
    return this.keys.key(kind, part);
  }

  private get events(): string {
    return this.keys.key('events');
  }

  async close(): Promise<void> {
    await Promise.all(this.subscribers.map((s) => s.quit().catch(() => undefined)));
    await this.redis.quit().catch(() => undefined);
  }

  async watch(onChange: (e: ChangeEvent) => void): Promise<Unsubscribe> {
    const sub = this.redis.duplicate();
    sub.on('error', () => undefined);
    this.subscribers.push(sub);
    sub.on('message', (_channel: string, msg: string) => {
      const slash = msg.indexOf('/');
      onChange({ kind: msg.slice(0, slash) as Kind, name: msg.slice(slash + 1) });
    });
    await sub.subscribe(this.events);
    return async () => {
      await sub.quit().catch(() => undefined);
    };
  }

  private async putSpec(kind: Kind, name: string, spec: unknown): Promise<number> {
    const keys = [this.key(kind, 'spec'), this.key(kind, 'gen'), this.events];
    return Number(
      await runScript(this.redis, PUT_SPEC, keys, [name, JSON.stringify(spec), `${kind}/${name}`]),
    );
  }

  private async del(kind: Kind, name: string): Promise<void> {
    const parts = ['spec', 'roles', 'status', 'gen'] as const;
    const keys = [...parts.map((p) => this.key(kind, p)), this.events];
    await runScript(this.redis, DELETE, keys, [name, `${kind}/${name}`]);
  }

  private async all(
    kind: Kind,
  ): Promise<{ name: string; spec: string; status?: string; gen?: string; roles?: string }[]> {
    const [specs, statuses, gens, roles] = await Promise.all([
      this.redis.hgetall(this.key(kind, 'spec')),
      this.redis.hgetall(this.key(kind, 'status')),
      this.redis.hgetall(this.key(kind, 'gen')),
      this.redis.hgetall(this.key(kind, 'roles')),
    ]);
    return Object.keys(specs)
      .sort()
      .map((name) => ({
        name,
        spec: specs[name] ?? '{}',
        status: statuses[name],
        gen: gens[name],
        roles: roles[name],
      }));
  }

  async getNodeConfig(name: string): Promise<NodeConfig | undefined> {
    const [spec, status, gen] = await Promise.all([
      this.redis.hget(this.key('nodeconfig', 'spec'), name),
      this.redis.hget(this.key('nodeconfig', 'status'), name),
      this.redis.hget(this.key('nodeconfig', 'gen'), name),
    ]);
    if (spec === null) return undefined;
    return this.nodeConfig(name, spec, status ?? undefined, gen ?? undefined);
  }

  private nodeConfig(name: string, spec: string, status?: string, gen?: string): NodeConfig {
    const st = parse<NodeConfigStatus>(status, `status of NodeConfig ${name}`);
    return {
      apiVersion: API_VERSION,
      kind: 'NodeConfig',
      metadata: { name, generation: Number(gen ?? 1) },
      spec: parse<NodeConfigSpec>(spec, `spec of NodeConfig ${name}`) ?? {},
      ...(st ? { status: st } : {}),
    };
  }

  async listNodeConfigs(): Promise<NodeConfig[]> {
    return (await this.all('nodeconfig')).map((x) => this.nodeConfig(x.name, x.spec, x.status, x.gen));
  }

  putNodeConfigSpec(name: string, spec: NodeConfigSpec): Promise<number> {
    return this.putSpec('nodeconfig', name, spec);
  }

  deleteNodeConfig(name: string): Promise<void> {
    return this.del('nodeconfig', name);
  }

  async putNodeConfigStatus(name: string, status: NodeConfigStatus): Promise<void> {
    await this.redis.hset(this.key('nodeconfig', 'status'), name, JSON.stringify(status));
  }

  async listClusters(): Promise<Cluster[]> {
    return (await this.all('cluster')).map((x) => {
      const st = parse<ClusterStatus>(x.status, `status of Cluster ${x.name}`);
      return {
        apiVersion: API_VERSION,
        kind: 'Cluster',
        metadata: { name: x.name },
        spec: parse<Cluster['spec']>(x.spec, `spec of Cluster ${x.name}`) ?? {},
        ...(st ? { status: st } : {}),
      };
    });
  }

  async putCluster(cluster: Cluster): Promise<void> {
    const name = cluster.metadata.name ?? '';
    await this.putSpec('cluster', name, cluster.spec);
    if (cluster.status) await this.putClusterStatus(name, cluster.status);
  }

  async putClusterStatus(name: string, status: ClusterStatus): Promise<void> {
    const raw = JSON.stringify(status);
    const old = await this.redis.hget(this.key('cluster', 'status'), name);
    if (old === raw) return;
    await this.redis
      .multi()
      .hset(this.key('cluster', 'status'), name, raw)
      .publish(this.events, `cluster/${name}`)
      .exec();
  }

  deleteCluster(name: string): Promise<void> {
    return this.del('cluster', name);
  }

  async listClusterNodes(): Promise<ClusterNode[]> {
    return (await this.all('clusternode')).map((x) => {
      const spec = parse<ClusterNode['spec']>(x.spec, `spec of ClusterNode ${x.name}`) ?? {};
      const roles = parse<string[]>(x.roles, `roles of ClusterNode ${x.name}`) ?? [];
      return {
        apiVersion: API_VERSION,
        kind: 'ClusterNode',
        metadata: { name: x.name },
        spec: { ...spec, roles },
      };
    });
  }

  async putClusterNode(node: ClusterNode): Promise<void> {
    const { roles: _roles, ...spec } = node.spec;
    await this.putSpec('clusternode', node.metadata.name ?? '', spec);
  }

  deleteClusterNode(name: string): Promise<void> {
    return this.del('clusternode', name);
  }

  async setGateway(cluster: string, nodeName: string): Promise<boolean> {
    const names = (await this.listClusterNodes())
      .filter((n) => n.spec.clusterName === cluster)
      .map((n) => n.metadata.name ?? '');
    if (!names.includes(nodeName))
      throw new KosmosError(`ClusterNode ${nodeName} of cluster ${cluster} does not exist`);
    const keys = [this.key('clusternode', 'roles'), this.events];
    return Number(await runScript(this.redis, SET_GATEWAY, keys, [nodeName, 'clusternode/', ...names])) === 1;
  }

  async tryAcquire(lease: string, holder: string, ttlMs: number): Promise<boolean> {
    return Number(await runScript(this.redis, LEASE, [this.keys.key('lease', lease)], [holder, ttlMs])) === 1;
  }

  async release(lease: string, holder: string): Promise<void> {
    await runScript(this.redis, RELEASE, [this.keys.key('lease', lease)], [holder]);
  }
}
