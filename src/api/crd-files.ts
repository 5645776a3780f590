import { stringify } from 'yaml';
import { GROUP } from './constants.js';
import { crdFor } from './crds.js';
import type { KindInfo } from './kinds.js';

export const CRD_HEADER = '# Generated from src/api/schema by `npm run gen:crds`; do not edit.\n';

export function crdFileName(info: KindInfo): string {
  return `${GROUP}_${info.plural}.yaml`;
}

export function crdFileContent(info: KindInfo): string {
  return CRD_HEADER + stringify(crdFor(info), { lineWidth: 0 });
}
