/**
 * The tar codec image layers are written with: what it writes, GNU tar (an independent
 * reader) lists the same way, and what GNU tar writes (long names, pax) it reads back.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  readAll,
  TarError,
  tarEntries,
  tarStream,
  type TarEntry,
  type TarHeader,
} from '../../../../src/cli/image/tar.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kosmos-tar-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function bytes(entries: TarEntry[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of tarStream(entries)) parts.push(c);
  return Buffer.concat(parts);
}

async function read(buf: Buffer, chunk = 700): Promise<{ header: TarHeader; data: Buffer }[]> {
  // Odd-sized chunks: headers and bodies straddle chunk boundaries.
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) chunks.push(buf.subarray(i, i + chunk));
  const out: { header: TarHeader; data: Buffer }[] = [];
  for await (const { header, body } of tarEntries(Readable.from(chunks)))
    out.push({ header, data: await readAll(body) });
  return out;
}

const long = `${'deep/'.repeat(40)}file-with-a-long-name.txt`;
const longLink = `../${'x'.repeat(150)}`;
const entries: TarEntry[] = [
  { path: 'app/', type: 'dir', mode: 0o755 },
  { path: 'app/hello.txt', type: 'file', mode: 0o644, data: Buffer.from('hello\n') },
  { path: 'app/run.sh', type: 'file', mode: 0o755, uid: 1000, gid: 1000, data: Buffer.from('#!/bin/sh\n') },
  { path: 'app/link', type: 'symlink', mode: 0o777, linkname: 'hello.txt' },
  { path: 'app/hard', type: 'hardlink', mode: 0o644, linkname: 'app/hello.txt' },
  { path: 'tmp/', type: 'dir', mode: 0o1777 },
  { path: `app/${'n'.repeat(120)}/x`, type: 'file', mode: 0o644, data: Buffer.from('ustar prefix') },
  { path: long, type: 'file', mode: 0o600, data: Buffer.alloc(1500, 7) },
  { path: 'app/far', type: 'symlink', mode: 0o777, linkname: longLink },
  { path: 'app/naïve-ünïcode', type: 'file', mode: 0o644, data: Buffer.from('ü') },
];

describe('tar writer and reader', () => {
  it('GIVEN entries with long names, links, modes and owners WHEN written and read back THEN each is as given', async () => {
    const got = await read(await bytes(entries));
    expect(got.map((g) => g.header.path)).toEqual(entries.map((e) => e.path));
    for (const [i, e] of entries.entries()) {
      const g = got[i]!;
      expect(g.header).toMatchObject({
        type: e.type,
        mode: e.mode,
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        mtime: 0,
      });
      expect(g.header.linkname).toBe(e.linkname ?? '');
      if (e.type === 'file') expect(g.data.equals(e.data as Buffer)).toBe(true);
    }
  });

  it('GIVEN the same entries twice THEN the archives are byte for byte equal', async () => {
    expect((await bytes(entries)).equals(await bytes(entries))).toBe(true);
  });

  it('GIVEN an archive it wrote THEN GNU tar extracts the same names, contents and links', async () => {
    writeFileSync(join(dir, 'a.tar'), await bytes(entries));
    mkdirSync(join(dir, 'x'));
    execFileSync('tar', ['-xf', join(dir, 'a.tar'), '-C', join(dir, 'x')]);
    const listed = execFileSync('tar', ['-tf', join(dir, 'a.tar')], { encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(listed).toEqual(entries.map((e) => e.path));
    expect(readFileSync(join(dir, 'x', long)).equals(Buffer.alloc(1500, 7))).toBe(true);
    expect(execFileSync('readlink', [join(dir, 'x', 'app/far')], { encoding: 'utf8' }).trim()).toBe(longLink);
    expect(readFileSync(join(dir, 'x', 'app/hard'), 'utf8')).toBe('hello\n');
  });

  it.each(['gnu', 'pax', 'ustar'])(
    'GIVEN an archive GNU tar wrote in %s format THEN it reads every entry',
    async (format) => {
      const src = join(dir, 'src');
      const name = format === 'ustar' ? 'short-name.txt' : `${'y'.repeat(180)}.txt`;
      mkdirSync(join(src, 'd'), { recursive: true });
      writeFileSync(join(src, 'd', name), 'content');
      symlinkSync(name, join(src, 'd', 'l'));
      execFileSync('tar', [`--format=${format}`, '-cf', join(dir, 'g.tar'), '-C', src, 'd']);
      const got = await read(readFileSync(join(dir, 'g.tar')));
      expect(got.map((g) => [g.header.path, g.header.type])).toEqual([
        ['d/', 'dir'],
        [`d/${name}`, 'file'],
        ['d/l', 'symlink'],
      ]);
      expect(got[1]!.data.toString()).toBe('content');
      expect(got[2]!.header.linkname).toBe(name);
    },
  );

  it('GIVEN bytes that are no tar THEN reading says so', async () => {
    await expect(read(Buffer.alloc(2048, 0x41))).rejects.toThrow(new TarError('not a tar archive'));
  });

  it('GIVEN an archive cut inside a file THEN reading fails naming the file and how much of it came', async () => {
    const whole = await bytes(entries);
    const cut = whole.subarray(0, whole.indexOf(Buffer.alloc(1500, 7)) + 100);
    await expect(read(cut)).rejects.toThrow(`truncated: ends inside ${long} (100 of 1500 bytes)`);
  });

  it('GIVEN a file whose size changes while it is written THEN writing fails instead of making a corrupt layer', async () => {
    const liar: TarEntry = {
      path: 'x',
      type: 'file',
      mode: 0o644,
      size: 10,
      data: async function* () {
        yield Buffer.from('only5');
      },
    };
    await expect(bytes([liar])).rejects.toThrow('x has 5 bytes, not the 10 its header says');
  });
});
