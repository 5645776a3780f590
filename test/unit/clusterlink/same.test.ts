import { describe, expect, it } from 'vitest';
import { sameContent } from '../../../src/clusterlink/store/same.js';

describe('sameContent: a spec read back from an apiserver equals the one written', () => {
  it.each([
    [
      'keys in another order (the apiserver sorts them)',
      { b: 1, a: [{ y: 2, x: 1 }] },
      { a: [{ x: 1, y: 2 }], b: 1 },
      true,
    ],
    [
      'an empty list the apiserver dropped',
      { devices: [], routes: [{ cidr: 'a' }] },
      { routes: [{ cidr: 'a' }] },
      true,
    ],
    ['an undefined or null field', { a: 1, b: undefined }, { a: 1, b: null }, true],
    ['nothing against an empty object', undefined, {}, true],
    ['list order matters', { r: [1, 2] }, { r: [2, 1] }, false],
    ['a changed value', { mac: '02:00:00:00:00:01' }, { mac: '02:00:00:00:00:02' }, false],
    ['a number is not its string', { id: 54 }, { id: '54' }, false],
  ])('%s', (_name, a, b, same) => {
    expect(sameContent(a, b)).toBe(same);
  });
});
