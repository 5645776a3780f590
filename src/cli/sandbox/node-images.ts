/** Images in a real node's containerd (namespace k8s.io, the one the CRI uses). */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { KosmosError, UserError } from '../../common/errors.js';

const NAMESPACE = 'k8s.io';

async function ctr(bin: string, socket: string, args: string[]): Promise<string> {
  return await new Promise((resolve, reject) => {
    const child = spawn(bin, ['-a', socket, '-n', NAMESPACE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', (e) => reject(new KosmosError(`ctr ${args.join(' ')}: ${e.message}`)));
    child.on('close', (code) =>
      code === 0
        ? resolve(out)
        : reject(new KosmosError(`ctr ${args.join(' ')} exited ${code}: ${err.trim()}`)),
    );
  });
}

/** Normalises a reference as containerd stores it (docker.io/library/ for short names). */
export function fullRef(ref: string): string {
  const first = ref.split('/')[0] ?? '';
  const hasRegistry =
    ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  const named = hasRegistry ? ref : ref.includes('/') ? `docker.io/${ref}` : `docker.io/library/${ref}`;
  return /:[^/]+$/.test(named) || named.includes('@') ? named : `${named}:latest`;
}

export async function listImages(bin: string, socket: string): Promise<string[]> {
  return (await ctr(bin, socket, ['images', 'ls', '-q'])).split('\n').filter(Boolean);
}

export async function hasImage(bin: string, socket: string, ref: string): Promise<boolean> {
  return (await listImages(bin, socket)).includes(fullRef(ref));
}

/** Imports a docker-archive or OCI archive; what was there stays. */
export async function importArchive(bin: string, socket: string, file: string): Promise<void> {
  await ctr(bin, socket, ['images', 'import', file]);
}

/** DEV placeholder until the image module lands: refuses what is plainly no archive. */
export function inspectImageArchive(file: string): { refs: string[] } {
  let head: Buffer;
  try {
    head = readFileSync(file).subarray(0, 1024);
  } catch (e) {
    throw new UserError(
      `${file}: cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  if (head.length < 512 || head.subarray(257, 262).toString() !== 'ustar') {
    throw new UserError(`${file}: not an image archive (not a tar file)`);
  }
  return { refs: [] };
}
