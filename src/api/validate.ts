/**
 * Schema validation of Kosmos objects with ajv, from the same schemas the CRDs are made
 * of, reported in Kubernetes' field-error style. Semantic rules that a schema cannot say
 * (a policyName naming a term, CIDR families...) live with the webhooks' validators.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { objectSchema } from './crds.js';
import {
  formatFieldError,
  invalid,
  joinField,
  jsonPointerToField,
  required,
  unsupported,
  type FieldError,
} from './field-errors.js';
import { KINDS, type KindName } from './kinds.js';
import { KosmosError } from '../common/errors.js';

// verbose: errors carry the offending value, which the messages quote.
const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false, verbose: true });
ajv.addFormat('byte', /^[A-Za-z0-9+/]*={0,2}$/);
ajv.addFormat('int32', { type: 'number', validate: (n: number) => n >= -(2 ** 31) && n < 2 ** 31 });
ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));

const validators = new Map<KindName, ValidateFunction>();
function validatorFor(kind: KindName): ValidateFunction {
  let v = validators.get(kind);
  if (!v) {
    const info = KINDS.find((k) => k.kind === kind);
    if (!info) throw new KosmosError(`unknown Kosmos kind ${kind}`);
    v = ajv.compile(objectSchema(info) as object);
    validators.set(kind, v);
  }
  return v;
}

function toFieldError(e: ErrorObject): FieldError | undefined {
  const field = jsonPointerToField(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return required(joinField(field, String(p['missingProperty'])));
    case 'enum':
      return unsupported(field, e.data, (p['allowedValues'] as unknown[]).map(String));
    case 'type':
      return invalid(field, e.data, `must be of type ${String(p['type'])}`);
    case 'minItems':
      return required(field, `must have at least ${String(p['limit'])} item(s)`);
    case 'minimum':
      return invalid(field, e.data, `must be greater than or equal to ${String(p['limit'])}`);
    case 'minLength':
      return required(field, 'must not be empty');
    case 'format':
      return invalid(field, e.data, `must be a valid ${String(p['format'])}`);
    case 'additionalProperties':
      // The apiserver prunes unknown fields rather than refusing them; so do we.
      return undefined;
    default:
      return invalid(field, e.data, e.message ?? e.keyword);
  }
}

/** Field errors of a Kosmos object against its kind's schema; empty when valid. */
export function validateSchema(kind: KindName, obj: unknown): FieldError[] {
  const v = validatorFor(kind);
  if (v(obj)) return [];
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const e of v.errors ?? []) {
    const fe = toFieldError(e);
    if (!fe) continue;
    const key = formatFieldError(fe);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(fe);
    }
  }
  return out;
}

export function isKindName(kind: string): kind is KindName {
  return KINDS.some((k) => k.kind === kind);
}
