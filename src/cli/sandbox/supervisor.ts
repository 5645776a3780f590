/**
 * The sandbox's supervisor: a detached process (`kosmosctl sandbox supervise`) that starts again
 * any component of the sandbox that exits, with a growing delay for one that keeps exiting,
 * logging each restart and counting it in the state (`sandbox status` shows the count). `up`
 * stops it while it changes the state and starts it last; `down` stops it first.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../common/logger.js';
import { isAlive, startDetached } from './processes.js';
import { readState, writeState, type ComponentState } from './state.js';

export const SUPERVISOR = 'supervisor';
/** How often the supervisor looks at its components. */
export const SUPERVISE_PERIOD_MS = 1_000;
/** Restart delays: doubled for each restart within RESET_AFTER_MS of the last, up to the max. */
export const RESTART_DELAY_MS = 1_000;
export const MAX_RESTART_DELAY_MS = 30_000;
export const RESET_AFTER_MS = 60_000;

export interface RestartPlan {
  /** When the component may be started again (epoch ms). */
  notBefore: number;
  delayMs: number;
}

/** The next restart's delay, from the last one: pure, so the backoff is table-tested. */
export function nextRestart(now: number, last: { at: number; delayMs: number } | undefined): RestartPlan {
  if (!last || now - last.at > RESET_AFTER_MS) return { notBefore: now, delayMs: RESTART_DELAY_MS };
  const delayMs = Math.min(last.delayMs * 2, MAX_RESTART_DELAY_MS);
  return { notBefore: last.at + last.delayMs, delayMs };
}

const key = (c: ComponentState) => `${c.name}/${c.cluster ?? ''}/${c.node ?? ''}`;

export async function supervise(dir: string, signal: AbortSignal): Promise<void> {
  const log = createLogger('sandbox-supervisor');
  const last = new Map<string, { at: number; delayMs: number }>();
  log.info('supervising', { dir });
  while (!signal.aborted) {
    const state = readState(dir);
    if (!state) {
      log.info('no sandbox state: stopping', { dir });
      return;
    }
    let changed = false;
    for (const c of held(dir) ? [] : state.components) {
      if (c.name === SUPERVISOR || isAlive(c.pid, c.hint ?? c.command)) continue;
      const now = Date.now();
      const plan = nextRestart(now, last.get(key(c)));
      if (now < plan.notBefore) continue;
      const pid = startDetached({
        name: c.name,
        command: c.command,
        args: c.args,
        ...(c.env ? { env: c.env } : {}),
        logFile: c.logFile,
      });
      last.set(key(c), { at: now, delayMs: plan.delayMs });
      c.restarts = (c.restarts ?? 0) + 1;
      log.warn('component exited: started again', {
        restarted: c.name,
        cluster: c.cluster,
        node: c.node,
        oldPid: c.pid,
        pid,
        restarts: c.restarts,
        log: c.logFile,
      });
      c.pid = pid;
      changed = true;
    }
    if (changed) {
      // Only pids and counts change here; everything else is re-read so `up`'s writes survive.
      const fresh = readState(dir);
      if (fresh) {
        for (const c of fresh.components) {
          const mine = state.components.find((x) => key(x) === key(c));
          if (mine && mine.pid !== c.pid && !isAlive(c.pid, c.hint ?? c.command)) {
            c.pid = mine.pid;
            c.restarts = mine.restarts ?? 0;
          }
        }
        writeState(fresh, dir);
      }
    }
    await new Promise((r) => setTimeout(r, SUPERVISE_PERIOD_MS));
  }
}

const holdFile = (dir: string) => join(dir, 'up.pid');

/** `up` holds the supervisor off while it starts components itself. */
export function holdSupervisor(dir: string): void {
  writeFileSync(holdFile(dir), String(process.pid));
}

export function releaseSupervisor(dir: string): void {
  rmSync(holdFile(dir), { force: true });
}

/** Whether an `up` that is still running holds the supervisor off. */
function held(dir: string): boolean {
  try {
    return isAlive(Number(readFileSync(holdFile(dir), 'utf8')));
  } catch {
    return false;
  }
}

export function supervisorLog(dir: string): string {
  return join(dir, 'supervisor.log');
}
