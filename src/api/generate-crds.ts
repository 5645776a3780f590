/** Writes deploy/crds/<plural>.kosmos.io.yaml from the schemas. `npm run gen:crds`. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crdFileContent, crdFileName } from './crd-files.js';
import { KINDS } from './kinds.js';

const dir = process.argv[2] ?? 'deploy/crds';
mkdirSync(dir, { recursive: true });
for (const info of KINDS) {
  writeFileSync(join(dir, crdFileName(info)), crdFileContent(info));
}
process.stdout.write(`wrote ${KINDS.length} CRDs to ${dir}\n`);
