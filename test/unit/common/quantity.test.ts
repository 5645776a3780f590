import { describe, expect, it } from 'vitest';
import { QuantityError } from '../../../src/common/errors.js';
import { formatResource, parseMilli, parseResource, parseUnits } from '../../../src/common/quantity.js';

describe('resource quantities', () => {
  it.each([
    ['1500m', 1500],
    ['2', 2000],
    ['0.1', 100],
    ['.5', 500],
    ['100u', 1], // rounded up, as Kubernetes' MilliValue does
    ['1e3', 1_000_000],
    ['1k', 1_000_000],
    ['-1', -1000],
    [3, 3000],
  ])('%s is %d thousandths', (q, milli) => {
    expect(parseMilli(q)).toBe(milli);
  });

  it.each([
    ['4Gi', 4 * 2 ** 30],
    ['100M', 100_000_000],
    ['128974848', 128974848],
    ['129e6', 129_000_000],
    ['123Mi', 123 * 2 ** 20],
    ['1500m', 2],
    ['1Ki', 1024],
    ['0.5Gi', 2 ** 29],
    ['1E', 1e18],
    ['1.5', 2],
  ])('%s is %d units', (q, units) => {
    expect(parseUnits(q)).toBe(units);
  });

  it('cpu is compared in milli-cores, everything else in whole units', () => {
    expect(parseResource('cpu', '250m')).toBe(250);
    expect(parseResource('memory', '1Mi')).toBe(1_048_576);
    expect(parseResource('nvidia.com/gpu', '2')).toBe(2);
  });

  it.each(['', 'abc', '1.2.3', '5Qi', 'Gi', '1 Gi', '--1'])(
    '"%s" is rejected with the Kubernetes message',
    (q) => {
      expect(() => parseUnits(q)).toThrow(QuantityError);
      expect(() => parseUnits(q)).toThrow(/quantities must match the regular expression/);
    },
  );

  it.each([
    ['cpu', 1500, '1500m'],
    ['cpu', 4000, '4'],
    ['memory', 4 * 2 ** 30, '4Gi'],
    ['memory', 1536 * 2 ** 20, '1536Mi'],
    ['pods', 3, '3'],
  ])('%s %d reads as %s in messages', (r, v, s) => {
    expect(formatResource(r, v)).toBe(s);
  });
});
