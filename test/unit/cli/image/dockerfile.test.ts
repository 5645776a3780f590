/**
 * The Dockerfile is where the Kosmos image is described; the builder reads it. These tests
 * hold the reader to Docker's syntax and make every instruction it cannot reproduce an
 * error naming the line, so the Dockerfile and the built image cannot silently drift.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dockerignore, envPairs, parseDockerfile } from '../../../../src/cli/image/dockerfile.js';
import { BASE_IMAGES, kosmosImageConfig, kosmosRootfs } from '../../../../src/cli/image/images.js';
import { kosmosImageSpec } from '../../../../src/cli/image/kosmos-spec.js';

const DOCKERFILE = readFileSync(new URL('../../../../Dockerfile', import.meta.url), 'utf8');
const specOf = (text: string) => kosmosImageSpec(parseDockerfile(text));

/** The last stage's lines of one instruction, read with nothing but a regular expression. */
function finalStage(keyword: string): string[] {
  const last = DOCKERFILE.slice(DOCKERFILE.lastIndexOf('\nFROM '));
  return [...last.matchAll(new RegExp(`^${keyword} (.*)$`, 'gm'))].map((m) => (m[1] as string).trim());
}

describe('Dockerfile reader', () => {
  it('GIVEN continuations, comments inside them, flags and JSON form THEN instructions are read as Docker reads them', () => {
    const [build, final] = parseDockerfile(
      [
        '# syntax=docker/dockerfile:1',
        'FROM node:24-slim AS build',
        'RUN a \\',
        '  # a comment inside the continuation',
        '  && b',
        'FROM node:24-slim',
        'COPY --from=build /src/dist ./dist',
        'ENTRYPOINT ["node", "x.js"]',
        'CMD node x.js',
      ].join('\n'),
    );
    expect(build).toMatchObject({ name: 'build', from: 'node:24-slim', line: 2 });
    expect(build!.instructions[0]).toMatchObject({ keyword: 'RUN', args: 'a && b', line: 3 });
    expect(final!.instructions.map((i) => [i.keyword, i.flags, i.json ?? i.args])).toEqual([
      ['COPY', { from: 'build' }, '/src/dist ./dist'],
      ['ENTRYPOINT', {}, ['node', 'x.js']],
      ['CMD', {}, 'node x.js'],
    ]);
  });

  it.each([
    [
      'ENV A=1 B="two words" C=\'x y\'',
      [
        ['A', '1'],
        ['B', 'two words'],
        ['C', 'x y'],
      ],
    ],
    ['ENV LEGACY some value', [['LEGACY', 'some value']]],
    ['ENV ESCAPED=a\\ b', [['ESCAPED', 'a b']]],
  ])('GIVEN %s THEN the pairs are %j', (line, pairs) => {
    const ins = parseDockerfile(`FROM x\n${line}`)[0]!.instructions[0]!;
    expect(envPairs(ins)).toEqual(pairs);
  });

  it("GIVEN the project's Dockerfile THEN the spec has what its final stage says (read here independently)", () => {
    const spec = specOf(DOCKERFILE);
    const config = kosmosImageConfig(spec, 'v24.0.0');
    expect(spec.base).toBe(DOCKERFILE.slice(DOCKERFILE.lastIndexOf('\nFROM ') + 6).split('\n')[0]);
    expect(config.User).toBe(finalStage('USER').pop());
    expect(config.Entrypoint).toEqual(JSON.parse(finalStage('ENTRYPOINT').pop()!));
    expect(config.Cmd).toBeUndefined();
    expect(config.WorkingDir).toBe(finalStage('WORKDIR').pop());
    for (const env of finalStage('ENV')) expect(config.Env).toContain(env);
    expect(config.Env).toContain('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    // Every COPY destination, resolved against the WORKDIR.
    expect(spec.copies.map((c) => c.dest)).toEqual(
      finalStage('COPY').map((c) => {
        const dest = c.split(/\s+/).pop()!;
        return dest === './' ? '/app/' : `/app/${dest.replace(/^\.\//, '')}`;
      }),
    );
    const installed = /apt-get install ([^&]*)/
      .exec(DOCKERFILE)![1]!
      .split(/\s+/)
      .filter((w) => /^[a-z0-9][a-z0-9+.-]*$/.test(w));
    expect(installed.length).toBeGreaterThan(0);
    expect(kosmosRootfs(spec, BASE_IMAGES[spec.base]!).packages).toEqual(expect.arrayContaining(installed));
    expect(spec.npmCi?.dir).toBe('/app');
  });

  it('GIVEN the Dockerfile changes its USER, ENV, packages or ENTRYPOINT THEN the spec follows', () => {
    const edited = DOCKERFILE.replace('USER 1000', 'USER 1234')
      .replace('ENV NODE_ENV=production', 'ENV NODE_ENV=production EXTRA=1')
      .replace('iptables iproute2', 'iptables iproute2 conntrack')
      .replace(
        'ENTRYPOINT ["node", "/app/dist/cli/main.js"]',
        'ENTRYPOINT ["node", "/app/dist/other.js"]\nCMD ["--help"]',
      );
    const config = kosmosImageConfig(specOf(edited), 'v24.0.0');
    expect(config).toMatchObject({
      User: '1234',
      Entrypoint: ['node', '/app/dist/other.js'],
      Cmd: ['--help'],
    });
    expect(config.Env).toContain('EXTRA=1');
    expect(kosmosRootfs(specOf(edited), BASE_IMAGES['node:24-slim']!).packages).toContain('conntrack');
  });

  it.each([
    ['HEALTHCHECK CMD true', 'this instruction is not supported by the image builder'],
    ['ADD https://example.com/x /x', 'this instruction is not supported by the image builder'],
    ['RUN curl -sL https://example.com | sh', 'the builder cannot run "curl -sL https://example.com | sh"'],
    ['RUN apt-get install -y conntrack', 'apt-get install needs --no-install-recommends'],
    ['ENTRYPOINT node /app/dist/cli/main.js', 'only the JSON (exec) form is supported'],
    ['COPY --chown=1000:1000 deploy ./deploy', 'COPY --chown is not supported'],
    ['COPY --from=build /src/node_modules ./node_modules', 'the builder can copy only /src/dist'],
    ['COPY ../secrets ./', 'must be a plain path inside the repository'],
    ['ENV A=$HOME', 'variable substitution is not supported'],
  ])('GIVEN the final stage has `%s` THEN the builder refuses it, naming the line', (line, why) => {
    const text = DOCKERFILE.replace('USER 1000', `${line}\nUSER 1000`);
    const at = text.split('\n').indexOf(line) + 1;
    expect(() => specOf(text)).toThrow(`Dockerfile:${at}:`);
    expect(() => specOf(text)).toThrow(why);
  });
});

describe('.dockerignore', () => {
  const ignored = dockerignore(
    ['.git', 'node_modules', '*.log', 'docs/**/*.png', '!docs/keep.png', '# c'].join('\n'),
  );
  it.each([
    ['.git/config', true],
    ['node_modules/x/y.js', true],
    ['build.log', true],
    ['deploy/build.log', false],
    ['docs/a/b.png', true],
    ['docs/keep.png', false],
    ['deploy/kosmos/00.yaml', false],
  ])('%s is ignored: %s', (path, yes) => expect(ignored(path)).toBe(yes));
});
