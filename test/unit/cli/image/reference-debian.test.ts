/**
 * Image references normalised as containerd's CRI resolves them, and the Debian side of the
 * builder: which apt sources it uses, the mmdebstrap command line, the versions it reads.
 */
import { describe, expect, it } from 'vitest';
import {
  debianSources,
  dpkgVersions,
  mmdebstrapArgs,
  upstreamVersion,
  usersScript,
} from '../../../../src/cli/image/debian.js';
import { normalizeReference, parseReference } from '../../../../src/cli/image/reference.js';

describe('image references', () => {
  it.each([
    ['nginx:1.22', 'docker.io/library/nginx:1.22'],
    ['redis', 'docker.io/library/redis:latest'],
    ['bitnami/redis:7.0', 'docker.io/bitnami/redis:7.0'],
    ['ghcr.io/kosmos-io/kosmos-ts:0.1.0', 'ghcr.io/kosmos-io/kosmos-ts:0.1.0'],
    ['localhost:5000/x:1', 'localhost:5000/x:1'],
    ['kosmos.local/pause:3.10', 'kosmos.local/pause:3.10'],
    ['index.docker.io/library/busybox:1', 'docker.io/library/busybox:1'],
    [`x@sha256:${'a'.repeat(64)}`, `docker.io/library/x@sha256:${'a'.repeat(64)}`],
  ])('%s is %s', (ref, full) => expect(normalizeReference(ref)).toBe(full));

  it.each([
    ['Nginx:1', '"Nginx" is not a valid name component'],
    ['nginx:bad tag', 'is not a valid tag'],
    ['x@sha256:123', 'the digest is not sha256'],
  ])('%s is refused: %s', (ref, why) => expect(() => parseReference(ref)).toThrow(why));
});

describe('Debian sources, versions and mmdebstrap', () => {
  it("GIVEN this machine's kind of apt config THEN only the Debian release's own sources are used", () => {
    const deb822 = [
      'Types: deb',
      'URIs: http://deb.debian.org/debian',
      'Suites: bookworm bookworm-updates',
      'Components: main',
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
      '',
      'Types: deb',
      'URIs: http://deb.debian.org/debian-security',
      'Suites: bookworm-security',
      'Components: main',
      '',
      'Types: deb',
      'URIs: https://deb.nodesource.com/node_20.x',
      'Suites: nodistro',
      'Components: main',
    ].join('\n');
    const oneLine =
      'deb [signed-by=/x.gpg] https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n# deb http://old bookworm main\ndeb http://mirror.example/debian/ bookworm main contrib';
    expect(debianSources([deb822, oneLine])).toEqual([
      'deb http://deb.debian.org/debian bookworm main',
      'deb http://deb.debian.org/debian bookworm-updates main',
      'deb http://deb.debian.org/debian-security bookworm-security main',
      'deb http://mirror.example/debian bookworm main',
    ]);
  });

  it('GIVEN a dpkg status THEN installed packages and their versions are read, removed ones not', () => {
    const status = [
      'Package: redis-server\nStatus: install ok installed\nVersion: 5:7.0.15-1~deb12u10',
      'Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0',
      'Package: nginx\nStatus: install ok installed\nVersion: 1.22.1-9+deb12u12',
    ].join('\n\n');
    expect(dpkgVersions(status)).toEqual({
      'redis-server': '5:7.0.15-1~deb12u10',
      nginx: '1.22.1-9+deb12u12',
    });
    expect(upstreamVersion('5:7.0.15-1~deb12u10')).toBe('7.0.15');
    expect(upstreamVersion('1:1.35.0-4+deb12u1+b1')).toBe('1.35.0');
  });

  it('GIVEN a root with users THEN mmdebstrap adds them before installing, with merged /usr and no docs', () => {
    const args = mmdebstrapArgs(
      {
        variant: 'essential',
        packages: ['iptables', 'iproute2'],
        users: [
          { name: 'node', uid: 1000, gid: 1000, home: '/home/node', shell: '/bin/bash', createHome: true },
        ],
      },
      '/tmp/out.tar',
      ['deb http://m/debian bookworm main'],
    );
    expect(args).toEqual(
      expect.arrayContaining([
        '--variant=essential',
        '--mode=root',
        '--include=iptables,iproute2',
        '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr',
        '--dpkgopt=path-exclude=/usr/share/doc/*',
      ]),
    );
    expect(args.slice(-3)).toEqual(['bookworm', '/tmp/out.tar', 'deb http://m/debian bookworm main']);
    expect(args.find((a) => a.startsWith('--essential-hook='))).toContain(
      `'node:x:1000:1000::/home/node:/bin/bash'`,
    );
    expect(
      usersScript([{ name: 'r', uid: 9, gid: 9, home: '/h', shell: '/bin/sh', createHome: true }]),
    ).toContain('chown 9:9 "$1/h"');
    expect(() =>
      mmdebstrapArgs(
        { variant: 'extract', packages: ['x'], users: [{ name: 'u', uid: 1, gid: 1, home: '/', shell: '' }] },
        'o',
        [],
      ),
    ).toThrow('users can only be added to an installed (essential) root');
  });
});
