/**
 * Content equality for objects that went through an apiserver. The apiserver returns JSON
 * with its keys sorted (Go maps) and may drop empty lists, so comparing JSON.stringify output
 * against what we computed calls every object changed and rewrites it on every resync.
 */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x === undefined || x === null || (Array.isArray(x) && x.length === 0)) continue;
      out[k] = canonical(x);
    }
    return out;
  }
  return v;
}

/** Same content, ignoring key order, undefined/null fields and empty lists. */
export function sameContent(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a ?? {})) === JSON.stringify(canonical(b ?? {}));
}
