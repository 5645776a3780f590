/** The lab file: clusters of nodes to emulate with network namespaces on one machine. */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { IP_FAMILIES, NETWORK_TYPES } from '../../api/constants.js';
import { type FieldError, formatFieldError, invalid, required, unsupported } from '../../api/field-errors.js';
import { UserError } from '../../common/errors.js';
import { checkCIDR } from '../../common/ip.js';

export interface LabNode {
  name: string;
  podCIDRs: string[];
}

export interface LabCluster {
  name: string;
  networkType: 'p2p' | 'gateway';
  ipFamily: 'ipv4' | 'ipv6' | 'all';
  podCIDRs: string[];
  serviceCIDRs: string[];
  globalCIDRsMap: Record<string, string>;
  nodes: LabNode[];
}

export interface LabConfig {
  clusters: LabCluster[];
}

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function parseLabConfig(text: string, source = 'lab file'): LabConfig {
  const doc: unknown = parse(text);
  const errs: FieldError[] = [];
  const strings = (v: unknown, field: string, cidr: boolean): string[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      errs.push(invalid(field, v, 'must be a list'));
      return [];
    }
    return v.map((x, i) => {
      const bad =
        typeof x !== 'string'
          ? invalid(`${field}[${i}]`, x, cidr ? 'must be a CIDR' : 'must be a string')
          : cidr && checkCIDR(`${field}[${i}]`, x);
      if (bad) errs.push(bad);
      return String(x);
    });
  };
  if (!isRecord(doc) || !Array.isArray(doc['clusters']))
    throw new UserError(`${source}: ${formatFieldError(required('clusters'))}`);
  const names = new Set<string>();
  const clusters = doc['clusters'].map((c: unknown, i): LabCluster => {
    const f = `clusters[${i}]`;
    const r = isRecord(c) ? c : {};
    const name = typeof r['name'] === 'string' ? r['name'] : '';
    if (!NAME.test(name)) errs.push(invalid(`${f}.name`, r['name'], 'must be a lower-case DNS label'));
    const networkType = (r['networkType'] ?? 'p2p') as string;
    if (!(NETWORK_TYPES as readonly string[]).includes(networkType))
      errs.push(unsupported(`${f}.networkType`, networkType, NETWORK_TYPES));
    const ipFamily = (r['ipFamily'] ?? 'ipv4') as string;
    if (!(IP_FAMILIES as readonly string[]).includes(ipFamily))
      errs.push(unsupported(`${f}.ipFamily`, ipFamily, IP_FAMILIES));
    const gm = r['globalCIDRsMap'] ?? {};
    const globalCIDRsMap: Record<string, string> = {};
    if (!isRecord(gm)) errs.push(invalid(`${f}.globalCIDRsMap`, gm, 'must be a map of CIDR to CIDR'));
    else for (const [k, v] of Object.entries(gm)) globalCIDRsMap[k] = String(v);
    const nodesRaw = Array.isArray(r['nodes']) ? r['nodes'] : [];
    if (nodesRaw.length === 0) errs.push(required(`${f}.nodes`, 'at least one node'));
    const nodes = nodesRaw.map((n: unknown, j): LabNode => {
      const nr = isRecord(n) ? n : {};
      const nn = typeof nr['name'] === 'string' ? nr['name'] : '';
      if (!NAME.test(nn))
        errs.push(invalid(`${f}.nodes[${j}].name`, nr['name'], 'must be a lower-case DNS label'));
      const key = `${name}-${nn}`;
      if (names.has(key))
        errs.push(invalid(`${f}.nodes[${j}].name`, nn, `namespace ${key} would be used twice`));
      names.add(key);
      return { name: nn, podCIDRs: strings(nr['podCIDRs'], `${f}.nodes[${j}].podCIDRs`, true) };
    });
    return {
      name,
      networkType: networkType as LabCluster['networkType'],
      ipFamily: ipFamily as LabCluster['ipFamily'],
      podCIDRs: strings(r['podCIDRs'], `${f}.podCIDRs`, true),
      serviceCIDRs: strings(r['serviceCIDRs'], `${f}.serviceCIDRs`, true),
      globalCIDRsMap,
      nodes,
    };
  });
  if (errs.length) throw new UserError(`${source}:\n${errs.map(formatFieldError).join('\n')}`);
  return { clusters };
}

export async function readLabConfig(path: string): Promise<LabConfig> {
  return parseLabConfig(await readFile(path, 'utf8'), path);
}
