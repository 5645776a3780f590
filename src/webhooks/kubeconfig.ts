/**
 * Whether a Cluster's base64 kubeconfig is usable: it decodes, is a YAML mapping, names at
 * least one cluster with an https/http server, and its current-context (when set) and
 * contexts point at entries that exist. ClusterTree would otherwise fail much later, in a
 * log line nobody reads.
 */
import { parse } from 'yaml';

type Mapping = Record<string, unknown>;

function isMapping(v: unknown): v is Mapping {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function namedEntries(doc: Mapping, key: string): Mapping[] {
  const list = doc[key];
  return Array.isArray(list) ? list.filter(isMapping) : [];
}

/** Why the kubeconfig is unusable, or undefined when it is fine. */
export function kubeconfigProblem(base64: string): string | undefined {
  const text = Buffer.from(base64, 'base64').toString('utf8');
  if (text.trim() === '') return 'must be a base64-encoded kubeconfig; it decodes to nothing';
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 10 });
  } catch (err) {
    return `must be a base64-encoded kubeconfig; it does not parse as YAML: ${(err as Error).message.split('\n')[0]}`;
  }
  if (!isMapping(doc))
    return 'must be a base64-encoded kubeconfig; it decodes to something that is not a YAML mapping';
  const clusters = namedEntries(doc, 'clusters');
  if (clusters.length === 0) return 'the kubeconfig names no cluster';
  for (const c of clusters) {
    const server = isMapping(c['cluster']) ? c['cluster']['server'] : undefined;
    if (typeof server !== 'string' || !/^https?:\/\/[^/\s]+/.test(server)) {
      return `cluster ${JSON.stringify(c['name'] ?? '')} of the kubeconfig has no valid server URL`;
    }
  }
  const clusterNames = new Set(clusters.map((c) => c['name']));
  const contexts = namedEntries(doc, 'contexts');
  for (const ctx of contexts) {
    const target = isMapping(ctx['context']) ? ctx['context']['cluster'] : undefined;
    if (!clusterNames.has(target)) {
      return `context ${JSON.stringify(ctx['name'] ?? '')} of the kubeconfig names cluster ${JSON.stringify(target ?? '')}, which it does not define`;
    }
  }
  const current = doc['current-context'];
  if (typeof current === 'string' && current !== '' && !contexts.some((c) => c['name'] === current)) {
    return `current-context ${JSON.stringify(current)} of the kubeconfig names no context`;
  }
  return undefined;
}
