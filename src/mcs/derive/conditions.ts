/** metav1.Condition bookkeeping: lastTransitionTime moves only when the status does. */
import type { Condition } from '../../api/meta.js';

export type DesiredCondition = Omit<Condition, 'lastTransitionTime'> & { reason: string; message: string };

export function withTransitionTimes(
  desired: readonly DesiredCondition[],
  existing: readonly Condition[] | undefined,
  now: string,
): Condition[] {
  return desired.map((d) => {
    const prev = existing?.find((c) => c.type === d.type);
    const lastTransitionTime =
      prev && prev.status === d.status && prev.lastTransitionTime ? prev.lastTransitionTime : now;
    return { ...d, lastTransitionTime };
  });
}

/** True when the conditions differ in anything but lastTransitionTime (so no write is needed otherwise). */
export function conditionsDiffer(
  a: readonly Condition[] | undefined,
  b: readonly Condition[] | undefined,
): boolean {
  const norm = (cs: readonly Condition[] | undefined) =>
    JSON.stringify(
      [...(cs ?? [])]
        .sort((x, y) => x.type.localeCompare(y.type))
        .map((c) => [c.type, c.status, c.reason ?? '', c.message ?? '']),
    );
  return norm(a) !== norm(b);
}
