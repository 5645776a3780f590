import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import dns2 from 'dns2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/common/logger.js';
import { buildIndex } from '../../../src/mcs/dns/index-builder.js';
import { createResolver } from '../../../src/mcs/dns/resolver.js';
import { startDnsServer, type RunningDnsServer } from '../../../src/mcs/dns/server.js';

const { Packet } = dns2;
type Pkt = InstanceType<typeof Packet>;
let index = buildIndex(
  [
    {
      metadata: { name: 'web', namespace: 'app' },
      spec: {
        type: 'ClusterSetIP',
        ips: ['172.31.0.9'],
        ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
      },
    },
  ],
  [],
);
let synced = true;
let server: RunningDnsServer;

function query(name: string, type: number, id = 4242): Buffer {
  const p = new Packet();
  p.header.id = id;
  p.header.rd = 1;
  p.questions.push({ name, type, class: Packet.CLASS.IN } as Pkt['questions'][number]);
  return p.toBuffer();
}

async function udp(buf: Buffer, waitMs = 2000): Promise<Pkt | undefined> {
  const sock = createSocket('udp4');
  try {
    return await new Promise<Pkt | undefined>((resolve) => {
      const t = setTimeout(() => resolve(undefined), waitMs);
      sock.on('message', (m) => {
        clearTimeout(t);
        resolve(Packet.parse(m));
      });
      sock.send(buf, server.port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

describe('the clusterset.local DNS server on loopback', () => {
  beforeAll(async () => {
    const log = createLogger('test', {}, () => undefined);
    server = await startDnsServer({
      port: 0,
      address: '127.0.0.1',
      resolve: createResolver(),
      index: () => (synced ? index : undefined),
      log,
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers A over UDP, authoritative, with the id and question echoed', async () => {
    const r = await udp(query('web.app.svc.clusterset.local', Packet.TYPE.A));
    expect(r?.header).toMatchObject({ id: 4242, qr: 1, aa: 1, rcode: 0 });
    expect(r?.answers.map((a) => [a.name, a.address, a.ttl])).toEqual([
      ['web.app.svc.clusterset.local', '172.31.0.9', 5],
    ]);
  });

  it('answers over TCP on the same port', async () => {
    const buf = query('_http._tcp.web.app.svc.clusterset.local', Packet.TYPE.SRV, 7);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(buf.length);
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const s = connect(server.port, '127.0.0.1', () => s.write(Buffer.concat([len, buf])));
      const chunks: Buffer[] = [];
      s.on('data', (c) => {
        chunks.push(c);
        const all = Buffer.concat(chunks);
        if (all.length >= 2 && all.length >= 2 + all.readUInt16BE(0)) {
          s.end();
          resolve(all.subarray(2, 2 + all.readUInt16BE(0)));
        }
      });
      s.on('error', reject);
    });
    const r = Packet.parse(reply);
    expect(r.answers.map((a) => [a.port, a.target])).toEqual([[80, 'web.app.svc.clusterset.local']]);
  });

  it('an unknown name is NXDOMAIN with the zone SOA in the authority section', async () => {
    const r = await udp(query('nope.app.svc.clusterset.local', Packet.TYPE.A));
    expect(r?.header.rcode).toBe(Packet.RCODE.NXDOMAIN);
    expect(r?.authorities.map((a) => [a.type, a.name])).toEqual([[Packet.TYPE.SOA, 'clusterset.local']]);
  });

  it('garbage gets no reply and the server keeps answering', async () => {
    expect(await udp(Buffer.from([0xde, 0xad]), 300)).toBeUndefined();
    expect((await udp(query('web.app.svc.clusterset.local', Packet.TYPE.A)))?.answers).toHaveLength(1);
  });

  it('a repeated question gets its own id back, and a changed index changes the answer at once', async () => {
    const a = await udp(query('web.app.svc.clusterset.local', Packet.TYPE.A, 100));
    const b = await udp(query('web.app.svc.clusterset.local', Packet.TYPE.A, 200));
    expect([a?.header.id, b?.header.id]).toEqual([100, 200]);
    const before = index;
    index = buildIndex(
      [
        {
          metadata: { name: 'web', namespace: 'app' },
          spec: { type: 'ClusterSetIP', ips: ['172.31.0.10'], ports: [] },
        },
      ],
      [],
    );
    try {
      expect(
        (await udp(query('web.app.svc.clusterset.local', Packet.TYPE.A, 300)))?.answers.map((x) => x.address),
      ).toEqual(['172.31.0.10']);
    } finally {
      index = before;
    }
  });

  it('answers SERVFAIL until its caches have synced', async () => {
    synced = false;
    try {
      expect((await udp(query('web.app.svc.clusterset.local', Packet.TYPE.A)))?.header.rcode).toBe(
        Packet.RCODE.SERVFAIL,
      );
    } finally {
      synced = true;
    }
  });
});
