/**
 * Port merging across exporters (KEP-1645 §Constraints and Conflict Resolution): the import
 * gets the union of the exporters' ports, taken oldest export first; a later port whose name
 * or (protocol, port) is already used by a different definition is dropped. Any difference
 * between exporters' port sets is a PortConflict.
 */
import type { ServiceImportPort, ServicePort } from '../types.js';

export function importPort(p: ServicePort): ServiceImportPort {
  return {
    ...(p.name ? { name: p.name } : {}),
    protocol: p.protocol ?? 'TCP',
    ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
    port: p.port,
  };
}

const portKey = (p: ServiceImportPort) =>
  `${p.name ?? ''}|${p.protocol ?? 'TCP'}|${p.port}|${p.appProtocol ?? ''}`;

export interface MergedPorts {
  ports: ServiceImportPort[];
  conflict: boolean;
}

/** `byAge` lists each exporter's ports, the oldest export first. */
export function mergePorts(byAge: readonly (readonly ServicePort[])[]): MergedPorts {
  const sets = byAge.map((ports) => ports.map(importPort));
  const signature = (ps: ServiceImportPort[]) => ps.map(portKey).sort().join(',');
  const first = sets[0] ?? [];
  const conflict = sets.some((s) => signature(s) !== signature(first));
  const merged: ServiceImportPort[] = [];
  for (const set of sets) {
    for (const p of set) {
      const sameName = merged.find((m) => (m.name ?? '') === (p.name ?? ''));
      const sameNumber = merged.find((m) => m.protocol === p.protocol && m.port === p.port);
      if (sameName || sameNumber) continue;
      merged.push(p);
    }
  }
  return { ports: merged, conflict };
}
