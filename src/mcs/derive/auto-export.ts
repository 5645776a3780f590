/**
 * Kosmos's automatic export: Services in namespaces whose name starts with a configured
 * prefix, or whose Service or Namespace carries kosmos.io/auto-create-mcs, are exported
 * without a user-written ServiceExport. The exports Kosmos creates carry that same annotation,
 * so the controller removes only its own when a Service stops qualifying.
 */
import { ANNOTATION_AUTO_CREATE_MCS } from '../../api/constants.js';
import { LABEL_APP_MANAGED_BY, MCS_API_VERSION, MCS_CONTROLLER_ID, TRUE_VALUES } from '../constants.js';
import type { Namespace, Service, ServiceExport } from '../types.js';

export interface AutoExportOptions {
  prefixes: readonly string[];
  reservedNamespaces: readonly string[];
}

/** "true", and the Go project's "ture", switch it on (case-insensitive, as users type both). */
export function isOn(value: string | undefined): boolean {
  return value !== undefined && (TRUE_VALUES as readonly string[]).includes(value.trim().toLowerCase());
}

export function qualifies(
  service: Service,
  namespace: Namespace | undefined,
  opts: AutoExportOptions,
): boolean {
  const ns = service.metadata.namespace ?? '';
  if (opts.reservedNamespaces.includes(ns) || service.metadata.deletionTimestamp) return false;
  // A derived Service stands for an import; exporting it would feed the clusterset its own output.
  if (service.metadata.labels?.[LABEL_APP_MANAGED_BY] === MCS_CONTROLLER_ID) return false;
  return (
    opts.prefixes.some((p) => p !== '' && ns.startsWith(p)) ||
    isOn(service.metadata.annotations?.[ANNOTATION_AUTO_CREATE_MCS]) ||
    isOn(namespace?.metadata.annotations?.[ANNOTATION_AUTO_CREATE_MCS])
  );
}

export interface AutoExportPlan {
  create: ServiceExport[];
  remove: ServiceExport[];
}

export function planAutoExports(
  services: readonly Service[],
  namespaces: readonly Namespace[],
  exports: readonly ServiceExport[],
  opts: AutoExportOptions,
): AutoExportPlan {
  const nsByName = new Map(namespaces.map((n) => [n.metadata.name ?? '', n]));
  const want = new Set<string>();
  const create: ServiceExport[] = [];
  const existing = new Map(exports.map((e) => [`${e.metadata.namespace}/${e.metadata.name}`, e]));
  for (const s of services) {
    if (!qualifies(s, nsByName.get(s.metadata.namespace ?? ''), opts)) continue;
    const k = `${s.metadata.namespace}/${s.metadata.name}`;
    want.add(k);
    if (existing.has(k)) continue; // a user's own export is left alone
    create.push({
      apiVersion: MCS_API_VERSION,
      kind: 'ServiceExport',
      metadata: {
        name: s.metadata.name ?? '',
        namespace: s.metadata.namespace ?? '',
        annotations: { [ANNOTATION_AUTO_CREATE_MCS]: 'true' },
      },
    });
  }
  const remove = exports.filter(
    (e) =>
      isOn(e.metadata.annotations?.[ANNOTATION_AUTO_CREATE_MCS]) &&
      !want.has(`${e.metadata.namespace}/${e.metadata.name}`) &&
      !e.metadata.deletionTimestamp,
  );
  return { create, remove };
}
