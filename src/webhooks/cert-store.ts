/**
 * Where the webhook PKI lives: files in the sandbox (a directory the operator can inspect),
 * a Secret in a real install (so every replica serves the same pair and a restart keeps the
 * CA, hence the caBundle), or memory for tests.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { KosmosError } from '../common/errors.js';
import type { CertBundle } from './certificates.js';

export interface CertStore {
  load(): Promise<CertBundle | undefined>;
  save(bundle: CertBundle): Promise<void>;
  /** For log lines: "files in /x", "Secret ns/name". */
  readonly description: string;
}

export class MemoryCertStore implements CertStore {
  readonly description = 'memory';
  constructor(private bundle?: CertBundle) {}
  async load(): Promise<CertBundle | undefined> {
    return this.bundle;
  }
  async save(bundle: CertBundle): Promise<void> {
    this.bundle = bundle;
  }
}

/** Secret data keys, the usual kubernetes.io/tls names plus the CA. */
const FILES = { caCert: 'ca.crt', caKey: 'ca.key', cert: 'tls.crt', key: 'tls.key' } as const;

export class FileCertStore implements CertStore {
  readonly description: string;
  constructor(private readonly dir: string) {
    this.description = `files in ${dir}`;
  }

  async load(): Promise<CertBundle | undefined> {
    try {
      const [caCert, caKey, cert, key] = await Promise.all(
        [FILES.caCert, FILES.caKey, FILES.cert, FILES.key].map((f) => readFile(join(this.dir, f), 'utf8')),
      );
      return {
        ca: { cert: caCert as string, key: caKey as string },
        serving: { cert: cert as string, key: key as string },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new KosmosError(`reading webhook certificates from ${this.dir}`, { cause: err });
    }
  }

  async save(bundle: CertBundle): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const entries: [string, string][] = [
      [FILES.caCert, bundle.ca.cert],
      [FILES.caKey, bundle.ca.key],
      [FILES.cert, bundle.serving.cert],
      [FILES.key, bundle.serving.key],
    ];
    // Write then rename, so a reader never sees half a key (the sandbox may read them concurrently).
    for (const [name, text] of entries) {
      const path = join(this.dir, name);
      await writeFile(`${path}.tmp`, text, { mode: name.endsWith('.key') ? 0o600 : 0o644 });
      await rename(`${path}.tmp`, path);
    }
  }
}

function decode(secret: V1Secret, key: string): string | undefined {
  const v = secret.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

/**
 * A Secret of type Opaque holding ca.crt, ca.key, tls.crt, tls.key. Writes carry the
 * resourceVersion read last, so two replicas that rotate at once do not overwrite each
 * other; the loser reloads and serves the winner's pair.
 */
export class SecretCertStore implements CertStore {
  readonly description: string;
  private readonly api: CoreV1Api;
  private resourceVersion: string | undefined;

  constructor(
    kubeConfig: KubeConfig,
    private readonly namespace: string,
    private readonly name: string,
  ) {
    this.api = kubeConfig.makeApiClient(CoreV1Api);
    this.description = `Secret ${namespace}/${name}`;
  }

  async load(): Promise<CertBundle | undefined> {
    let secret: V1Secret;
    try {
      secret = await this.api.readNamespacedSecret({ name: this.name, namespace: this.namespace });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw new KosmosError(`reading webhook certificates from ${this.description}`, { cause: err });
    }
    this.resourceVersion = secret.metadata?.resourceVersion;
    const [caCert, caKey, cert, key] = [FILES.caCert, FILES.caKey, FILES.cert, FILES.key].map((k) =>
      decode(secret, k),
    );
    if (!caCert || !caKey || !cert || !key) return undefined;
    return { ca: { cert: caCert, key: caKey }, serving: { cert, key } };
  }

  async save(bundle: CertBundle): Promise<void> {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { name: this.name, namespace: this.namespace, resourceVersion: this.resourceVersion },
      data: {
        [FILES.caCert]: b64(bundle.ca.cert),
        [FILES.caKey]: b64(bundle.ca.key),
        [FILES.cert]: b64(bundle.serving.cert),
        [FILES.key]: b64(bundle.serving.key),
      },
    };
    try {
      const saved =
        this.resourceVersion === undefined
          ? await this.api.createNamespacedSecret({ namespace: this.namespace, body })
          : await this.api.replaceNamespacedSecret({ name: this.name, namespace: this.namespace, body });
      this.resourceVersion = saved.metadata?.resourceVersion;
    } catch (err) {
      throw new KosmosError(`writing webhook certificates to ${this.description}`, { cause: err });
    }
  }
}
