// Lets `node --import <this> file.ts` run the TypeScript sources directly (Node 24 strips types)
// by resolving the `.js` import suffixes to the `.ts` files next to them. Used only when the lab
// or the tests run from source; the built CLI runs dist/ without it.
import { register } from 'node:module';
import { URL } from 'node:url';

register(new URL('./ts-resolve.mjs', import.meta.url));
