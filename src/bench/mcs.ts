/**
 * MCS DNS: queries per second and p99 latency for 1000 imported services (half ClusterSetIP,
 * half headless with 3 endpoints in 2 clusters), against a trivial dns2 server answering one
 * fixed A record, both on 127.0.0.1 and driven by the same bounded, self-stopping UDP load
 * (a fixed number of queries, a fixed window in flight, a hard deadline).
 */
import { createSocket } from 'node:dgram';
import dns2 from 'dns2';
import { createLogger, logFailure } from '../common/logger.js';
import { buildIndex } from '../mcs/dns/index-builder.js';
import { createResolver } from '../mcs/dns/resolver.js';
import { startDnsServer } from '../mcs/dns/server.js';
import type { EndpointSlice, ServiceImport } from '../mcs/types.js';
import type { BenchRow } from './types.js';

const { Packet } = dns2;
const SERVICES = 1000;
const QUERIES = 30_000;
const WINDOW = 32;
const DEADLINE_MS = 20_000;

function fixture(): { imports: ServiceImport[]; slices: EndpointSlice[] } {
  const imports: ServiceImport[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const headless = i % 2 === 1;
    imports.push({
      metadata: { name: `svc-${i}`, namespace: `ns-${i % 20}` },
      spec: headless
        ? { type: 'Headless', ports: [{ name: 'http', protocol: 'TCP', port: 80 }] }
        : {
            type: 'ClusterSetIP',
            ips: [`172.31.${i >> 8}.${i & 255}`],
            ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
          },
    });
    if (!headless) continue;
    for (const [c, n] of [
      ['leaf-1', 2],
      ['leaf-2', 1],
    ] as const) {
      slices.push({
        metadata: {
          name: `svc-${i}-${c}`,
          namespace: `ns-${i % 20}`,
          labels: {
            'multicluster.kubernetes.io/service-name': `svc-${i}`,
            'multicluster.kubernetes.io/source-cluster': c,
          },
        },
        addressType: 'IPv4',
        endpoints: Array.from({ length: n }, (_, j) => ({
          addresses: [`10.${c === 'leaf-1' ? 34 : 36}.${i >> 8}.${((i & 255) + j) & 255}`],
        })),
        ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
      });
    }
  }
  return { imports, slices };
}

interface LoadResult {
  qps: number;
  p99Ms: number;
  lost: number;
}

/** Sends `QUERIES` queries, `WINDOW` in flight, and measures each reply's latency. */
async function load(port: number, names: string[]): Promise<LoadResult> {
  const sock = createSocket('udp4');
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  let sent = 0;
  let lost = 0;
  let nextId = 1;
  const packets = names.map((name) => {
    const p = new Packet();
    p.header.rd = 1;
    p.questions.push({ name, type: Packet.TYPE.A, class: Packet.CLASS.IN } as InstanceType<
      typeof Packet
    >['questions'][number]);
    return p.toBuffer();
  });
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const deadline = setTimeout(finish, DEADLINE_MS);
    const sweeper = setInterval(() => {
      const now = performance.now();
      for (const [id, t] of sentAt) {
        if (now - t > 1000) {
          sentAt.delete(id);
          lost++;
        }
      }
      fill();
    }, 200);
    function finish() {
      clearTimeout(deadline);
      clearInterval(sweeper);
      resolve();
    }
    function fill() {
      while (sentAt.size < WINDOW && sent < QUERIES) {
        const id = nextId;
        nextId = nextId === 0xffff ? 1 : nextId + 1;
        const buf = Buffer.from(packets[sent % packets.length]!);
        buf.writeUInt16BE(id, 0);
        sentAt.set(id, performance.now());
        sent++;
        sock.send(buf, port, '127.0.0.1');
      }
      if (sent >= QUERIES && sentAt.size === 0) finish();
    }
    sock.on('message', (msg) => {
      const id = msg.readUInt16BE(0);
      const t = sentAt.get(id);
      if (t === undefined) return;
      sentAt.delete(id);
      latencies.push(performance.now() - t);
      fill();
    });
    fill();
  });
  const elapsed = (performance.now() - start) / 1000;
  sock.close();
  latencies.sort((a, b) => a - b);
  return {
    qps: latencies.length / elapsed,
    p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? NaN,
    lost,
  };
}

export async function benchMcs(): Promise<BenchRow[]> {
  const log = createLogger('bench-mcs');
  const { imports, slices } = fixture();
  const index = buildIndex(imports, slices);
  const mcs = await startDnsServer({
    port: 0,
    address: '127.0.0.1',
    resolve: createResolver(),
    index: () => index,
    log,
  });
  const baseline = dns2.createServer({
    udp: { type: 'udp4' },
    handle: (req, send) => {
      const r = Packet.createResponseFromRequest(req);
      r.answers.push(
        Object.assign(new Packet.Resource(req.questions[0]?.name ?? '', Packet.TYPE.A, Packet.CLASS.IN, 5), {
          address: '127.0.0.1',
        }),
      );
      logFailure(send(r), log, 'baseline DNS answer not sent');
    },
  });
  const baseAddrs = await baseline.listen({ udp: { port: 0, address: '127.0.0.1' } });
  try {
    const names = imports.map((i) => `${i.metadata.name}.${i.metadata.namespace}.svc.clusterset.local`);
    // Warm both (JIT, socket buffers) before measuring.
    await load(mcs.port, names.slice(0, 50));
    const base = await load(baseAddrs.udp!.port, names);
    const ours = await load(mcs.port, names);
    const buildStart = performance.now();
    buildIndex(imports, slices);
    const buildMs = performance.now() - buildStart;
    return [
      {
        suite: 'mcs',
        metric: `DNS queries/s, ${SERVICES} imported services (UDP, ${WINDOW} in flight)`,
        value: ours.qps,
        unit: 'q/s',
        baseline: { name: 'dns2 fixed answer', value: base.qps },
        ratio: ours.qps / base.qps,
      },
      {
        suite: 'mcs',
        metric: `DNS p99 latency, ${SERVICES} imported services`,
        value: ours.p99Ms,
        unit: 'ms',
        baseline: { name: 'dns2 fixed answer', value: base.p99Ms },
        ratio: ours.p99Ms / base.p99Ms,
      },
      {
        suite: 'mcs',
        metric: 'DNS queries lost (no reply in 1 s)',
        value: ours.lost,
        unit: 'queries',
        baseline: { name: 'dns2 fixed answer', value: base.lost },
      },
      {
        suite: 'mcs',
        metric: `index rebuild, ${SERVICES} imports + ${slices.length} slices`,
        value: buildMs,
        unit: 'ms',
      },
    ];
  } finally {
    await mcs.close();
    await baseline.close();
  }
}
