/**
 * Encoding and decoding of nested netlink attributes (IFLA_LINKINFO / IFLA_INFO_DATA),
 * which the `netlink` package leaves as raw buffers.
 */
export interface Attr {
  type: number;
  value: Buffer;
}

const NLA_HDRLEN = 4;
const align = (n: number) => (n + 3) & ~3;

export function encodeAttrs(attrs: readonly Attr[]): Buffer {
  const parts: Buffer[] = [];
  for (const a of attrs) {
    const len = NLA_HDRLEN + a.value.length;
    const buf = Buffer.alloc(align(len));
    buf.writeUInt16LE(len, 0);
    buf.writeUInt16LE(a.type, 2);
    a.value.copy(buf, NLA_HDRLEN);
    parts.push(buf);
  }
  return Buffer.concat(parts);
}

export function decodeAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = 0;
  while (off + NLA_HDRLEN <= buf.length) {
    const len = buf.readUInt16LE(off);
    // NLA_F_NESTED / NLA_F_NET_BYTEORDER live in the top two bits of the type.
    const type = buf.readUInt16LE(off + 2) & 0x3fff;
    if (len < NLA_HDRLEN || off + len > buf.length) break;
    out.set(type, buf.subarray(off + NLA_HDRLEN, off + len));
    off += align(len);
  }
  return out;
}

export const u8 = (n: number) => Buffer.from([n & 0xff]);
export const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
};
export const be16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
};
export const cstr = (s: string) => Buffer.from(`${s}\0`, 'utf8');
