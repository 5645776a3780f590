/**
 * `kubectl exec` on a pod of a virtual node. The host apiserver opens an upgraded (SPDY or
 * WebSocket) connection to the node's kubelet API at /exec/{ns}/{pod}/{container}; this
 * opens the same kind of upgraded connection to the leaf apiserver's pods/exec and then
 * splices the two sockets, so the remotecommand protocol (stdin/stdout/stderr/resize
 * streams) passes through unchanged whatever version the two ends agree on.
 */
import https from 'node:https';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { KubeClient } from '../../common/kube.js';

/** Headers that negotiate the upgraded protocol; everything else stays between the hops. */
const FORWARDED = [
  'upgrade',
  'connection',
  'x-stream-protocol-version',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
];

/** kubelet exec query (`input`, `output`, `error`, `tty`, `command`) → pods/exec query. */
export function execQuery(search: URLSearchParams, container: string): URLSearchParams | string {
  const out = new URLSearchParams({ container });
  const commands = search.getAll('command');
  if (commands.length === 0) return 'command is required';
  for (const c of commands) out.append('command', c);
  const flag = (k: string) => search.get(k) === '1' || search.get(k) === 'true';
  const streams = { stdin: flag('input'), stdout: flag('output'), stderr: flag('error'), tty: flag('tty') };
  if (!streams.stdin && !streams.stdout && !streams.stderr)
    return 'you must specify at least 1 of stdin, stdout, stderr';
  if (streams.tty && streams.stderr) return 'stdout and stderr cannot both be requested with tty';
  for (const [k, v] of Object.entries(streams)) if (v) out.set(k, 'true');
  return out;
}

function reject(socket: Duplex, status: number, message: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\nConnection: close\r\n\r\n${message}`,
  );
}

export async function proxyExec(
  leaf: KubeClient,
  ns: string,
  pod: string,
  query: URLSearchParams,
  req: http.IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  const opts: https.RequestOptions = {};
  await leaf.kubeConfig.applyToHTTPSOptions(opts);
  const url = new URL(
    `${leaf.server}/api/v1/namespaces/${ns}/pods/${encodeURIComponent(pod)}/exec?${query.toString()}`,
  );
  const headers: Record<string, string | string[]> = { ...(opts.headers as Record<string, string>) };
  for (const h of FORWARDED) {
    const v = req.headers[h];
    if (v !== undefined) headers[h] = v;
  }
  const mod = url.protocol === 'https:' ? https : http;
  const upstream = mod.request(url, { ...opts, method: req.method ?? 'POST', headers, agent: false });
  upstream.on('upgrade', (res, upSocket, upHead) => {
    const lines = [`HTTP/1.1 101 Switching Protocols`];
    for (let i = 0; i < res.rawHeaders.length; i += 2)
      lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (upHead.length > 0) socket.write(upHead);
    if (head.length > 0) upSocket.write(head);
    upSocket.pipe(socket);
    socket.pipe(upSocket);
    const close = () => {
      upSocket.destroy();
      socket.destroy();
    };
    upSocket.on('error', close);
    socket.on('error', close);
    upSocket.on('close', close);
    socket.on('close', close);
  });
  upstream.on('response', (res) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => reject(socket, res.statusCode ?? 502, Buffer.concat(chunks).toString('utf8')));
  });
  upstream.on('error', (e) => reject(socket, 502, `leaf exec: ${e.message}`));
  upstream.end();
}

export { reject as rejectUpgrade };
