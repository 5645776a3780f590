/**
 * The three admission webhooks as functions of (request, sources) → response, with no HTTP:
 *   mutatePods       pods: scheduler, leaf toleration, topology     (failurePolicy Ignore)
 *   validatePods     pods: own constraints vs their policy          (failurePolicy Ignore)
 *   validateKosmos   every kosmos.io kind: schema + semantic rules  (failurePolicy Fail)
 * Anything that is not their business (other kinds, DELETE, subresources) is allowed as is.
 */
import { GROUP } from '../api/constants.js';
import type { Pod } from '../api/core.js';
import type { FieldError } from '../api/field-errors.js';
import type {
  Cluster,
  DistributionPolicySpec,
  KindName,
  PodConvertPolicySpec,
  WorkloadPolicySpec,
} from '../api/kinds.js';
import { isKindName, validateSchema } from '../api/validate.js';
import { mutatePod } from './pod-mutator.js';
import { allow, deny, type AdmissionRequest, type AdmissionResponse } from './review.js';
import type { ClusterSource, PolicySource } from './sources.js';
import { validateCluster } from './validators/cluster.js';
import { validateDistributionPolicySpec, type ValidationResult } from './validators/distribution-policy.js';
import { validatePod } from './validators/pod.js';
import { validatePodConvertPolicySpec } from './validators/pod-convert-policy.js';
import { validateWorkloadPolicySpec } from './validators/workload-policy.js';

export interface AdmissionContext {
  policies: PolicySource;
  clusters: ClusterSource;
  schedulerName?: string;
}

export type WebhookName = 'mutate-pods' | 'validate-pods' | 'validate-kosmos';

export interface Decision {
  response: AdmissionResponse;
  /** What the decision was about, for metrics and logs ("Pod", "Cluster"...). */
  subject: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isStringMap = (v: unknown) =>
  v === undefined || (isObject(v) && Object.values(v).every((s) => typeof s === 'string'));
const isArrayOfObjects = (v: unknown) => v === undefined || (Array.isArray(v) && v.every(isObject));

/**
 * The apiserver only sends decoded pods, so a pod of another shape is a forged or broken
 * review; the pure mutators assume the shape, so it is checked here once.
 */
function asPod(obj: unknown): Pod | undefined {
  if (!isObject(obj) || !isObject(obj['spec'])) return undefined;
  const meta = obj['metadata'];
  if (meta !== undefined && !isObject(meta)) return undefined;
  if (meta && (!isStringMap(meta['labels']) || !isArrayOfObjects(meta['ownerReferences']))) return undefined;
  if (
    meta &&
    ['name', 'generateName', 'namespace'].some((k) => meta[k] !== undefined && typeof meta[k] !== 'string')
  ) {
    return undefined;
  }
  const spec = obj['spec'];
  if (!isStringMap(spec['nodeSelector'])) return undefined;
  if (!isArrayOfObjects(spec['tolerations']) || !isArrayOfObjects(spec['topologySpreadConstraints']))
    return undefined;
  if (spec['affinity'] !== undefined && !isObject(spec['affinity'])) return undefined;
  const na = isObject(spec['affinity']) ? spec['affinity']['nodeAffinity'] : undefined;
  if (na !== undefined && !isObject(na)) return undefined;
  const req = isObject(na) ? na['requiredDuringSchedulingIgnoredDuringExecution'] : undefined;
  if (req !== undefined && (!isObject(req) || !isArrayOfObjects(req['nodeSelectorTerms']))) return undefined;
  if (isObject(req)) {
    for (const t of (req['nodeSelectorTerms'] as Record<string, unknown>[] | undefined) ?? []) {
      if (!isArrayOfObjects(t['matchExpressions'])) return undefined;
      for (const e of (t['matchExpressions'] as Record<string, unknown>[] | undefined) ?? []) {
        if (typeof e['key'] !== 'string' || (e['values'] !== undefined && !Array.isArray(e['values'])))
          return undefined;
      }
    }
  }
  for (const k of ['schedulerName', 'nodeName'] as const) {
    if (spec[k] !== undefined && typeof spec[k] !== 'string') return undefined;
  }
  return obj as unknown as Pod;
}

function isPodCreate(req: AdmissionRequest): boolean {
  return req.kind.group === '' && req.kind.kind === 'Pod' && req.operation === 'CREATE' && !req.subResource;
}

export function mutatePods(req: AdmissionRequest, ctx: AdmissionContext): Decision {
  if (!isPodCreate(req)) return { response: allow(req.uid), subject: req.kind.kind };
  const pod = asPod(req.object);
  if (!pod)
    return { response: allow(req.uid, ['kosmos: request.object is not a pod; not mutated']), subject: 'Pod' };
  const namespace = pod.metadata?.namespace || req.namespace || 'default';
  const options = ctx.schedulerName === undefined ? {} : { schedulerName: ctx.schedulerName };
  const m = mutatePod(pod, namespace, ctx.policies.policiesFor(namespace), options);
  return { response: allow(req.uid, m.warnings, m.patch), subject: 'Pod' };
}

export function validatePods(req: AdmissionRequest, ctx: AdmissionContext): Decision {
  if (!isPodCreate(req)) return { response: allow(req.uid), subject: req.kind.kind };
  const pod = asPod(req.object);
  if (!pod)
    return {
      response: allow(req.uid, ['kosmos: request.object is not a pod; not validated']),
      subject: 'Pod',
    };
  const namespace = pod.metadata?.namespace || req.namespace || 'default';
  const r = validatePod(pod, namespace, ctx.policies.policiesFor(namespace));
  return {
    response: decide(req, 'Pod', '', pod.metadata?.name || pod.metadata?.generateName || '', r),
    subject: 'Pod',
  };
}

function decide(
  req: AdmissionRequest,
  kind: string,
  group: string,
  name: string,
  r: ValidationResult,
): AdmissionResponse {
  if (r.errors.length === 0) return allow(req.uid, r.warnings);
  const subject = `${kind}${group ? `.${group}` : ''} ${JSON.stringify(name)}`;
  return deny(req.uid, subject, r.errors, r.warnings);
}

function semantic(
  kind: KindName,
  obj: Record<string, unknown>,
  old: unknown,
  ctx: AdmissionContext,
): ValidationResult {
  const spec = obj['spec'];
  switch (kind) {
    case 'DistributionPolicy':
    case 'ClusterDistributionPolicy':
      return validateDistributionPolicySpec(spec as DistributionPolicySpec);
    case 'WorkloadPolicy':
      return validateWorkloadPolicySpec(spec as WorkloadPolicySpec);
    case 'PodConvertPolicy':
    case 'ClusterPodConvertPolicy':
      return validatePodConvertPolicySpec(spec as PodConvertPolicySpec);
    case 'Cluster': {
      // The old object passed the same schema when it was written; a stored object that no
      // longer does (an older CRD) is not used for update rules rather than trusted blindly.
      const oldCluster =
        isObject(old) && validateSchema('Cluster', old).length === 0
          ? (old as unknown as Cluster)
          : undefined;
      return validateCluster(obj as unknown as Cluster, oldCluster, ctx.clusters.clusters());
    }
    default:
      return { errors: [], warnings: [] };
  }
}

export function validateKosmos(req: AdmissionRequest, ctx: AdmissionContext): Decision {
  const kind = req.kind.kind;
  if (req.kind.group !== GROUP || !isKindName(kind)) {
    return {
      response: allow(req.uid, [`kosmos: ${kind}.${req.kind.group} is not a Kosmos kind; not validated`]),
      subject: kind,
    };
  }
  if ((req.operation !== 'CREATE' && req.operation !== 'UPDATE') || req.subResource) {
    return { response: allow(req.uid), subject: kind };
  }
  const obj = req.object;
  const meta = isObject(obj) && isObject(obj['metadata']) ? obj['metadata'] : {};
  const rawName = meta['name'] ?? meta['generateName'] ?? req.name ?? '';
  const name = typeof rawName === 'string' ? rawName : '';
  if (!isObject(obj)) {
    const errors: FieldError[] = [
      { field: '', type: 'Required', detail: 'request.object must hold the object' },
    ];
    return { response: decide(req, kind, GROUP, name, { errors, warnings: [] }), subject: kind };
  }
  if (!isObject(obj['metadata'])) {
    // The apiserver always sends metadata; the semantic rules read it, so do not guess.
    const errors: FieldError[] = [{ field: 'metadata', type: 'Required', detail: '' }];
    return { response: decide(req, kind, GROUP, name, { errors, warnings: [] }), subject: kind };
  }
  const schemaErrors = validateSchema(kind, obj);
  if (schemaErrors.length > 0) {
    return {
      response: decide(req, kind, GROUP, name, { errors: schemaErrors, warnings: [] }),
      subject: kind,
    };
  }
  const old = req.operation === 'UPDATE' ? req.oldObject : undefined;
  return { response: decide(req, kind, GROUP, name, semantic(kind, obj, old, ctx)), subject: kind };
}

export const WEBHOOKS: Record<WebhookName, (req: AdmissionRequest, ctx: AdmissionContext) => Decision> = {
  'mutate-pods': mutatePods,
  'validate-pods': validatePods,
  'validate-kosmos': validateKosmos,
};
