/**
 * Builds the images of images.ts into OCI archives in the cache: once per key of their inputs
 * (a second build of the same inputs only finds the archive), and layer by layer (an edit to
 * dist/ remakes only the Kosmos image's last layer).
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { UserError } from '../../common/errors.js';
import { projectRoot } from '../paths.js';
import { imageCache, keyOf, kosmosCacheDir, writeFileAtomic, type ImageCache } from './cache.js';
import { BUILDER_VERSION, IMAGE_NAMES, RECIPES, type BuildContext, type ImageName } from './images.js';
import { cachedLayer, writeLayer, type LayerRecord } from './layers.js';
import { writeOciArchive } from './oci.js';
import { parseReference } from './reference.js';

export interface BuiltImage {
  name: ImageName;
  /** The full reference the archive names (io.containerd.image.name). */
  ref: string;
  /** The OCI archive. */
  archive: string;
  /** The config digest: the image id containerd and the kubelet report. */
  id: string;
  manifestDigest: string;
  /** Bytes of the archive (the gzip layers, config and manifest). */
  size: number;
  key: string;
  layers: LayerRecord[];
  builtAt: string;
  /** True when this call found it built already. */
  cached: boolean;
}

export interface BuildOptions {
  /** The repository root (default: this package's). */
  root?: string;
  /** The images cache (default: <kosmos cache>/images). */
  cacheDir?: string;
  progress?: (line: string) => void;
  /** Ignore cached layers and archives (e.g. for Debian's security updates). */
  rebuild?: boolean;
  /** Builds of one image kept besides the newest (older archives are deleted). */
  keep?: number;
}

const cacheOf = (o: BuildOptions): ImageCache => imageCache(o.cacheDir ?? join(kosmosCacheDir(), 'images'));

export function isImageName(name: string): name is ImageName {
  return (IMAGE_NAMES as readonly string[]).includes(name);
}

function readRecord(file: string): BuiltImage | undefined {
  try {
    const rec = JSON.parse(readFileSync(file, 'utf8')) as BuiltImage;
    if (existsSync(rec.archive) && statSync(rec.archive).size === rec.size) return rec;
  } catch {
    // Missing or unreadable: not built.
  }
  return undefined;
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

/** Points <name>.oci.tar at the newest archive of an image (a stable path for people). */
function linkLatest(cache: ImageCache, name: string, archive: string): void {
  const link = join(cache.root, `${name}.oci.tar`);
  const tmp = `${link}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  symlinkSync(basename(archive), tmp);
  renameSync(tmp, link);
}

/** Deletes all but the newest `keep + 1` builds of an image, and layers no build uses. */
function prune(cache: ImageCache, name: ImageName, keep: number): void {
  const dir = join(cache.root, 'builds');
  const mine = readdirSync(dir)
    .filter((f) => f.startsWith(`${name}-`) && f.endsWith('.json'))
    .map((f) => ({ file: join(dir, f), rec: readRecord(join(dir, f)) }))
    .sort((a, b) => (b.rec?.builtAt ?? '').localeCompare(a.rec?.builtAt ?? ''));
  for (const old of mine.slice(keep + 1)) {
    if (old.rec) rmSync(old.rec.archive, { force: true });
    rmSync(old.file, { force: true });
  }
  const used = new Set<string>();
  for (const f of readdirSync(dir))
    for (const l of readRecord(join(dir, f))?.layers ?? []) used.add(l.digest);
  const layersDir = join(cache.root, 'layers');
  // A layer younger than an hour may belong to a build running now; it is left for next time.
  const settled = Date.now() - 3600_000;
  for (const f of existsSync(layersDir) ? readdirSync(layersDir) : []) {
    const file = join(layersDir, f);
    try {
      const rec = JSON.parse(readFileSync(file, 'utf8')) as LayerRecord;
      if (used.has(rec.digest) || statSync(file).mtimeMs > settled) continue;
      rmSync(cache.blob(rec.digest), { force: true });
      rmSync(file, { force: true });
    } catch {
      rmSync(file, { force: true });
    }
  }
}

/** Builds one image (or finds it built) and returns where its archive is. */
export async function buildImage(name: ImageName, o: BuildOptions = {}): Promise<BuiltImage> {
  const recipe = RECIPES[name];
  const cache = cacheOf(o);
  const progress = o.progress ?? (() => {});
  const scratches: string[] = [];
  const ctx: BuildContext = {
    root: o.root ?? projectRoot(),
    cache,
    progress,
    scratch: () => {
      const d = cache.scratch();
      mkdirSync(d, { recursive: true });
      scratches.push(d);
      return d;
    },
  };
  try {
    const plan = await recipe.plan(ctx);
    const key = keyOf({
      builder: BUILDER_VERSION,
      ref: recipe.ref,
      config: plan.config,
      layers: plan.layers.map((l) => l.key),
      inputs: plan.inputs ?? null,
    });
    const found = o.rebuild ? undefined : readRecord(cache.build(name, key));
    if (found) {
      if (readRecord(cache.latest(name))?.key !== key) {
        writeFileAtomic(cache.latest(name), JSON.stringify(found, null, 2));
        linkLatest(cache, name, found.archive);
      }
      return { ...found, cached: true };
    }
    const started = Date.now();
    const layers: LayerRecord[] = [];
    for (const [i, l] of plan.layers.entries()) {
      let rec = o.rebuild ? undefined : cachedLayer(cache, l.key);
      if (!rec) {
        const t = Date.now();
        progress(`${name}: layer ${i + 1}/${plan.layers.length}: ${l.comment}`);
        const made = await l.make(ctx);
        rec = await writeLayer(cache, l.key, l.comment, made.tar, () =>
          made.packages ? { packages: made.packages() } : {},
        );
        progress(
          `${name}: layer ${i + 1}/${plan.layers.length}: ${mb(rec.size)} gzipped (${((Date.now() - t) / 1000).toFixed(1)} s)`,
        );
      }
      layers.push(rec);
    }
    plan.check?.(layers);
    const archive = cache.archive(name, parseReference(recipe.ref).tag, key);
    progress(`${name}: writing ${archive}`);
    const written = await writeOciArchive(archive, {
      ref: recipe.ref,
      config: plan.config,
      layers,
      blobFile: (d) => cache.blob(d),
    });
    const built: BuiltImage = {
      name,
      ref: recipe.ref,
      archive,
      ...written,
      key,
      layers,
      builtAt: new Date().toISOString(),
      cached: false,
    };
    writeFileAtomic(cache.build(name, key), JSON.stringify(built, null, 2));
    writeFileAtomic(cache.latest(name), JSON.stringify(built, null, 2));
    linkLatest(cache, name, archive);
    prune(cache, name, o.keep ?? 1);
    progress(
      `${name}: built ${recipe.ref} (${mb(written.size)}) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    return built;
  } finally {
    for (const d of scratches) rmSync(d, { recursive: true, force: true });
  }
}

/** Builds the named images (all when none is named), one after the other. */
export async function buildImages(
  names: readonly string[] = [],
  o: BuildOptions = {},
): Promise<BuiltImage[]> {
  const unknown = names.filter((n) => !isImageName(n));
  if (unknown.length > 0)
    throw new UserError(
      `unknown image ${unknown.map((n) => `"${n}"`).join(', ')}: known images are ${IMAGE_NAMES.join(', ')}`,
    );
  const out: BuiltImage[] = [];
  for (const n of names.length > 0 ? (names as ImageName[]) : IMAGE_NAMES) out.push(await buildImage(n, o));
  return out;
}

/** Every image with its newest build, if any (nothing is built or looked up beyond the cache). */
export function listImages(
  o: Pick<BuildOptions, 'cacheDir'> = {},
): { name: ImageName; ref: string; built?: BuiltImage }[] {
  const cache = cacheOf(o);
  return IMAGE_NAMES.map((name) => {
    const built = readRecord(cache.latest(name));
    return built ? { name, ref: RECIPES[name].ref, built } : { name, ref: RECIPES[name].ref };
  });
}
