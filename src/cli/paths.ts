import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KosmosError } from '../common/errors.js';

/** The package root (holding package.json, config/, deploy/, scripts/), from dist/ or src/. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'deploy'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new KosmosError('cannot find the Kosmos package root (package.json with deploy/)');
}
