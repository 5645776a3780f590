/**
 * The clusterset.local DNS server: dns2 (UDP and TCP) in front of the pure resolver. dns2 was
 * chosen because it is maintained, dependency-free, handles EDNS payload sizes, truncation and
 * TCP pipelining, and runs on the project's Node 24 (it needs Node >= 22). Undecodable packets
 * never reach the handler (dns2 drops them); anything that throws becomes SERVFAIL, because a
 * dns2 UDP handler that throws sends no reply at all.
 */
import { isIPv6 } from 'node:net';
import dns2 from 'dns2';
import { Counter, type Registry } from 'prom-client';
import { errorFields, type Logger } from '../../common/logger.js';
import { freePort } from '../../common/ports.js';
import type { ImportIndex } from './index-builder.js';
import type { DnsRecord, Rcode, Resolve } from './resolver.js';

const { Packet } = dns2;
type Packet = InstanceType<typeof dns2.Packet>;
type Resource = Packet['answers'][number];

export interface DnsServerOptions {
  port: number;
  address: string;
  resolve: Resolve;
  /** The current index, undefined until the caches synced (answers are SERVFAIL until then). */
  index: () => ImportIndex | undefined;
  serial?: () => number;
  log: Logger;
  registry?: Registry | undefined;
}

export interface RunningDnsServer {
  port: number;
  close(): Promise<void>;
}

const RCODES: Record<Rcode, number> = {
  NOERROR: Packet.RCODE.NOERROR,
  NXDOMAIN: Packet.RCODE.NXDOMAIN,
  SERVFAIL: Packet.RCODE.SERVFAIL,
  REFUSED: Packet.RCODE.REFUSED,
};

function toResource(r: DnsRecord): Resource {
  const res = new Packet.Resource(r.name, Packet.TYPE[r.type], Packet.CLASS.IN, r.ttl);
  const { name: _n, type: _t, ttl: _ttl, ...rdata } = r;
  return Object.assign(res, rdata);
}

/** Builds the wire response for one request; exported for the benchmark's in-process baseline. */
export function respond(
  request: Packet,
  resolve: Resolve,
  index: ImportIndex | undefined,
  serial: number,
): { response: Packet; rcode: string } {
  const response = Packet.createResponseFromRequest(request);
  const opt = request.additionals.find((r) => r.type === Packet.TYPE.EDNS);
  // Answer EDNS with EDNS (RFC 6891), advertising a payload that avoids IP fragmentation.
  if (opt) response.additionals.push(Packet.Resource.EDNS([], { udpPayloadSize: 1232 }));
  const q = request.questions[0];
  if (request.header.opcode !== 0) {
    response.header.rcode = Packet.RCODE.NOTIMP;
    return { response, rcode: 'NOTIMP' };
  }
  if (!q || request.questions.length !== 1) {
    response.header.rcode = Packet.RCODE.FORMERR;
    return { response, rcode: 'FORMERR' };
  }
  if (q.class !== Packet.CLASS.IN && q.class !== Packet.CLASS.ANY) {
    response.header.rcode = Packet.RCODE.REFUSED;
    return { response, rcode: 'REFUSED' };
  }
  const answer = resolve(index, { name: q.name, type: Packet.TYPE_NAME[q.type] ?? String(q.type) }, serial);
  response.header.rcode = RCODES[answer.rcode];
  response.header.aa = answer.authoritative ? 1 : 0;
  response.answers = answer.answers.map(toResource);
  response.authorities = answer.authority.map(toResource);
  return { response, rcode: answer.rcode };
}

const CACHE_MAX = 10_000;

/** Everything of a query that shapes the answer, besides the id; undefined when not cacheable. */
function cacheKey(request: Packet): string | undefined {
  const q = request.questions[0];
  if (!q || request.questions.length !== 1 || request.header.opcode !== 0) return undefined;
  const edns = request.additionals.some((r) => r.type === Packet.TYPE.EDNS) ? 1 : 0;
  return `${q.name}|${q.type}|${q.class}|${request.header.rd}|${edns}`;
}

export async function startDnsServer(opts: DnsServerOptions): Promise<RunningDnsServer> {
  const queries = opts.registry
    ? new Counter({
        name: 'kosmos_mcs_dns_queries_total',
        help: 'DNS queries answered, by rcode',
        labelNames: ['rcode'],
        registers: [opts.registry],
      })
    : undefined;
  // Encoding dominates the cost of an answer (dns2 compresses names), so encoded answers are
  // reused until the index changes; only the message id differs between identical questions.
  const cache = new Map<string, { wire: Buffer; rcode: string }>();
  let cachedIndex: ImportIndex | undefined;
  const server = dns2.createServer({
    udp: { type: isIPv6(opts.address) ? 'udp6' : 'udp4' },
    tcp: true,
    handle: (request, send) => {
      try {
        // A response (QR=1) sent to us is not a question: answering could start a loop.
        if (request.header.qr === 1) return;
        const index = opts.index();
        if (index !== cachedIndex) {
          cache.clear();
          cachedIndex = index;
        }
        const key = cacheKey(request);
        const hit = key === undefined ? undefined : cache.get(key);
        if (hit) {
          const buf = Buffer.from(hit.wire);
          buf.writeUInt16BE(request.header.id, 0);
          queries?.inc({ rcode: hit.rcode });
          void send(buf).catch((e: unknown) => opts.log.debug('send failed', errorFields(e)));
          return;
        }
        const { response, rcode } = respond(request, opts.resolve, index, opts.serial?.() ?? 1);
        queries?.inc({ rcode });
        const wire = response.toBuffer();
        // Only answers that fit any UDP budget are reused: dns2 sends raw buffers as they are.
        if (key !== undefined && index !== undefined && wire.length <= 512) {
          if (cache.size >= CACHE_MAX) cache.clear();
          cache.set(key, { wire, rcode });
        }
        void send(wire.length <= 512 ? wire : response).catch((e: unknown) =>
          opts.log.debug('send failed', errorFields(e)),
        );
      } catch (e) {
        opts.log.warn('query failed; answering SERVFAIL', errorFields(e));
        const r = Packet.createResponseFromRequest(request);
        r.header.rcode = Packet.RCODE.SERVFAIL;
        void send(r).catch(() => undefined);
      }
    },
  });
  server.on('requestError', (e: Error) => opts.log.debug('undecodable query dropped', errorFields(e)));
  server.on('error', (e: Error, transport: string) =>
    opts.log.warn('dns transport error', { transport, ...errorFields(e) }),
  );
  // Port 0 (tests, benchmarks) must give UDP and TCP the same port, so pick it once.
  const port = opts.port === 0 ? await freePort(opts.address) : opts.port;
  await server.listen({ udp: { port, address: opts.address }, tcp: { port, address: opts.address } });
  return { port, close: () => server.close() };
}
