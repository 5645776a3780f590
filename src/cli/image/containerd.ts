/**
 * Loads an image archive into a containerd with its `ctr` (no registry): the archive is
 * inspected first (a bad file is refused with one line, before containerd sees it), then
 * imported and unpacked, and the names containerd now has for it are read back.
 */
import { execFile } from 'node:child_process';
import { KosmosError, UserError } from '../../common/errors.js';
import { inspectImageArchive, type ArchiveInfo } from './archive.js';

/** The namespace the CRI plugin (so the kubelet) sees images in. */
export const CRI_NAMESPACE = 'k8s.io';

export interface ImportOptions {
  /** The ctr binary. */
  ctr: string;
  /** containerd's socket (ctr -a). */
  socket: string;
  file: string;
  namespace?: string;
  /** ctr --base-name: names tag-only OCI entries `<baseName>:<tag>`, and keeps only names under it. */
  baseName?: string;
  timeoutMs?: number;
}

export interface ImportResult {
  /** The names the imported images have in containerd. */
  refs: string[];
  archive: ArchiveInfo;
}

function run(ctr: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(ctr, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const said = `${stderr}`.trim().split('\n').filter(Boolean).pop() ?? '';
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${ctr} not found` : said || err.message;
      reject(new KosmosError(`ctr ${args.slice(4).join(' ')}: ${why.replace(/^ctr: /, '')}`));
    });
  });
}

/** Whether `ref` is under `prefix` as ctr decides it (prefix, then `/`, `:` or `@`, or equal). */
function underPrefix(ref: string, prefix: string): boolean {
  return ref === prefix || (ref.startsWith(prefix) && '/:@'.includes(ref[prefix.length] ?? ''));
}

/**
 * The names ctr gives an archive's images: full references as they are (with a base name,
 * only those under it), tags as `<baseName>:<tag>`; a tag without a base name gets ctr's
 * `import-<date>` prefix, matched by `pattern`.
 */
export function expectedNames(info: ArchiveInfo, baseName?: string): { names: string[]; patterns: RegExp[] } {
  const names: string[] = [];
  const patterns: RegExp[] = [];
  for (const img of info.images)
    for (const ref of img.refs) {
      const full = /[/:@]/.test(ref);
      if (full && (!baseName || underPrefix(ref, baseName))) names.push(ref);
      else if (!full && baseName) names.push(`${baseName}:${ref}`);
      else if (!full)
        patterns.push(new RegExp(`^import-\\d{4}-\\d{2}-\\d{2}:${ref.replace(/[.]/g, '\\.')}$`));
    }
  return { names: [...new Set(names)], patterns };
}

/**
 * Imports an archive into a containerd (`ctr -a SOCK -n k8s.io images import`), keeping every
 * image already there. Returns the names the archive's images have now; fails with ctr's own
 * message, or when the archive names no image ctr could keep.
 */
export async function importImageArchive(o: ImportOptions): Promise<ImportResult> {
  const archive = await inspectImageArchive(o.file);
  const ns = o.namespace ?? CRI_NAMESPACE;
  const { names, patterns } = expectedNames(archive, o.baseName);
  if (names.length === 0 && patterns.length === 0)
    throw new UserError(
      `${o.file}: its images have no name${o.baseName ? ` under --base-name ${o.baseName}` : ''}; nothing would be imported`,
    );
  const base = ['-a', o.socket, '-n', ns];
  const timeout = o.timeoutMs ?? 300_000;
  await run(
    o.ctr,
    [...base, 'images', 'import', ...(o.baseName ? ['--base-name', o.baseName] : []), o.file],
    timeout,
  );
  const have = new Set(
    (await run(o.ctr, [...base, 'images', 'ls', '-q'], 60_000)).split('\n').filter(Boolean),
  );
  const missing = names.filter((n) => !have.has(n));
  if (missing.length > 0)
    throw new KosmosError(
      `ctr imported ${o.file} but containerd has no image ${missing.join(', ')} afterwards`,
    );
  const matched = [...have].filter((h) => patterns.some((p) => p.test(h)));
  return { refs: [...names, ...matched], archive };
}
