import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { crdFile, MCS_CRDS, type CrdDefinition } from '../../../src/mcs/crds.js';

type Schema = {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
};

/** A structural schema (apiextensions v1) gives every node a type, or explicitly preserves unknown fields. */
function untyped(s: Schema, path: string): string[] {
  const here = s.type || s['x-kubernetes-preserve-unknown-fields'] ? [] : [path];
  const props = Object.entries(s.properties ?? {}).flatMap(([k, v]) => untyped(v, `${path}.${k}`));
  const items = s.items ? untyped(s.items, `${path}[]`) : [];
  const add = typeof s.additionalProperties === 'object' ? untyped(s.additionalProperties, `${path}{}`) : [];
  return [...here, ...props, ...items, ...add];
}

describe('MCS CRDs', () => {
  it.each(MCS_CRDS.map((c) => [c.spec.names.kind, c] as const))(
    '%s serves v1beta1 (stored) and v1alpha1 with a status subresource',
    (_k, c) => {
      expect(c.spec.group).toBe('multicluster.x-k8s.io');
      expect(c.spec.scope).toBe('Namespaced');
      expect(c.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([
        ['v1beta1', true, true],
        ['v1alpha1', true, false],
      ]);
      for (const v of c.spec.versions) expect(v.subresources).toEqual({ status: {} });
      expect(c.metadata.labels['release-version']).toBe('v0.5.0');
    },
  );

  it.each(MCS_CRDS.map((c) => [c.spec.names.kind, c] as const))('%s has a structural schema', (_k, c) => {
    for (const v of c.spec.versions)
      expect(untyped(v.schema.openAPIV3Schema as Schema, 'openAPIV3Schema')).toEqual([]);
  });

  it('the short names are the upstream ones', () => {
    expect(MCS_CRDS.map((c) => c.spec.names.shortNames)).toEqual([
      ['svcex', 'svcexport'],
      ['svcim', 'svcimport'],
    ]);
  });

  it.each(MCS_CRDS.map((c) => [crdFile(c).name, c] as const))(
    'deploy/mcs/%s is what src/mcs/crds.ts renders',
    (name, c) => {
      const onDisk = parse(readFileSync(join('deploy', 'mcs', name), 'utf8')) as CrdDefinition;
      expect(onDisk).toEqual(JSON.parse(JSON.stringify(c)));
    },
  );
});
