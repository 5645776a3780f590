/**
 * Publishes each leaf cluster's per-member-node free resources for the scheduler extender
 * (layout in src/clustertree/README.md). The whole hash is replaced in one MULTI, so a
 * reader never sees a mix of two refreshes, and removed member nodes disappear.
 */
import type { Redis } from 'ioredis';
import type { MemberFree } from '../capacity/capacity.js';
import { fitIndexKey } from '../names.js';

export interface FitIndexEntry extends MemberFree {
  /** When the entry was computed (RFC 3339). */
  ts: string;
}

export async function publishFitIndex(
  redis: Redis,
  cluster: string,
  entries: Map<string, MemberFree>,
  now: string,
): Promise<void> {
  const key = fitIndexKey(cluster);
  const tx = redis.multi().del(key);
  if (entries.size > 0) {
    const fields: string[] = [];
    for (const [node, e] of entries)
      fields.push(node, JSON.stringify({ ...e, ts: now } satisfies FitIndexEntry));
    tx.hset(key, ...fields);
  }
  await tx.exec();
}

export async function dropFitIndex(redis: Redis, cluster: string): Promise<void> {
  await redis.del(fitIndexKey(cluster));
}

export async function readFitIndex(redis: Redis, cluster: string): Promise<Map<string, FitIndexEntry>> {
  const raw = await redis.hgetall(fitIndexKey(cluster));
  return new Map(Object.entries(raw).map(([k, v]) => [k, JSON.parse(v) as FitIndexEntry]));
}
