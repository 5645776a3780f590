import { stringify } from 'yaml';

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A kubeconfig with the credentials inline, so the file can be copied anywhere. */
export function renderKubeconfig(opts: {
  cluster: string;
  server: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  user?: string;
}): string {
  const user = opts.user ?? 'admin';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: opts.cluster, cluster: { server: opts.server, 'certificate-authority-data': b64(opts.caPem) } },
    ],
    users: [
      {
        name: `${opts.cluster}-${user}`,
        user: { 'client-certificate-data': b64(opts.certPem), 'client-key-data': b64(opts.keyPem) },
      },
    ],
    contexts: [{ name: opts.cluster, context: { cluster: opts.cluster, user: `${opts.cluster}-${user}` } }],
    'current-context': opts.cluster,
  });
}
