/**
 * The CLUSTERLINK-* nat chains, read with one `iptables-save` and written with one
 * `iptables-restore --noflush` batch per family and change (no shell, no per-rule exec).
 */
import { CHAIN_POSTROUTING, CHAIN_PREROUTING } from '../../api/constants.js';
import type { IptablesRule } from '../../api/kinds.js';
import { run } from '../exec.js';
import type { Family } from '../../common/ip.js';

const CHAINS: Record<string, string> = { PREROUTING: CHAIN_PREROUTING, POSTROUTING: CHAIN_POSTROUTING };
const SPEC_CHAIN: Record<string, string> = {
  [CHAIN_PREROUTING]: 'PREROUTING',
  [CHAIN_POSTROUTING]: 'POSTROUTING',
};
const bin = (f: Family, what: 'save' | 'restore') => `${f === 4 ? 'iptables' : 'ip6tables'}-${what}`;

export interface NatState {
  /** Rules of the CLUSTERLINK chains, or undefined when the chains or their jumps are missing. */
  rules: IptablesRule[] | undefined;
}

/** Parse `iptables-save -t nat` output into the spec's shape (chain names mapped back). */
export function parseNatSave(text: string): IptablesRule[] | undefined {
  const lines = text.split('\n');
  const hasChain = (c: string) => lines.some((l) => l.startsWith(`:${c} `));
  const hasJump = (from: string, to: string) => lines.some((l) => l === `-A ${from} -j ${to}`);
  if (
    !hasChain(CHAIN_PREROUTING) ||
    !hasChain(CHAIN_POSTROUTING) ||
    !hasJump('PREROUTING', CHAIN_PREROUTING) ||
    !hasJump('POSTROUTING', CHAIN_POSTROUTING)
  )
    return undefined;
  const out: IptablesRule[] = [];
  for (const l of lines) {
    const m = /^-A (CLUSTERLINK-(?:PRE|POST)ROUTING) (.*)$/.exec(l);
    if (m?.[1] && m[2]) out.push({ table: 'nat', chain: SPEC_CHAIN[m[1]] ?? m[1], rule: m[2] });
  }
  return out;
}

export interface NatRead {
  rules: IptablesRule[] | undefined;
  /** iptables-nft keeps rules in nftables, whose generation number tells whether anything changed. */
  nftBackend: boolean;
}

export async function loadNat(f: Family): Promise<NatRead> {
  const text = await run(bin(f, 'save'), ['-t', 'nat']);
  return { rules: parseNatSave(text), nftBackend: /iptables-nft-save|ip6tables-nft-save/.test(text) };
}

/** The restore input that makes the CLUSTERLINK chains hold exactly `rules` (declaring a chain flushes it). */
export function natRestoreInput(rules: readonly IptablesRule[], current: string): string {
  const out = ['*nat', `:${CHAIN_PREROUTING} - [0:0]`, `:${CHAIN_POSTROUTING} - [0:0]`];
  for (const r of rules) out.push(`-A ${CHAINS[r.chain] ?? r.chain} ${r.rule}`);
  // The jumps go first in the built-in chains so kube-proxy's or a CNI's DNAT/SNAT cannot hide ours; added once.
  if (!current.split('\n').includes(`-A PREROUTING -j ${CHAIN_PREROUTING}`))
    out.push(`-I PREROUTING 1 -j ${CHAIN_PREROUTING}`);
  if (!current.split('\n').includes(`-A POSTROUTING -j ${CHAIN_POSTROUTING}`))
    out.push(`-I POSTROUTING 1 -j ${CHAIN_POSTROUTING}`);
  out.push('COMMIT', '');
  return out.join('\n');
}

export async function writeNat(f: Family, rules: readonly IptablesRule[]): Promise<void> {
  const current = await run(bin(f, 'save'), ['-t', 'nat']);
  await run(bin(f, 'restore'), ['--noflush', '-w', '5'], natRestoreInput(rules, current));
}
