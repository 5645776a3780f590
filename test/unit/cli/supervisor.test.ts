import { describe, expect, it } from 'vitest';
import {
  MAX_RESTART_DELAY_MS,
  RESET_AFTER_MS,
  RESTART_DELAY_MS,
  nextRestart,
} from '../../../src/cli/sandbox/supervisor.js';

describe('sandbox supervisor restart delays', () => {
  it('GIVEN a component that exits for the first time THEN it is started again at once', () => {
    expect(nextRestart(1_000_000, undefined)).toEqual({ notBefore: 1_000_000, delayMs: RESTART_DELAY_MS });
  });

  it('GIVEN a component that keeps exiting THEN each restart waits twice as long, up to the maximum', () => {
    let last: { at: number; delayMs: number } | undefined;
    let now = 0;
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      const plan = nextRestart(now, last);
      now = Math.max(now, plan.notBefore);
      last = { at: now, delayMs: plan.delayMs };
      delays.push(plan.delayMs);
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    expect(Math.max(...delays)).toBe(MAX_RESTART_DELAY_MS);
  });

  it('GIVEN a component that ran a good while since its last restart THEN the delay starts over', () => {
    const plan = nextRestart(RESET_AFTER_MS + 10_001, { at: 10_000, delayMs: 16_000 });
    expect(plan).toEqual({ notBefore: RESET_AFTER_MS + 10_001, delayMs: RESTART_DELAY_MS });
  });

  it('GIVEN a restart within its delay THEN it is held back until the delay has passed', () => {
    expect(nextRestart(10_500, { at: 10_000, delayMs: 2_000 })).toEqual({
      notBefore: 12_000,
      delayMs: 4_000,
    });
  });
});
