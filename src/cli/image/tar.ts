/**
 * A tar codec for image layers and archives: a writer of deterministic POSIX (ustar + pax)
 * archives, and a streaming reader that tells a truncated or foreign file from a tar.
 *
 * The writer puts down exactly what it is given (names, modes, owners, times), so two builds
 * of the same inputs are the same bytes; names longer than ustar allows, and link targets
 * likewise, go into a pax header as Go's archive/tar (and so containerd) reads them.
 */
import { KosmosError } from '../../common/errors.js';

export const BLOCK = 512;

export type TarType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'other';

export interface TarHeader {
  /** As stored, e.g. `usr/bin/env` or `./usr/bin/env`; directories usually end with `/`. */
  path: string;
  type: TarType;
  /** Permission bits, with setuid/setgid/sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname: string;
  uname: string;
  gname: string;
  /** pax records of the entry (after merging global ones), e.g. SCHILY.xattr.*. */
  pax: Record<string, string>;
}

/** A tar entry to write: its data, if a file, is a Buffer or chunks whose total is `size`. */
export interface TarEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink';
  mode: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  mtime?: number;
  linkname?: string;
  size?: number;
  data?: Buffer | (() => AsyncIterable<Buffer>);
  /** Further pax records to keep, e.g. SCHILY.xattr.* read from another archive. */
  pax?: Record<string, string>;
}

export class TarError extends KosmosError {
  constructor(message: string) {
    super(message);
    this.name = 'TarError';
  }
}

const TYPEFLAG: Record<TarEntry['type'], string> = { file: '0', dir: '5', symlink: '2', hardlink: '1' };

function octal(value: number, width: number): string {
  // width includes the terminating NUL.
  const s = value.toString(8);
  if (s.length > width - 1) throw new TarError(`tar: ${value} does not fit a ${width}-byte header field`);
  return s.padStart(width - 1, '0') + '\0';
}

function put(block: Buffer, offset: number, width: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > width) throw new TarError(`tar: "${text}" does not fit a ${width}-byte header field`);
  bytes.copy(block, offset);
}

/** One pax record: "<len> <key>=<value>\n", where <len> counts the whole record. */
/** Extended attributes are bytes, not text: their pax values are kept byte for byte. */
const binaryPaxKey = (key: string) => key.startsWith('SCHILY.xattr.') || key.startsWith('LIBARCHIVE.xattr.');

function paxRecord(key: string, value: string): Buffer {
  const body = Buffer.concat([
    Buffer.from(` ${key}=`, 'utf8'),
    Buffer.from(value, binaryPaxKey(key) ? 'latin1' : 'utf8'),
    Buffer.from('\n'),
  ]);
  const base = body.length;
  let len = base + String(base).length;
  if (String(len).length !== String(base).length) len = base + String(len).length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** A name that fits ustar's 100 bytes, for an entry whose real name is in its pax header. */
function standIn(path: string): string {
  let p = path;
  while (Buffer.byteLength(p) > 100) p = p.slice(1);
  return p;
}

/** Splits a path into ustar's prefix (155 bytes) and name (100 bytes), if it can be. */
function ustarSplit(path: string): { prefix: string; name: string } | undefined {
  if (Buffer.byteLength(path) <= 100) return { prefix: '', name: path };
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== '')
      return { prefix, name };
  }
  return undefined;
}

function headerBlock(o: {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  uname: string;
  gname: string;
}): Buffer {
  const b = Buffer.alloc(BLOCK);
  put(b, 0, 100, o.name);
  put(b, 100, 8, octal(o.mode, 8));
  put(b, 108, 8, octal(o.uid, 8));
  put(b, 116, 8, octal(o.gid, 8));
  put(b, 124, 12, octal(o.size, 12));
  put(b, 136, 12, octal(o.mtime, 12));
  b.fill(' ', 148, 156);
  put(b, 156, 1, o.typeflag);
  put(b, 157, 100, o.linkname);
  put(b, 257, 6, 'ustar\0');
  put(b, 263, 2, '00');
  put(b, 265, 32, o.uname);
  put(b, 297, 32, o.gname);
  put(b, 329, 8, octal(0, 8));
  put(b, 337, 8, octal(0, 8));
  put(b, 345, 155, o.prefix);
  let sum = 0;
  for (const byte of b) sum += byte;
  put(b, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return b;
}

const padding = (size: number): Buffer => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

/** The header block(s) of an entry: a pax header first when ustar cannot hold its names. */
export function encodeHeader(e: TarEntry): Buffer {
  const size = e.type === 'file' ? (e.size ?? (Buffer.isBuffer(e.data) ? e.data.length : 0)) : 0;
  const linkname = e.linkname ?? '';
  const split = ustarSplit(e.path);
  const records: Buffer[] = [];
  if (!split) records.push(paxRecord('path', e.path));
  if (Buffer.byteLength(linkname) > 100) records.push(paxRecord('linkpath', linkname));
  for (const key of Object.keys(e.pax ?? {}).sort())
    records.push(paxRecord(key, (e.pax ?? {})[key] as string));
  const blocks: Buffer[] = [];
  const common = {
    mode: e.mode & 0o7777,
    uid: e.uid ?? 0,
    gid: e.gid ?? 0,
    mtime: e.mtime ?? 0,
    uname: e.uname ?? '',
    gname: e.gname ?? '',
  };
  if (records.length > 0) {
    const body = Buffer.concat(records);
    blocks.push(
      headerBlock({
        ...common,
        mode: 0o644,
        name: standIn(`PaxHeaders/${e.path.replace(/\/$/, '').split('/').pop() ?? 'entry'}`),
        prefix: '',
        size: body.length,
        typeflag: 'x',
        linkname: '',
      }),
      body,
      padding(body.length),
    );
  }
  blocks.push(
    headerBlock({
      ...common,
      name: split ? split.name : standIn(e.path),
      prefix: split ? split.prefix : '',
      size,
      typeflag: TYPEFLAG[e.type],
      linkname: Buffer.byteLength(linkname) > 100 ? standIn(linkname) : linkname,
    }),
  );
  return Buffer.concat(blocks);
}

/** The bytes of a tar archive of `entries`, in the order given, with the end-of-archive marker. */
export async function* tarStream(
  entries: Iterable<TarEntry> | AsyncIterable<TarEntry>,
): AsyncGenerator<Buffer> {
  for await (const e of entries) {
    yield encodeHeader(e);
    if (e.type !== 'file' || e.data === undefined) continue;
    const size = e.size ?? (Buffer.isBuffer(e.data) ? e.data.length : 0);
    let written = 0;
    if (Buffer.isBuffer(e.data)) {
      written = e.data.length;
      yield e.data;
    } else {
      for await (const chunk of e.data()) {
        written += chunk.length;
        if (written > size) break;
        yield chunk;
      }
    }
    if (written !== size)
      throw new TarError(
        `tar: ${e.path} has ${written} bytes, not the ${size} its header says (changed while read?)`,
      );
    yield padding(size);
  }
  yield Buffer.alloc(2 * BLOCK);
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Pulls exact byte counts from a stream of chunks. */
class Pull {
  private chunks: Buffer[] = [];
  private length = 0;
  private ended = false;
  /** Bytes handed out so far. */
  offset = 0;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async fill(n: number): Promise<void> {
    while (this.length < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else if (r.value.length > 0) {
        this.chunks.push(r.value);
        this.length += r.value.length;
      }
    }
  }

  /** Up to n bytes (fewer only at the end of the stream). */
  async take(n: number): Promise<Buffer> {
    await this.fill(n);
    const total = Math.min(n, this.length);
    const parts: Buffer[] = [];
    for (let need = total; need > 0;) {
      const c = this.chunks[0] as Buffer;
      if (c.length <= need) {
        parts.push(c);
        this.chunks.shift();
        need -= c.length;
      } else {
        parts.push(c.subarray(0, need));
        this.chunks[0] = c.subarray(need);
        need = 0;
      }
    }
    this.length -= total;
    this.offset += total;
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, total);
  }

  /** Some bytes, at most n, without copying more than one chunk; empty at the end. */
  async some(n: number): Promise<Buffer> {
    if (this.length === 0) await this.fill(1);
    const first = this.chunks[0];
    if (!first) return Buffer.alloc(0);
    const out = first.length <= n ? first : first.subarray(0, n);
    if (out === first) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.length -= out.length;
    this.offset += out.length;
    return out;
  }
}

function field(b: Buffer, offset: number, width: number): string {
  const raw = b.subarray(offset, offset + width);
  const nul = raw.indexOf(0);
  return (nul === -1 ? raw : raw.subarray(0, nul)).toString('utf8');
}

function numeric(b: Buffer, offset: number, width: number): number {
  const raw = b.subarray(offset, offset + width);
  if ((raw[0] ?? 0) & 0x80) {
    // GNU base-256: big-endian, first byte's high bit set.
    let v = 0;
    for (let i = 1; i < raw.length; i++) v = v * 256 + (raw[i] ?? 0);
    return v;
  }
  const s = field(b, offset, width).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return NaN;
  return parseInt(s, 8);
}

/** Whether a 512-byte block is a tar header (its checksum matches). */
export function isHeaderBlock(b: Buffer): boolean {
  if (b.length !== BLOCK) return false;
  const stored = numeric(b, 148, 8);
  if (Number.isNaN(stored)) return false;
  let unsigned = 0;
  for (let i = 0; i < BLOCK; i++) unsigned += i >= 148 && i < 156 ? 32 : (b[i] ?? 0);
  return stored === unsigned;
}

function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const space = body.indexOf(0x20, i);
    if (space === -1) break;
    const len = parseInt(body.subarray(i, space).toString('latin1'), 10);
    if (!Number.isInteger(len) || len <= 0 || i + len > body.length) throw new TarError('bad pax record');
    const rec = body.subarray(space + 1, i + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq > 0) {
      const key = rec.subarray(0, eq).toString('utf8');
      out[key] = rec.subarray(eq + 1).toString(binaryPaxKey(key) ? 'latin1' : 'utf8');
    }
    i += len;
  }
  return out;
}

const TYPES: Record<string, TarType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/** An entry of an archive being read; its body must be consumed (or not) before the next. */
export interface TarItem {
  header: TarHeader;
  /** The entry's data (empty for all but regular files), read from the archive as it goes. */
  body: AsyncIterable<Buffer>;
}

/**
 * The entries of a tar read from its chunks (pax and GNU long-name headers are folded into
 * the entry they describe). Throws TarError when the first block is no tar header, a later
 * header is corrupt, or the stream ends inside an entry. An end of stream on a block boundary
 * where a header would be is taken as the end, as Go's archive/tar (and so ctr) does.
 */
export async function* tarEntries(source: AsyncIterable<Buffer>): AsyncGenerator<TarItem> {
  const pull = new Pull(source[Symbol.asyncIterator]());
  let global: Record<string, string> = {};
  let pending: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  const readBody = async (size: number, what: string): Promise<Buffer> => {
    const body = await pull.take(size);
    if (body.length < size) throw new TarError(`truncated: ends inside ${what}`);
    await pull.take(padding(size).length);
    return body;
  };
  for (;;) {
    const at = pull.offset;
    const block = await pull.take(BLOCK);
    if (block.length === 0) return;
    if (block.length < BLOCK)
      throw new TarError(at === 0 ? 'not a tar archive' : `truncated: ends inside the header at byte ${at}`);
    if (block.every((x) => x === 0)) return;
    if (!isHeaderBlock(block))
      throw new TarError(at === 0 ? 'not a tar archive' : `corrupt tar header at byte ${at}`);
    const flag = String.fromCharCode(block[156] ?? 0);
    const size = numeric(block, 124, 12);
    if (flag === 'x' || flag === 'g') {
      const rec = parsePax(await readBody(size, 'a pax header'));
      if (flag === 'g') global = { ...global, ...rec };
      else pending = { ...pending, ...rec };
      continue;
    }
    if (flag === 'L' || flag === 'K') {
      const body = (await readBody(size, 'a long-name header')).toString('utf8').replace(/\0+$/, '');
      if (flag === 'L') longName = body;
      else longLink = body;
      continue;
    }
    const pax = { ...global, ...pending };
    const prefix = field(block, 345, 155);
    const ustarName = prefix ? `${prefix}/${field(block, 0, 100)}` : field(block, 0, 100);
    const header: TarHeader = {
      path: pax['path'] ?? longName ?? ustarName,
      type: TYPES[flag] ?? 'other',
      mode: numeric(block, 100, 8) & 0o7777,
      uid: pax['uid'] !== undefined ? Number(pax['uid']) : numeric(block, 108, 8),
      gid: pax['gid'] !== undefined ? Number(pax['gid']) : numeric(block, 116, 8),
      size: pax['size'] !== undefined ? Number(pax['size']) : size,
      mtime: pax['mtime'] !== undefined ? Math.floor(Number(pax['mtime'])) : numeric(block, 136, 12),
      linkname: pax['linkpath'] ?? longLink ?? field(block, 157, 100),
      uname: pax['uname'] ?? field(block, 265, 32),
      gname: pax['gname'] ?? field(block, 297, 32),
      pax,
    };
    pending = {};
    longName = undefined;
    longLink = undefined;
    // Only regular files (and unknown types) carry data; a hardlink's size field is ignored.
    const dataSize = header.type === 'file' || header.type === 'other' ? header.size : 0;
    let left = dataSize;
    const next = async (): Promise<Buffer> => {
      const chunk = await pull.some(left);
      if (chunk.length === 0)
        throw new TarError(`truncated: ends inside ${header.path} (${dataSize - left} of ${dataSize} bytes)`);
      left -= chunk.length;
      return chunk;
    };
    const body: AsyncIterable<Buffer> = {
      async *[Symbol.asyncIterator]() {
        while (left > 0) yield await next();
      },
    };
    yield { header, body };
    while (left > 0) await next();
    const pad = padding(dataSize).length;
    if (pad > 0 && (await pull.take(pad)).length < pad)
      throw new TarError(`truncated: ends after ${header.path}`);
  }
}

/** All of a body, for entries known to be small. */
export async function readAll(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(c);
  return Buffer.concat(parts);
}
