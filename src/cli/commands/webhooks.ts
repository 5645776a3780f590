/** `kosmos webhooks`: run the admission webhooks over HTTPS until SIGINT/SIGTERM. */
import { writeFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { stringify } from 'yaml';
import { DEFAULT_NAMESPACE, DEFAULT_SCHEDULER_NAME } from '../../api/constants.js';
import { UserError } from '../../common/errors.js';
import { loadKubeConfigForCommand } from '../../common/kube.js';
import { createLogger, errorFields } from '../../common/logger.js';
import { CertRotator } from '../../webhooks/cert-rotator.js';
import { FileCertStore, MemoryCertStore, SecretCertStore } from '../../webhooks/cert-store.js';
import { DEFAULT_SERVICE_NAME, LOOPBACK_IPS, caBundleOf, servingNames } from '../../webhooks/certificates.js';
import { renderWebhookConfigurations } from '../../webhooks/configurations.js';
import { InformerSources } from '../../webhooks/informer-sources.js';
import { startWebhookServer } from '../../webhooks/server.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('must be a port number from 0 to 65535');
  return n;
}

function secretRef(value: string): { namespace: string; name: string } {
  const [namespace, name, ...rest] = value.split('/');
  if (!namespace || !name || rest.length > 0) throw new InvalidArgumentError('must be <namespace>/<name>');
  return { namespace, name };
}

interface WebhookFlags {
  port: number;
  host: string;
  kubeconfig?: string;
  certDir?: string;
  certSecret?: { namespace: string; name: string };
  schedulerName: string;
  serviceName: string;
  namespace: string;
  configurationsOut?: string;
  url?: string;
}

export function webhooksCommand(): Command {
  return new Command('webhooks')
    .description(
      'run the admission webhooks (pod mutation, validation of pods and Kosmos objects) over HTTPS',
    )
    .addOption(new Option('--port <port>', 'HTTPS listen port').default(9443).argParser(port))
    .option('--host <address>', 'listen address', '0.0.0.0')
    .option(
      '--kubeconfig <path>',
      'host cluster kubeconfig (default: KUBECONFIG, ~/.kube/config or in-cluster)',
    )
    .option('--cert-dir <dir>', 'keep the CA and serving certificate in this directory (sandbox)')
    .addOption(
      new Option('--cert-secret <namespace/name>', 'keep them in this Secret (real install)').argParser(
        secretRef,
      ),
    )
    .option('--scheduler-name <name>', 'scheduler given to pods a policy matches', DEFAULT_SCHEDULER_NAME)
    .option(
      '--service-name <name>',
      'Service in front of the webhooks (certificate names)',
      DEFAULT_SERVICE_NAME,
    )
    .option('--namespace <namespace>', 'namespace of that Service', DEFAULT_NAMESPACE)
    .option('--configurations-out <file>', 'write the webhook configurations for this CA to a YAML file')
    .option(
      '--url <url>',
      'with --configurations-out: have the apiserver call this URL instead of the Service',
    )
    .action(async (flags: WebhookFlags) => {
      if (flags.certDir && flags.certSecret)
        throw new UserError('--cert-dir and --cert-secret are alternatives');
      const log = createLogger('webhooks');
      const kc = loadKubeConfigForCommand(flags.kubeconfig);
      if (!flags.certDir && !flags.certSecret) {
        log.warn(
          'no --cert-dir or --cert-secret: a new CA is made at every start, so registered caBundles go stale',
        );
      }
      const store = flags.certSecret
        ? new SecretCertStore(kc, flags.certSecret.namespace, flags.certSecret.name)
        : flags.certDir
          ? new FileCertStore(flags.certDir)
          : new MemoryCertStore();
      if (flags.configurationsOut) {
        // Written before the server listens, so whoever waits for /readyz finds the file.
        // The server then reuses this PKI (the caBundle depends on the CA alone).
        const bundle = await new CertRotator(store, {
          dnsNames: servingNames(flags.serviceName, flags.namespace),
          ipAddresses: LOOPBACK_IPS,
          logger: log,
        }).ensure();
        const target = flags.url
          ? { url: flags.url }
          : { service: { name: flags.serviceName, namespace: flags.namespace } };
        const { mutating, validating } = renderWebhookConfigurations({
          target,
          caBundle: caBundleOf(bundle.ca.cert),
        });
        await writeFile(flags.configurationsOut, `${stringify(mutating)}---\n${stringify(validating)}`);
      }
      const sources = new InformerSources(kc, log);
      // Serve at once: /readyz stays 503 until the first lists arrive (CRDs may be installed
      // after this process starts), and the informers keep retrying meanwhile.
      sources
        .start()
        .catch((err: unknown) => log.warn('policies not listed yet; still retrying', errorFields(err)));
      const server = await startWebhookServer({
        port: flags.port,
        host: flags.host,
        serviceName: flags.serviceName,
        namespace: flags.namespace,
        schedulerName: flags.schedulerName,
        policies: sources,
        clusters: sources,
        logger: log,
        certStore: store,
      });
      process.stdout.write(`kosmos webhooks listening on ${server.url}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await server.close();
      await sources.stop();
    });
}
