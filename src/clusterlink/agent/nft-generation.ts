/**
 * The nftables ruleset generation of this network namespace (NFT_MSG_GETGEN over
 * nfnetlink). Every ruleset change, by anyone, moves it, so an agent on iptables-nft can
 * tell "nothing changed" without starting iptables-save. Undefined when nftables is not
 * available (iptables-legacy hosts then read every time).
 */
import { type NetlinkSocket, createNetlink } from 'netlink';

const NETLINK_NETFILTER = 12;
const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_NEWGEN = 15;
const NFT_MSG_GETGEN = 16;
const NFTA_GEN_ID = 1;

export class NftGeneration {
  private sock: NetlinkSocket | undefined;
  private broken = false;

  async current(): Promise<number | undefined> {
    if (this.broken) return undefined;
    try {
      this.sock ??= createNetlink(NETLINK_NETFILTER);
      // nfgenmsg: family AF_UNSPEC, version NFNETLINK_V0, res_id 0.
      const [msgs] = await this.sock.request((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN, Buffer.alloc(4), {
        timeout: 1_000,
      });
      const m = msgs.find((x) => x.type === ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN));
      if (!m) return undefined;
      for (let off = 4; off + 4 <= m.data.length;) {
        const len = m.data.readUInt16LE(off);
        const type = m.data.readUInt16LE(off + 2) & 0x3fff;
        if (len < 4) break;
        if (type === NFTA_GEN_ID && len >= 8) return m.data.readUInt32BE(off + 4);
        off += (len + 3) & ~3;
      }
      return undefined;
    } catch {
      // No nf_tables in this kernel or no permission: fall back to reading iptables each time.
      this.broken = true;
      return undefined;
    }
  }

  close(): void {
    this.sock?.close();
    this.sock = undefined;
  }
}
