/**
 * Keeps a valid serving certificate in the store and in the server: loads or creates the
 * PKI at start, then checks on a timer and issues a new serving certificate (same CA) once
 * the current one is within `renewBeforeMs` of expiry. Listeners swap the TLS context in
 * place, so new handshakes get the new certificate and open connections finish undisturbed.
 */
import { createLogger, errorFields, type Logger } from '../common/logger.js';
import { KosmosError } from '../common/errors.js';
import {
  DAY_MS,
  certFacts,
  createCa,
  issueServingCert,
  signedBy,
  type CertBundle,
  type ServingCertOptions,
} from './certificates.js';
import type { CertStore } from './cert-store.js';

export interface RotatorOptions {
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
  /** Serving certificate lifetime; default 90 days. */
  validityMs?: number;
  /** Renew when less than this is left; default a third of the lifetime. */
  renewBeforeMs?: number;
  /** How often to look; default an hour, capped to a tenth of renewBeforeMs so a short cert is never missed. */
  checkIntervalMs?: number;
  /** CA lifetime; default 10 years. The CA is never rotated automatically: that changes the caBundle. */
  caValidityMs?: number;
  logger?: Logger;
  now?: () => number;
}

export type RotationListener = (bundle: CertBundle) => void;

export class CertRotator {
  private bundle: CertBundle | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: RotationListener[] = [];
  private checking: Promise<boolean> | undefined;
  private readonly validityMs: number;
  private readonly renewBeforeMs: number;
  private readonly checkIntervalMs: number;
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(
    private readonly store: CertStore,
    private readonly options: RotatorOptions,
  ) {
    this.validityMs = options.validityMs ?? 90 * DAY_MS;
    this.renewBeforeMs = options.renewBeforeMs ?? Math.floor(this.validityMs / 3);
    if (this.renewBeforeMs >= this.validityMs) {
      throw new KosmosError(
        `renewBeforeMs (${this.renewBeforeMs}) must be shorter than validityMs (${this.validityMs})`,
      );
    }
    this.checkIntervalMs = Math.max(
      50,
      Math.min(options.checkIntervalMs ?? 60 * 60 * 1000, this.renewBeforeMs / 10),
    );
    this.log = options.logger ?? createLogger('webhooks');
    this.now = options.now ?? Date.now;
  }

  /** The bundle being served; ensure() must have resolved. */
  current(): CertBundle {
    if (!this.bundle) throw new KosmosError('webhook certificates requested before CertRotator.ensure()');
    return this.bundle;
  }

  onRotate(listener: RotationListener): void {
    this.listeners.push(listener);
  }

  private servingOptions(): ServingCertOptions {
    return {
      dnsNames: this.options.dnsNames,
      ipAddresses: this.options.ipAddresses,
      validityMs: this.validityMs,
    };
  }

  /** Why `bundle`'s serving certificate must be replaced now, or undefined when it is fine. */
  private renewalReason(bundle: CertBundle): string | undefined {
    const facts = certFacts(bundle.serving.cert);
    if (facts.notAfter.getTime() - this.now() < this.renewBeforeMs)
      return `expires at ${facts.notAfter.toISOString()}`;
    const missing = [
      ...this.options.dnsNames.filter((n) => !facts.dnsNames.includes(n)),
      ...this.options.ipAddresses.filter((ip) => !facts.ipAddresses.includes(ip)),
    ];
    if (missing.length > 0) return `lacks the names ${missing.join(', ')}`;
    if (!signedBy(bundle.serving.cert, bundle.ca.cert)) return 'was not signed by the stored CA';
    return undefined;
  }

  /** Loads the PKI, creating or renewing what is missing or stale; resolves with what to serve. */
  async ensure(): Promise<CertBundle> {
    await this.check();
    return this.current();
  }

  /** One check; resolves true when the served certificate changed. Concurrent calls share one run. */
  check(): Promise<boolean> {
    this.checking ??= this.checkOnce().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async checkOnce(): Promise<boolean> {
    let stored = await this.store.load();
    if (stored && certFacts(stored.ca.cert).notAfter.getTime() - this.now() < this.renewBeforeMs) {
      this.log.warn(
        'webhook CA is close to expiry; renewing it changes the caBundle, so re-run the installer',
        {
          store: this.store.description,
          notAfter: certFacts(stored.ca.cert).notAfter.toISOString(),
        },
      );
    }
    const ca =
      stored?.ca ??
      (await createCa('kosmos-webhooks-ca', this.options.caValidityMs ?? 3650 * DAY_MS, this.now()));
    const reason = stored ? this.renewalReason(stored) : 'none stored';
    if (reason) {
      const next: CertBundle = { ca, serving: await issueServingCert(ca, this.servingOptions(), this.now()) };
      try {
        await this.store.save(next);
        stored = next;
        this.log.info('issued webhook serving certificate', {
          reason,
          store: this.store.description,
          notAfter: certFacts(next.serving.cert).notAfter.toISOString(),
        });
      } catch (err) {
        // Another replica may have rotated first (a conflicting Secret write): serve its pair.
        this.log.warn('could not store the new webhook certificate; reloading', errorFields(err));
        const again = await this.store.load();
        if (!again || this.renewalReason(again))
          throw new KosmosError('renewing the webhook serving certificate', { cause: err });
        stored = again;
      }
    }
    const changed = !this.bundle || this.bundle.serving.cert !== stored?.serving.cert;
    this.bundle = stored as CertBundle;
    if (changed && this.listeners.length > 0) for (const l of this.listeners) l(this.bundle);
    return changed;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.check().catch((err: unknown) =>
        this.log.error('webhook certificate check failed', errorFields(err)),
      );
    }, this.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
