/**
 * What the Dockerfile's final stage says the Kosmos image is: its base, the files it copies
 * and where, the npm install, the Debian packages, and ENV / WORKDIR / USER / ENTRYPOINT.
 * The image builder makes the image from this, so an edit to the Dockerfile changes the
 * built image too; an instruction the builder cannot reproduce is refused, naming its line.
 */
import { posix } from 'node:path';
import { UserError } from '../../common/errors.js';
import { envPairs, shellWords, type Instruction, type Stage } from './dockerfile.js';

export interface CopyStep {
  line: number;
  /** context: files of the repository; dist: the build stage's compiled output (local dist/). */
  from: 'context' | 'dist';
  /** Paths in the context (for `dist`, relative to dist/: `.`). */
  sources: string[];
  /** Absolute; a trailing `/` means "into this folder". */
  dest: string;
}

export interface KosmosImageSpec {
  /** The final stage's FROM. */
  base: string;
  env: [string, string][];
  workdir: string;
  user?: string;
  entrypoint?: string[];
  cmd?: string[];
  copies: CopyStep[];
  /** `npm ci --omit=dev` in this folder, at this line. */
  npmCi?: { dir: string; line: number };
  /** `apt-get install --no-install-recommends` packages. */
  aptPackages: string[];
}

const fail = (file: string, ins: Instruction, why: string) =>
  new UserError(
    `${file}:${ins.line}: ${ins.keyword} ${ins.args}: ${why} (teach src/cli/image/kosmos-spec.ts, or change the Dockerfile)`,
  );

function stageWorkdir(stage: Stage): string {
  let wd = '/';
  for (const i of stage.instructions) if (i.keyword === 'WORKDIR') wd = posix.resolve(wd, i.args);
  return wd;
}

/** The commands of a RUN line joined by `&&`. */
const commands = (args: string) =>
  args
    .split('&&')
    .map((c) => c.trim())
    .filter(Boolean);

function runStep(file: string, ins: Instruction, workdir: string, spec: KosmosImageSpec): void {
  if (ins.json || Object.keys(ins.flags).length > 0)
    throw fail(file, ins, 'only plain shell-form RUN is supported');
  for (const cmd of commands(ins.args)) {
    let words: string[];
    try {
      words = shellWords(cmd);
    } catch (e) {
      throw fail(file, ins, (e as Error).message);
    }
    const line = words.join(' ');
    if (line === 'npm ci --omit=dev') spec.npmCi = { dir: workdir, line: ins.line };
    else if (
      line === 'npm cache clean --force' ||
      line === 'apt-get update' ||
      line === 'rm -rf /var/lib/apt/lists/*'
    ) {
      // Nothing to do: the builder keeps no npm cache or apt lists in the image.
    } else if (words[0] === 'apt-get' && words[1] === 'install') {
      const flags = words.slice(2).filter((w) => w.startsWith('-'));
      if (!flags.includes('--no-install-recommends'))
        throw fail(
          file,
          ins,
          'apt-get install needs --no-install-recommends (the builder never installs recommends)',
        );
      const unknown = flags.filter(
        (f) => !['-y', '--yes', '-q', '-qq', '--no-install-recommends'].includes(f),
      );
      if (unknown.length > 0)
        throw fail(file, ins, `apt-get install flag ${unknown.join(' ')} is not supported`);
      spec.aptPackages.push(...words.slice(2).filter((w) => !w.startsWith('-')));
    } else throw fail(file, ins, `the builder cannot run "${cmd}"`);
  }
}

/** The Kosmos image as the Dockerfile's last stage describes it. */
export function kosmosImageSpec(stages: Stage[], file = 'Dockerfile'): KosmosImageSpec {
  const final = stages[stages.length - 1] as Stage;
  const spec: KosmosImageSpec = { base: final.from, env: [], workdir: '/', copies: [], aptPackages: [] };
  for (const ins of final.instructions) {
    switch (ins.keyword) {
      case 'ENV':
        spec.env.push(...envPairs(ins, file));
        break;
      case 'WORKDIR':
        spec.workdir = posix.resolve(spec.workdir, ins.args);
        break;
      case 'USER':
        if (!/^\S+$/.test(ins.args)) throw fail(file, ins, 'expected USER <user>[:<group>]');
        spec.user = ins.args;
        break;
      case 'ENTRYPOINT':
      case 'CMD':
        if (!ins.json) throw fail(file, ins, 'only the JSON (exec) form is supported');
        if (ins.keyword === 'ENTRYPOINT') {
          spec.entrypoint = ins.json;
          // As Docker does: an ENTRYPOINT drops the CMD inherited from the base image.
          delete spec.cmd;
        } else spec.cmd = ins.json;
        break;
      case 'RUN':
        runStep(file, ins, spec.workdir, spec);
        break;
      case 'COPY': {
        const unknown = Object.keys(ins.flags).filter((f) => f !== 'from');
        if (unknown.length > 0) throw fail(file, ins, `COPY --${unknown.join(' --')} is not supported`);
        const words = ins.json ?? ins.args.split(/\s+/);
        if (words.length < 2) throw fail(file, ins, 'expected COPY <source>... <dest>');
        const destRaw = words[words.length - 1] as string;
        const sources = words.slice(0, -1);
        const dest =
          posix.resolve(spec.workdir, destRaw) + (destRaw.endsWith('/') && destRaw !== '/' ? '/' : '');
        if (sources.length > 1 && !dest.endsWith('/'))
          throw fail(file, ins, 'several sources need a dest ending in /');
        const from = ins.flags['from'];
        if (from === undefined) {
          for (const s of sources)
            if (s.startsWith('/') || s.split('/').includes('..') || /[*?[]/.test(s))
              throw fail(file, ins, `source ${s} must be a plain path inside the repository`);
          spec.copies.push({ line: ins.line, from: 'context', sources, dest });
          break;
        }
        const stage = stages.find((s) => s.name === from && s !== final);
        if (!stage) throw fail(file, ins, `no stage named ${from}`);
        const compiled = posix.join(stageWorkdir(stage), 'dist');
        const compiles = stage.instructions.some(
          (i) => i.keyword === 'RUN' && /\btsc -p tsconfig\.build\.json\b/.test(i.args),
        );
        if (sources.length !== 1 || sources[0]?.replace(/\/$/, '') !== compiled || !compiles)
          throw fail(
            file,
            ins,
            `the builder can copy only ${compiled} of a stage that runs tsc -p tsconfig.build.json`,
          );
        spec.copies.push({ line: ins.line, from: 'dist', sources: ['.'], dest });
        break;
      }
      default:
        throw fail(file, ins, 'this instruction is not supported by the image builder');
    }
  }
  return spec;
}

/** Where one COPY puts a source: into the dest folder, or as the dest itself. */
export function copyTarget(step: CopyStep, source: string, sourceIsDir: boolean): string {
  if (sourceIsDir) return step.dest.replace(/\/$/, '') || '/';
  return step.dest.endsWith('/') ? posix.join(step.dest, posix.basename(source)) : step.dest;
}
