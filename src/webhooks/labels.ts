/**
 * Label key and value syntax, as the apiserver checks it for metadata.labels. Policies carry
 * label keys and values the apiserver never checks (they sit inside a CRD spec), so an
 * invalid one would silently match nothing; the validators refuse it instead.
 */
import { invalid, type FieldError } from '../api/field-errors.js';

const NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why `key` is not a valid qualified name (`prefix/name`), or undefined when it is. */
export function qualifiedNameProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return 'a qualified name must have at most one "/"';
  const name = parts.length === 2 ? (parts[1] as string) : key;
  if (parts.length === 2) {
    const prefix = parts[0] as string;
    if (prefix.length === 0) return 'prefix part must be non-empty';
    if (prefix.length > 253) return 'prefix part must be no more than 253 characters';
    if (!DNS1123_SUBDOMAIN.test(prefix)) {
      return 'prefix part must be a lowercase RFC 1123 subdomain (for example "example.com")';
    }
  }
  if (name.length === 0) return 'name part must be non-empty';
  if (name.length > 63) return 'name part must be no more than 63 characters';
  if (!NAME.test(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  }
  return undefined;
}

/** Why `value` is not a valid label value, or undefined when it is (the empty string is valid). */
export function labelValueProblem(value: string): string | undefined {
  if (value.length === 0) return undefined;
  if (value.length > 63) return 'must be no more than 63 characters';
  if (!NAME.test(value)) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  }
  return undefined;
}

export function checkLabelKey(field: string, key: string): FieldError[] {
  const problem = qualifiedNameProblem(key);
  return problem ? [invalid(field, key, problem)] : [];
}

export function checkLabelValue(field: string, value: string): FieldError[] {
  const problem = labelValueProblem(value);
  return problem ? [invalid(field, value, problem)] : [];
}

/** Keys and values of a label map; map entries are named `field[key]`, as Kubernetes does. */
export function checkLabelMap(
  field: string,
  map: Readonly<Record<string, string>> | undefined,
): FieldError[] {
  const out: FieldError[] = [];
  for (const [k, v] of Object.entries(map ?? {})) {
    out.push(...checkLabelKey(field, k), ...checkLabelValue(`${field}[${k}]`, v));
  }
  return out;
}
