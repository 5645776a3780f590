/**
 * The agent's iptables chains: CLUSTERLINK-PREROUTING/-POSTROUTING in nat (the NodeConfig's
 * rules) and CLUSTERLINK-FORWARD in filter (node-settings.ts), read with `iptables-save` (one
 * process per table, both at once) and written with one `iptables-restore --noflush` batch
 * per family and change (no shell, no per-rule exec).
 */
import { CHAIN_FORWARD, CHAIN_POSTROUTING, CHAIN_PREROUTING } from '../../api/constants.js';
import type { IptablesRule } from '../../api/kinds.js';
import { run } from '../exec.js';
import type { Family } from '../../common/ip.js';

const CHAINS: Record<string, string> = { PREROUTING: CHAIN_PREROUTING, POSTROUTING: CHAIN_POSTROUTING };
const SPEC_CHAIN: Record<string, string> = {
  [CHAIN_PREROUTING]: 'PREROUTING',
  [CHAIN_POSTROUTING]: 'POSTROUTING',
};
const bin = (f: Family, what: 'save' | 'restore') => `${f === 4 ? 'iptables' : 'ip6tables'}-${what}`;

const lines = (text: string) => text.split('\n');
const hasChain = (l: readonly string[], c: string) => l.some((x) => x.startsWith(`:${c} `));
const hasJump = (l: readonly string[], from: string, to: string) => l.includes(`-A ${from} -j ${to}`);

/** Parse `iptables-save -t nat` output into the spec's shape (chain names mapped back). */
export function parseNatSave(text: string): IptablesRule[] | undefined {
  const l = lines(text);
  if (
    !hasChain(l, CHAIN_PREROUTING) ||
    !hasChain(l, CHAIN_POSTROUTING) ||
    !hasJump(l, 'PREROUTING', CHAIN_PREROUTING) ||
    !hasJump(l, 'POSTROUTING', CHAIN_POSTROUTING)
  )
    return undefined;
  const out: IptablesRule[] = [];
  for (const x of l) {
    const m = /^-A (CLUSTERLINK-(?:PRE|POST)ROUTING) (.*)$/.exec(x);
    if (m?.[1] && m[2]) out.push({ table: 'nat', chain: SPEC_CHAIN[m[1]] ?? m[1], rule: m[2] });
  }
  return out;
}

/** Parse `iptables-save -t filter`: CLUSTERLINK-FORWARD's rules (chain FORWARD), undefined without the chain or its jump. */
export function parseForwardSave(text: string): IptablesRule[] | undefined {
  const l = lines(text);
  if (!hasChain(l, CHAIN_FORWARD) || !hasJump(l, 'FORWARD', CHAIN_FORWARD)) return undefined;
  const prefix = `-A ${CHAIN_FORWARD} `;
  return l
    .filter((x) => x.startsWith(prefix))
    .map((x) => ({ table: 'filter', chain: 'FORWARD', rule: x.slice(prefix.length) }));
}

export interface TablesRead {
  nat: IptablesRule[] | undefined;
  forward: IptablesRule[] | undefined;
  /** iptables-nft keeps rules in nftables, whose generation number tells whether anything changed. */
  nftBackend: boolean;
}

const save = (f: Family, table: string) => run(bin(f, 'save'), ['-t', table]);

export async function loadTables(f: Family): Promise<TablesRead> {
  const [nat, filter] = await Promise.all([save(f, 'nat'), save(f, 'filter')]);
  return {
    nat: parseNatSave(nat),
    forward: parseForwardSave(filter),
    nftBackend: /ip6?tables-nft-save/.test(nat),
  };
}

export interface TablesWrite {
  nat?: readonly IptablesRule[] | undefined;
  forward?: readonly IptablesRule[] | undefined;
}

/**
 * The restore input that makes the chains hold exactly the given rules (declaring a chain
 * flushes it); `current` is `iptables-save` of each table written. The jumps go first in the
 * built-in chains, so kube-proxy's or a CNI's rules cannot hide ours, and are added only when
 * missing: another component that later inserts its own above them is left alone.
 */
export function restoreInput(w: TablesWrite, current: { nat?: string; filter?: string }): string {
  const out: string[] = [];
  if (w.nat) {
    const have = lines(current.nat ?? '');
    out.push('*nat', `:${CHAIN_PREROUTING} - [0:0]`, `:${CHAIN_POSTROUTING} - [0:0]`);
    for (const r of w.nat) out.push(`-A ${CHAINS[r.chain] ?? r.chain} ${r.rule}`);
    if (!hasJump(have, 'PREROUTING', CHAIN_PREROUTING)) out.push(`-I PREROUTING 1 -j ${CHAIN_PREROUTING}`);
    if (!hasJump(have, 'POSTROUTING', CHAIN_POSTROUTING))
      out.push(`-I POSTROUTING 1 -j ${CHAIN_POSTROUTING}`);
    out.push('COMMIT');
  }
  if (w.forward) {
    out.push('*filter', `:${CHAIN_FORWARD} - [0:0]`);
    for (const r of w.forward) out.push(`-A ${CHAIN_FORWARD} ${r.rule}`);
    if (!hasJump(lines(current.filter ?? ''), 'FORWARD', CHAIN_FORWARD))
      out.push(`-I FORWARD 1 -j ${CHAIN_FORWARD}`);
    out.push('COMMIT');
  }
  out.push('');
  return out.join('\n');
}

export async function writeTables(f: Family, w: TablesWrite): Promise<void> {
  if (!w.nat && !w.forward) return;
  const [nat, filter] = await Promise.all([
    w.nat ? save(f, 'nat') : undefined,
    w.forward ? save(f, 'filter') : undefined,
  ]);
  await run(
    bin(f, 'restore'),
    ['--noflush', '-w', '5'],
    restoreInput(w, { ...(nat !== undefined ? { nat } : {}), ...(filter !== undefined ? { filter } : {}) }),
  );
}
