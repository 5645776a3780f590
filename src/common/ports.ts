/** A TCP port nothing listens on right now, for components and tests that pick their own. */
import { createServer } from 'node:net';
import { KosmosError } from './errors.js';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr
          ? resolve(addr.port)
          : reject(new KosmosError(`no free port on ${host}`)),
      );
    });
  });
}
