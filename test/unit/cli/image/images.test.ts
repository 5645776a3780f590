/**
 * The image builder's plan of the Kosmos image agrees with the Dockerfile (config and what is
 * inside), and every image name is the one the manifests, the chart and the scripts use.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { imageCache } from '../../../../src/cli/image/cache.js';
import { parseDockerfile } from '../../../../src/cli/image/dockerfile.js';
import {
  COREDNS_VERSION,
  KOSMOS_IMAGE,
  NGINX_IMAGE,
  RECIPES,
  REDIS_IMAGE,
  SCHEDULER_IMAGE,
  nativePackages,
  type BuildContext,
  type ImagePlan,
} from '../../../../src/cli/image/images.js';
import { kosmosImageSpec } from '../../../../src/cli/image/kosmos-spec.js';
import { normalizeReference } from '../../../../src/cli/image/reference.js';
import { readAll, tarEntries } from '../../../../src/cli/image/tar.js';
import {
  DEFAULT_IMAGE,
  DEFAULT_REDIS_IMAGE,
  DEFAULT_SCHEDULER_IMAGE,
} from '../../../../src/cli/install/values.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const text = (p: string) => readFileSync(join(root, p), 'utf8');
let dir: string;
let plan: ImagePlan;
let ctx: BuildContext;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kosmos-images-'));
  ctx = {
    root,
    cache: imageCache(join(dir, 'images')),
    progress: () => {},
    scratch: () => {
      const d = join(dir, `s${Math.random()}`);
      mkdirSync(d);
      return d;
    },
  };
  plan = await RECIPES.kosmos.plan(ctx);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the Kosmos image plan', () => {
  it("GIVEN the Dockerfile THEN the image config has its ENTRYPOINT, USER, WORKDIR and ENV, and node:24-slim's PATH", () => {
    const spec = kosmosImageSpec(parseDockerfile(text('Dockerfile')));
    expect(plan.config.Entrypoint).toEqual(spec.entrypoint);
    expect(plan.config.User).toBe(spec.user);
    expect(plan.config.WorkingDir).toBe(spec.workdir);
    for (const [k, v] of spec.env) expect(plan.config.Env).toContain(`${k}=${v}`);
    expect(plan.config.Env).toContain('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(plan.config.Env.find((e) => e.startsWith('NODE_VERSION='))).toMatch(/^NODE_VERSION=24\./);
  });

  it('GIVEN the Dockerfile THEN the layers are Debian with its packages, node at /usr/local/bin, the npm install and the COPYs', async () => {
    const [debian, node, npm, app] = plan.layers;
    expect(debian!.rootfs?.packages).toEqual(expect.arrayContaining(['iptables', 'iproute2', 'libstdc++6']));
    expect(debian!.rootfs?.users).toEqual([expect.objectContaining({ name: 'node', uid: 1000, gid: 1000 })]);
    expect(node!.comment).toMatch(/^node v24\.\d+\.\d+ at \/usr\/local\/bin\/node$/);
    expect(npm!.comment).toContain('RUN npm ci --omit=dev');
    // The last layer is cheap to make: read it and look inside.
    const paths: string[] = [];
    let main = '';
    for await (const { header, body } of tarEntries((await app!.make(ctx)).tar)) {
      paths.push(header.path);
      if (header.path === 'app/dist/cli/main.js') main = (await readAll(body)).toString();
    }
    expect(main).toContain('buildProgram');
    expect(paths).toEqual(
      expect.arrayContaining(['app/', 'app/deploy/kosmos/20-redis.yaml', 'app/config/scheduler-config.yaml']),
    );
    expect(paths.some((p) => p.startsWith('app/node_modules'))).toBe(false);
  });

  it('GIVEN the same repository THEN planning twice gives the same layer keys (so a second build is a cache hit)', async () => {
    const again = await RECIPES.kosmos.plan(ctx);
    expect(again.layers.map((l) => l.key)).toEqual(plan.layers.map((l) => l.key));
  });
});

describe('image names', () => {
  it('the Kosmos, scheduler and Redis images are the install defaults, fully qualified', () => {
    expect(KOSMOS_IMAGE).toBe(normalizeReference(DEFAULT_IMAGE));
    expect(SCHEDULER_IMAGE).toBe(normalizeReference(DEFAULT_SCHEDULER_IMAGE));
    expect(REDIS_IMAGE).toBe(normalizeReference(DEFAULT_REDIS_IMAGE));
  });

  it("the chart's values name the same images", () => {
    const values = parse(text('charts/kosmos/values.yaml')) as {
      image: string;
      schedulerImage: string;
      redis: { image: string };
    };
    expect(normalizeReference(values.image)).toBe(KOSMOS_IMAGE);
    expect(normalizeReference(values.schedulerImage)).toBe(SCHEDULER_IMAGE);
    expect(normalizeReference(values.redis.image)).toBe(REDIS_IMAGE);
  });

  it('deploy/examples/nginx.yaml runs the nginx image the builder makes', () => {
    const doc = parse(text('deploy/examples/nginx.yaml')) as {
      spec: { template: { spec: { containers: { image: string }[] } } };
    };
    expect(normalizeReference(doc.spec.template.spec.containers[0]!.image)).toBe(NGINX_IMAGE);
  });

  it('scripts/build-coredns.sh builds the CoreDNS version the image is tagged with', () => {
    expect(/KOSMOS_COREDNS_VERSION:-(v[\d.]+)\}/.exec(text('scripts/build-coredns.sh'))?.[1]).toBe(
      COREDNS_VERSION,
    );
  });
});

describe('native addons in production node_modules', () => {
  it('GIVEN packages with a .node file or binding.gyp, scoped or nested THEN each is found once, others not', () => {
    const nm = join(dir, 'nm', 'node_modules');
    const files: Record<string, string> = {
      'netlink/prebuilds/linux-x64/node.napi.node': '',
      'netlink/binding.gyp': '',
      '@scope/addon/build/Release/a.node': '',
      'plain/index.js': '',
      'outer/node_modules/inner/binding.gyp': '',
      '@scope/pure/index.js': '',
    };
    for (const [p, c] of Object.entries(files)) {
      mkdirSync(join(nm, p, '..'), { recursive: true });
      writeFileSync(join(nm, p), c);
    }
    expect(nativePackages(nm)).toEqual(['@scope/addon', 'inner', 'netlink']);
  });
});
