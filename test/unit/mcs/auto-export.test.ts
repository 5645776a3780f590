import { describe, expect, it } from 'vitest';
import { planAutoExports } from '../../../src/mcs/derive/auto-export.js';
import { exp, ns, svc } from './fixtures.js';

const opts = { prefixes: ['mcs-'], reservedNamespaces: ['kube-system', 'default'] };
const created = (p: ReturnType<typeof planAutoExports>) =>
  p.create.map((e) => `${e.metadata.namespace}/${e.metadata.name}`);

describe('Kosmos automatic export', () => {
  it.each([
    ['a namespace with the configured prefix', svc('web', 'mcs-shop'), [ns('mcs-shop')], true],
    [
      'a Service annotated kosmos.io/auto-create-mcs: "true"',
      svc('web', 'shop', {}, { 'kosmos.io/auto-create-mcs': 'true' }),
      [ns('shop')],
      true,
    ],
    [
      'a Service annotated with the Go project spelling "ture"',
      svc('web', 'shop', {}, { 'kosmos.io/auto-create-mcs': 'ture' }),
      [ns('shop')],
      true,
    ],
    [
      'a namespace annotated kosmos.io/auto-create-mcs',
      svc('web', 'shop'),
      [ns('shop', { 'kosmos.io/auto-create-mcs': 'true' })],
      true,
    ],
    ['a plain Service', svc('web', 'shop'), [ns('shop')], false],
    [
      "the controller's own derived Service in a prefixed namespace",
      {
        ...svc('derived-0123456789', 'mcs-shop'),
        metadata: {
          name: 'derived-0123456789',
          namespace: 'mcs-shop',
          labels: { 'app.kubernetes.io/managed-by': 'mcs-controller.kosmos.io' },
        },
      },
      [ns('mcs-shop')],
      false,
    ],
    [
      'an annotated Service in a reserved namespace',
      svc('web', 'default', {}, { 'kosmos.io/auto-create-mcs': 'true' }),
      [ns('default')],
      false,
    ],
    [
      'an annotation set to "false"',
      svc('web', 'shop', {}, { 'kosmos.io/auto-create-mcs': 'false' }),
      [ns('shop')],
      false,
    ],
  ])('%s is exported automatically: %s', (_what, service, namespaces, want) => {
    const p = planAutoExports([service], namespaces, [], opts);
    expect(created(p)).toEqual(want ? [`${service.metadata.namespace}/web`] : []);
    if (want) expect(p.create[0]?.metadata.annotations).toEqual({ 'kosmos.io/auto-create-mcs': 'true' });
  });

  it('an automatic export is removed when its Service goes, a user-written one never is', () => {
    const auto = exp('gone', 'mcs-shop', undefined, {});
    auto.metadata.annotations = { 'kosmos.io/auto-create-mcs': 'true' };
    const user = exp('mine', 'mcs-shop');
    const p = planAutoExports([], [ns('mcs-shop')], [auto, user], opts);
    expect(p.remove.map((e) => e.metadata.name)).toEqual(['gone']);
    expect(p.create).toEqual([]);
  });

  it('a Service the user already exported is not exported twice', () => {
    const p = planAutoExports([svc('web', 'mcs-shop')], [ns('mcs-shop')], [exp('web', 'mcs-shop')], opts);
    expect(p.create).toEqual([]);
    expect(p.remove).toEqual([]);
  });
});
