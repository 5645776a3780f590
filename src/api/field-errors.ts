/** Kubernetes field-error style messages: `spec.x[1].y: Unsupported value: "z": supported values: "a", "b"`. */

export interface FieldError {
  field: string;
  type: 'Required' | 'Invalid' | 'Unsupported' | 'Duplicate' | 'Forbidden' | 'NotFound';
  detail: string;
  value?: unknown;
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
}

export function formatFieldError(e: FieldError): string {
  switch (e.type) {
    case 'Required':
      return `${e.field}: Required value${e.detail ? `: ${e.detail}` : ''}`;
    case 'Unsupported':
      return `${e.field}: Unsupported value: ${show(e.value)}: ${e.detail}`;
    case 'Duplicate':
      return `${e.field}: Duplicate value: ${show(e.value)}${e.detail ? `: ${e.detail}` : ''}`;
    case 'Forbidden':
      return `${e.field}: Forbidden: ${e.detail}`;
    case 'NotFound':
      return `${e.field}: Not found: ${show(e.value)}${e.detail ? `: ${e.detail}` : ''}`;
    case 'Invalid':
      return `${e.field}: Invalid value: ${show(e.value)}: ${e.detail}`;
  }
}

export const required = (field: string, detail = ''): FieldError => ({ field, type: 'Required', detail });
export const invalid = (field: string, value: unknown, detail: string): FieldError => ({
  field,
  type: 'Invalid',
  value,
  detail,
});
export const unsupported = (field: string, value: unknown, supported: readonly string[]): FieldError => ({
  field,
  type: 'Unsupported',
  value,
  detail: `supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`,
});
export const duplicate = (field: string, value: unknown, detail = ''): FieldError => ({
  field,
  type: 'Duplicate',
  value,
  detail,
});
export const forbidden = (field: string, detail: string): FieldError => ({
  field,
  type: 'Forbidden',
  detail,
});
export const notFound = (field: string, value: unknown, detail = ''): FieldError => ({
  field,
  type: 'NotFound',
  value,
  detail,
});

/** `/spec/policyTerms/1/nodeType` → `spec.policyTerms[1].nodeType`. */
export function jsonPointerToField(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .split('/')
    .slice(1)
    .map((raw) => raw.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

export function joinField(base: string, child: string): string {
  return base ? `${base}.${child}` : child;
}
