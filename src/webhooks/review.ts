/**
 * AdmissionReview admission.k8s.io/v1 on the wire: parsing what the apiserver sends
 * (refusing anything malformed with a reason, never throwing) and building answers that
 * always echo request.uid.
 */
import { formatFieldError, type FieldError } from '../api/field-errors.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_KIND = 'AdmissionReview';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo?: { username?: string; groups?: string[] };
  object?: Record<string, unknown> | null;
  oldObject?: Record<string, unknown> | null;
  dryRun?: boolean;
}

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace';
  path: string;
  value?: unknown;
}

export interface AdmissionStatus {
  code: number;
  reason?: string;
  message: string;
  details?: { causes: { type: string; field: string; message: string }[] };
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: AdmissionStatus;
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: typeof ADMISSION_KIND;
  response: AdmissionResponse;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const nullableObject = (v: unknown) => v === undefined || v === null || isObject(v);

/** The request of a well-formed review, or the reason it is not one (answered with HTTP 400). */
export function parseAdmissionReview(body: unknown): AdmissionRequest | string {
  if (!isObject(body)) return 'body must be a JSON AdmissionReview object';
  if (body['apiVersion'] !== ADMISSION_API_VERSION) {
    return `apiVersion must be ${JSON.stringify(ADMISSION_API_VERSION)}, got ${JSON.stringify(body['apiVersion'] ?? null)}`;
  }
  if (body['kind'] !== ADMISSION_KIND) {
    return `kind must be ${JSON.stringify(ADMISSION_KIND)}, got ${JSON.stringify(body['kind'] ?? null)}`;
  }
  const req = body['request'];
  if (!isObject(req)) return 'request must be an object';
  if (typeof req['uid'] !== 'string' || req['uid'] === '') return 'request.uid must be a non-empty string';
  const kind = req['kind'];
  if (
    !isObject(kind) ||
    typeof kind['group'] !== 'string' ||
    typeof kind['version'] !== 'string' ||
    typeof kind['kind'] !== 'string'
  ) {
    return 'request.kind must be {group, version, kind} strings';
  }
  if (typeof req['operation'] !== 'string' || !OPERATIONS.includes(req['operation'])) {
    return `request.operation must be one of ${OPERATIONS.join(', ')}`;
  }
  if (!nullableObject(req['object'])) return 'request.object must be an object';
  if (!nullableObject(req['oldObject'])) return 'request.oldObject must be an object';
  for (const f of ['name', 'namespace', 'subResource'] as const) {
    if (req[f] !== undefined && typeof req[f] !== 'string') return `request.${f} must be a string`;
  }
  return req as unknown as AdmissionRequest;
}

export function review(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}

function withWarnings(r: AdmissionResponse, warnings: readonly string[]): AdmissionResponse {
  // The apiserver drops warnings over its size limits; keep each short and few.
  if (warnings.length > 0)
    r.warnings = warnings.slice(0, 20).map((w) => (w.length > 256 ? `${w.slice(0, 253)}...` : w));
  return r;
}

export function allow(
  uid: string,
  warnings: readonly string[] = [],
  patch: readonly JsonPatchOp[] = [],
): AdmissionResponse {
  const r: AdmissionResponse = { uid, allowed: true };
  if (patch.length > 0) {
    r.patchType = 'JSONPatch';
    r.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
  }
  return withWarnings(r, warnings);
}

const CAUSE_TYPE: Record<FieldError['type'], string> = {
  Required: 'FieldValueRequired',
  Invalid: 'FieldValueInvalid',
  Unsupported: 'FieldValueNotSupported',
  Duplicate: 'FieldValueDuplicate',
  Forbidden: 'FieldValueForbidden',
  NotFound: 'FieldValueNotFound',
};

/**
 * A refusal worded like the apiserver's own validation: `<Kind> "<name>" is invalid: <error>`
 * or `... is invalid: [<error>, <error>]`, with one cause per field error.
 */
export function deny(
  uid: string,
  subject: string,
  errors: readonly FieldError[],
  warnings: readonly string[] = [],
): AdmissionResponse {
  const lines = errors.map(formatFieldError);
  const list = lines.length === 1 ? lines[0] : `[${lines.join(', ')}]`;
  return withWarnings(
    {
      uid,
      allowed: false,
      status: {
        code: 422,
        reason: 'Invalid',
        message: `${subject} is invalid: ${list}`,
        details: {
          causes: errors.map((e, i) => ({
            type: CAUSE_TYPE[e.type],
            field: e.field,
            message: lines[i] as string,
          })),
        },
      },
    },
    warnings,
  );
}
