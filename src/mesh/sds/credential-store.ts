/**
 * CredentialStore keeps a workload's current mesh credential and renews it before it expires, as
 * Istio's agent does (secretcache.go rotateTime): at half the lifetime with ±1 % jitter, retrying
 * with capped backoff on failure while the current credential keeps serving. Listeners (TLS
 * servers, upstream agents) hear about each new credential through onChange.
 */
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { Logger } from '../../log.js';
import type { Credential } from './credential.js';
import { CredentialNotReadyError } from './errors.js';

/** DEFAULT_RENEW_AT is Istio's SECRET_GRACE_PERIOD_RATIO: renew at half the lifetime. */
export const DEFAULT_RENEW_AT = 0.5;
/** RENEW_JITTER is Istio's SECRET_GRACE_PERIOD_RATIO_JITTER (±0.01 of the ratio). */
export const RENEW_JITTER = 0.01;
/** DEFAULT_RETRY_MS is the first retry delay after a failed renewal; it doubles up to MAX_RETRY_MS. */
export const DEFAULT_RETRY_MS = 1000;
export const MAX_RETRY_MS = 60_000;
// setTimeout fires at once for delays above 2^31-1 ms (24.8 days), which a 90-day certificate
// reaches; longer waits are done in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * renewalDelayMs is how long to wait, from `now`, before renewing a credential valid from
 * notBefore to notAfter, renewing once `ratio` of its lifetime has passed. Never negative.
 */
export function renewalDelayMs(notBefore: Date, notAfter: Date, now: Date, ratio: number): number {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  if (!(lifetime > 0)) return 0;
  const at = notBefore.getTime() + Math.min(1, Math.max(0, ratio)) * lifetime;
  return Math.max(0, Math.round(at - now.getTime()));
}

/** CredentialStoreOptions configures where credentials come from and when they are renewed. */
export interface CredentialStoreOptions {
  /** fetch gets a new credential (usually requestCertificate with the current token). */
  readonly fetch: () => Promise<Credential>;
  readonly log: Logger;
  /** renewAt is the fraction of the lifetime after which to renew (default 0.5, like Istio). */
  readonly renewAt?: number;
  /** retryMs is the first retry delay after a failure (default 1 s, doubling up to 60 s). */
  readonly retryMs?: number;
  /** minDelayMs is the shortest wait between two renewals (default 1 s), so a CA that returns
   * credentials already due (a root about to expire clamps lifetimes) is not hammered. */
  readonly minDelayMs?: number;
}

/** CredentialListener is told about each credential that replaces the current one. */
export type CredentialListener = (credential: Credential) => void;

/** CredentialStore holds the current credential and renews it on schedule; call start() first. */
export class CredentialStore {
  readonly #fetch: () => Promise<Credential>;
  readonly #log: Logger;
  readonly #renewAt: number;
  readonly #retryMs: number;
  readonly #minDelayMs: number;
  readonly #listeners = new Set<CredentialListener>();
  // One secure context per credential (and per `extra` object): building one parses the key
  // and chain, which is too slow to do per connection.
  readonly #contexts = new WeakMap<Credential, { plain?: SecureContext; byExtra: WeakMap<SecureContextOptions, SecureContext> }>();
  #current: Credential | undefined;
  #receivedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #stopped = false;
  #expiredLogged = false;

  constructor(opts: CredentialStoreOptions) {
    this.#fetch = opts.fetch;
    this.#log = opts.log.child({ component: 'credential-store' });
    this.#renewAt = opts.renewAt ?? DEFAULT_RENEW_AT;
    this.#retryMs = opts.retryMs ?? DEFAULT_RETRY_MS;
    this.#minDelayMs = opts.minDelayMs ?? 1000;
  }

  /** start fetches the first credential (throwing if it cannot) and schedules its renewal. */
  async start(): Promise<void> {
    this.#stopped = false;
    this.#install(await this.#fetch());
  }

  /** current is the credential to present now; throws CredentialNotReadyError before start(). */
  /** ready tells whether a first credential has arrived. */
  get ready(): boolean {
    return this.#current !== undefined;
  }

  get current(): Credential {
    if (!this.#current) throw new CredentialNotReadyError('no mesh credential yet: the certificate store has not started');
    return this.#current;
  }

  /**
   * secureContext returns a TLS context for the current credential: key, chain and the root as
   * CA, plus `extra` (ciphers, versions…; its `ca` replaces the root). It is built once per
   * credential; pass the same `extra` object each time to share the cached context.
   */
  secureContext(extra?: SecureContextOptions): SecureContext {
    const cred = this.current;
    let entry = this.#contexts.get(cred);
    if (!entry) this.#contexts.set(cred, (entry = { byExtra: new WeakMap() }));
    const cached = extra ? entry.byExtra.get(extra) : entry.plain;
    if (cached) return cached;
    const ctx = createSecureContext({ ca: cred.rootPem, ...extra, key: cred.key.reveal(), cert: cred.certChainPem });
    if (extra) entry.byExtra.set(extra, ctx);
    else entry.plain = ctx;
    return ctx;
  }

  /** onChange registers a listener for new credentials; the returned function unregisters it. */
  onChange(cb: CredentialListener): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  /** stop cancels renewal (its timer keeps the process alive until then); the current credential stays readable. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #install(cred: Credential): void {
    const first = this.#current === undefined;
    this.#current = cred;
    this.#receivedAt = Date.now();
    this.#failures = 0;
    this.#expiredLogged = false;
    this.#log.info({ identity: cred.identity, notAfter: cred.notAfter.toISOString(), sha256: cred.sha256 }, first ? 'mesh credential loaded' : 'mesh credential renewed');
    this.#scheduleRenewal();
    if (first) return;
    for (const cb of this.#listeners) {
      try {
        cb(cred);
      } catch (err) {
        this.#log.error({ err }, 'credential listener failed');
      }
    }
  }

  #scheduleRenewal(): void {
    const cred = this.#current!;
    const ratio = this.#renewAt + (Math.random() * 2 - 1) * RENEW_JITTER;
    // The CA backdates notBefore by 2 minutes for clock skew; counting the lifetime from when
    // the credential arrived instead (as Istio's agent counts from its creation time) keeps a
    // short-lived certificate from being due the moment it arrives.
    const start = new Date(Math.max(cred.notBefore.getTime(), this.#receivedAt));
    const delay = Math.max(this.#minDelayMs, renewalDelayMs(start, cred.notAfter, new Date(), ratio));
    this.#arm(Date.now() + delay);
  }

  /** #arm sets the renewal timer for an absolute time, in steps when it is too far away. */
  #arm(at: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    const wait = Math.max(0, at - Date.now());
    // The timer is not unref'd: a pending renewal is work to do; stop() is how it is cancelled.
    this.#timer = setTimeout(() => (wait > MAX_TIMER_MS ? this.#arm(at) : void this.#renew()), Math.min(wait, MAX_TIMER_MS));
  }

  async #renew(): Promise<void> {
    if (this.#stopped) return;
    let cred: Credential;
    try {
      cred = await this.#fetch();
    } catch (err) {
      if (this.#stopped) return;
      this.#failures++;
      const delay = Math.min(MAX_RETRY_MS, this.#retryMs * 2 ** (this.#failures - 1));
      const current = this.#current!;
      const expired = Date.now() >= current.notAfter.getTime();
      const fields = { err, attempt: this.#failures, retryInMs: delay, identity: current.identity, notAfter: current.notAfter.toISOString() };
      if (expired && !this.#expiredLogged) {
        this.#expiredLogged = true;
        this.#log.error(fields, 'mesh credential renewal failed and the current credential has expired; peers will refuse it');
      } else {
        this.#log.warn(fields, 'mesh credential renewal failed; the current credential keeps serving');
      }
      this.#arm(Date.now() + delay);
      return;
    }
    if (this.#stopped) return;
    this.#install(cred);
  }
}
