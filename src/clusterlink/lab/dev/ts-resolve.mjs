// Resolve `./x.js` to `./x.ts` when only the TypeScript source exists (running from source).
import { existsSync } from 'node:fs';
import { URL, fileURLToPath } from 'node:url';
export async function resolve(specifier, context, next) {
  if (
    specifier.endsWith('.js') &&
    (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:')) &&
    context.parentURL?.endsWith('.ts')
  ) {
    const url = new URL(specifier, context.parentURL);
    if (!existsSync(fileURLToPath(url))) return next(specifier.slice(0, -3) + '.ts', context);
  }
  return next(specifier, context);
}
