/**
 * A Dockerfile reader, for the image builder to take the Kosmos image's contents and config
 * from the Dockerfile itself (so the two cannot drift). It knows the syntax Docker documents
 * for instructions, line continuations, comments, flags, JSON (exec) form and ENV pairs; it
 * does not evaluate ARG substitution or heredocs, and says so when it meets them.
 */
import { UserError } from '../../common/errors.js';

export interface Instruction {
  /** 1-based line of the instruction's first line. */
  line: number;
  /** Upper case: FROM, RUN, COPY, ... */
  keyword: string;
  /** `--name=value` flags before the arguments (COPY --from, RUN --mount, ...). */
  flags: Record<string, string>;
  /** The arguments after the flags, continuation lines joined with a space. */
  args: string;
  /** The arguments in JSON (exec) form, when written so. */
  json?: string[];
}

export interface Stage {
  /** `AS name`, if any. */
  name?: string;
  /** The image of `FROM`. */
  from: string;
  line: number;
  instructions: Instruction[];
}

const fail = (file: string, line: number, why: string) => new UserError(`${file}:${line}: ${why}`);

/** The logical lines of a Dockerfile: comments dropped, continuations joined. */
function logicalLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let current: { line: number; text: string } | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim();
    // A comment line (also inside a continuation, as Docker strips them there too).
    if (trimmed.startsWith('#')) return;
    if (!current && trimmed === '') return;
    const continued = /\\\s*$/.test(raw);
    const body = continued ? raw.replace(/\\\s*$/, '') : raw;
    if (current) current.text += ` ${body.trim()}`;
    else current = { line: i + 1, text: body.trim() };
    if (!continued) {
      out.push(current);
      current = undefined;
    }
  });
  if (current) out.push(current);
  return out;
}

/** Shell-like words: whitespace-separated, with '…' and "…" quoting and backslash escapes. */
export function shellWords(s: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) word += s[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      word += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote`);
  if (inWord) words.push(word);
  return words;
}

function parseInstruction(file: string, line: number, text: string): Instruction {
  const m = /^(\S+)\s*(.*)$/s.exec(text);
  if (!m) throw fail(file, line, 'empty instruction');
  const keyword = (m[1] as string).toUpperCase();
  let rest = m[2] as string;
  if (rest.includes('<<'))
    throw fail(file, line, `${keyword}: heredocs are not supported by the image builder`);
  const flags: Record<string, string> = {};
  for (;;) {
    const f = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest);
    if (!f || keyword === 'HEALTHCHECK') break;
    flags[f[1] as string] = f[2] ?? 'true';
    rest = rest.slice(f[0].length);
  }
  const out: Instruction = { line, keyword, flags, args: rest.trim() };
  if (out.args.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(out.args);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) out.json = parsed;
    } catch {
      // Not JSON: Docker then takes the arguments in shell form.
    }
  }
  return out;
}

/** Instructions whose arguments Docker expands `$VAR` in (RUN leaves it to the shell). */
const SUBSTITUTING = new Set([
  'FROM',
  'ENV',
  'WORKDIR',
  'COPY',
  'ADD',
  'USER',
  'EXPOSE',
  'LABEL',
  'VOLUME',
  'STOPSIGNAL',
]);

/** The stages of a Dockerfile, each with its instructions after FROM. */
export function parseDockerfile(text: string, file = 'Dockerfile'): Stage[] {
  const stages: Stage[] = [];
  for (const l of logicalLines(text)) {
    const ins = parseInstruction(file, l.line, l.text);
    if (ins.keyword === 'ARG' && stages.length === 0) continue;
    if (SUBSTITUTING.has(ins.keyword) && ins.args.includes('$'))
      throw fail(file, l.line, `${ins.keyword}: variable substitution is not supported by the image builder`);
    if (ins.keyword === 'FROM') {
      const words = ins.args.split(/\s+/);
      const stage: Stage = { from: words[0] ?? '', line: l.line, instructions: [] };
      if (words.length === 3 && words[1]?.toUpperCase() === 'AS') stage.name = words[2] as string;
      else if (words.length !== 1 || !words[0])
        throw fail(file, l.line, `FROM ${ins.args}: expected FROM <image> [AS <name>]`);
      stages.push(stage);
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) throw fail(file, l.line, `${ins.keyword} before the first FROM`);
    stage.instructions.push(ins);
  }
  if (stages.length === 0) throw new UserError(`${file}: no FROM instruction`);
  return stages;
}

/** `ENV a=1 b="two words"` or the legacy `ENV a 1`: the pairs in order. */
export function envPairs(ins: Instruction, file = 'Dockerfile'): [string, string][] {
  let words: string[];
  try {
    words = shellWords(ins.args);
  } catch (e) {
    throw fail(file, ins.line, `ENV: ${(e as Error).message}`);
  }
  if (words.length >= 1 && !(words[0] as string).includes('=')) {
    const legacy = /^(\S+)\s+(.*)$/s.exec(ins.args);
    if (!legacy) throw fail(file, ins.line, 'ENV: expected ENV <key>=<value> ...');
    return [[legacy[1] as string, legacy[2] as string]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw fail(file, ins.line, `ENV: "${w}" is not <key>=<value>`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/** A glob of .dockerignore (Go's filepath.Match plus `**`) as a regular expression. */
function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Whether a path of the build context (relative to its root) is left out by .dockerignore:
 * the last pattern matching the path or one of its parent folders decides (`!` keeps).
 */
export function dockerignore(text: string): (rel: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const keep = l.startsWith('!');
      const p = posixClean(keep ? l.slice(1).trim() : l);
      return { keep, re: globRegExp(p) };
    });
  return (rel) => {
    const parts = posixClean(rel).split('/');
    let ignored = false;
    for (const r of rules)
      for (let i = 1; i <= parts.length; i++)
        if (r.re.test(parts.slice(0, i).join('/'))) {
          ignored = !r.keep;
          break;
        }
    return ignored;
  };
}

const posixClean = (p: string) => p.replace(/^\.?\//, '').replace(/\/+$/, '');
