/**
 * TLS contexts of HTTPS listeners, built once per snapshot from ir.ListenerTls and the key
 * material (SecretSource for secretRef, files for sslFiles, read as Envoy reads them).
 *
 * When SNICallback returns a context, OpenSSL has already taken the protocol version, cipher
 * list, curves and session-ticket keys from the listener's own context; only the certificate,
 * its chain and the store client certificates are verified against follow the returned one. So
 * every certificate's context is built with the listener's settings too (its CA above all), and
 * the listener's context (serverOptions, applied with setSecureContext) holds the default
 * certificate and every setting.
 *
 * A runtime is reused as long as neither the listener's TLS nor its material changed, so a
 * snapshot that only changes routes keeps the contexts, and with them the session ticket keys.
 * When anything changes, the new contexts get new ticket keys: a session begun under the old
 * settings (another client CA, say) cannot resume under the new ones. The keys derive from the
 * runtime (ticket-keys.ts), so every proxy worker holds the same ones.
 */
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { constants, createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type * as ir from '../../ir/index.js';
import { canonicalJson } from '../../ir/version.js';
import type { SecretSource } from './secret-source.js';
import { TlsMaterialError } from './errors.js';
import { ticketKeys } from './ticket-keys.js';

/** ListenerTlsRuntime is what an HTTPS listener serves with. */
export interface ListenerTlsRuntime {
  /** serverOptions are the listener's own context: the default certificate and every TLS setting. */
  readonly serverOptions: SecureContextOptions;
  /** requestCert: ask for, and require, a client certificate that chains to the client CA. */
  readonly requestCert: boolean;
  /** alpn is what the listener offers, in preference order. */
  readonly alpn: readonly string[];
  /** verifySubjectAltName: a client certificate must carry one of these SANs (empty: any). */
  readonly verifySubjectAltName: readonly string[];
  /** select returns the certificate context for an SNI name: exact, then the longest `*.` suffix, then the default. */
  select(servername: string): SecureContext;
}

const VERSIONS: Record<ir.TlsVersion, NonNullable<SecureContextOptions['minVersion']>> = {
  TLSv1_0: 'TLSv1',
  TLSv1_1: 'TLSv1.1',
  TLSv1_2: 'TLSv1.2',
  TLSv1_3: 'TLSv1.3',
};

/** Material is a certificate's PEM text. */
interface Material {
  readonly cert: string;
  readonly key: string;
}

/** loadPem reads a file of the proxy's machine, naming the listener and field on failure. */
async function loadPem(listener: string, what: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new TlsMaterialError(listener, `cannot read ${what} ${path} (${(err as { code?: string }).code ?? 'error'})`);
  }
}

/** loadMaterial fetches every certificate and the client CA of a listener. */
async function loadMaterial(l: ir.Listener, tls: ir.ListenerTls, secrets: SecretSource | undefined): Promise<{ certs: Material[]; ca?: string }> {
  const secret = (ref: ir.SecretRef) => {
    const s = secrets?.tlsSecret(ref.namespace, ref.name);
    if (!s) throw new TlsMaterialError(l.name, `secret ${ref.namespace}.${ref.name} is not available to the proxy`);
    return s;
  };
  const certs: Material[] = [];
  for (const c of tls.certificates) {
    if (c.secretRef) {
      const s = secret(c.secretRef);
      certs.push({ cert: s.certPem, key: s.keyPem });
    } else if (c.files) {
      certs.push({ cert: await loadPem(l.name, 'sslFiles.tlsCert', c.files.certPath), key: await loadPem(l.name, 'sslFiles.tlsKey', c.files.keyPath) });
    }
  }
  let ca: string | undefined;
  if (tls.clientCa && 'secretRef' in tls.clientCa) {
    ca = secret(tls.clientCa.secretRef).caPem;
    if (ca === undefined) throw new TlsMaterialError(l.name, `secret ${tls.clientCa.secretRef.namespace}.${tls.clientCa.secretRef.name} has no ca.crt`);
  } else if (tls.clientCa) ca = await loadPem(l.name, 'sslFiles.rootCa', tls.clientCa.file);
  return { certs, ...(ca !== undefined ? { ca } : {}) };
}

/** context builds a secure context, turning OpenSSL's refusal into a TlsMaterialError. */
function context(listener: string, what: string, o: SecureContextOptions): SecureContext {
  try {
    return createSecureContext(o);
  } catch (err) {
    // OpenSSL's reason (e.g. "key values mismatch", "no cipher match") names no key material.
    throw new TlsMaterialError(listener, `${what}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/**
 * build makes the runtime of one listener from its TLS and loaded material; digest names that
 * runtime (its ticket keys derive from it, ticket-keys.ts).
 */
function build(l: ir.Listener, tls: ir.ListenerTls, m: { certs: Material[]; ca?: string }, digest: string): ListenerTlsRuntime {
  const settings: SecureContextOptions = {
    ...(m.ca !== undefined ? { ca: m.ca } : {}),
    ...(tls.minVersion ? { minVersion: VERSIONS[tls.minVersion] } : {}),
    ...(tls.maxVersion ? { maxVersion: VERSIONS[tls.maxVersion] } : {}),
    ...(tls.ciphers?.length ? { ciphers: tls.ciphers.join(':') } : {}),
    ...(tls.ecdhCurves?.length ? { ecdhCurve: tls.ecdhCurves.join(':') } : {}),
    // Without tickets, and with no session cache (Node keeps none unless asked), nothing resumes.
    // With them, every worker holds the same keys for this runtime, so a session resumes on any.
    ...(tls.sessionResumption ? { ticketKeys: ticketKeys(`${l.name}/${digest}`) } : { secureOptions: constants.SSL_OP_NO_TICKET }),
  };
  // Built first so that settings OpenSSL refuses (an unknown cipher or curve) are named as such.
  context(l.name, 'listener TLS settings', settings);
  const contexts = tls.certificates.map((c, i) => context(l.name, `certificate of ${c.name}`, { ...settings, cert: m.certs[i]!.cert, key: m.certs[i]!.key }));
  let def = tls.certificates.findIndex((c) => c.sniDomains.includes('*'));
  if (def < 0) def = 0;
  const exact = new Map<string, SecureContext>();
  const wildcard = new Map<string, SecureContext>();
  tls.certificates.forEach((c, i) => {
    for (const d of c.sniDomains) {
      // The first certificate to claim a name keeps it (the translator warns about the others).
      if (d.startsWith('*.')) {
        if (!wildcard.has(d.slice(1))) wildcard.set(d.slice(1), contexts[i]!);
      } else if (d !== '*' && !exact.has(d)) exact.set(d, contexts[i]!);
    }
  });
  const fallback = contexts[def]!;
  const serverOptions: SecureContextOptions = { ...settings, cert: m.certs[def]!.cert, key: m.certs[def]!.key };
  return {
    serverOptions,
    requestCert: tls.clientCa !== undefined,
    alpn: tls.alpn,
    verifySubjectAltName: tls.verifySubjectAltName,
    select(servername) {
      const name = servername.toLowerCase();
      const hit = exact.get(name);
      if (hit) return hit;
      for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
        const w = wildcard.get(name.slice(dot));
        if (w) return w;
      }
      return fallback;
    },
  };
}

/**
 * TlsContexts builds the TLS runtimes of a proxy's listeners, reusing a listener's runtime while
 * its TLS and material are unchanged.
 */
export class TlsContexts {
  readonly #secrets: SecretSource | undefined;
  readonly #cache = new Map<string, { key: string; rt: ListenerTlsRuntime }>();

  constructor(secrets: SecretSource | undefined) {
    this.#secrets = secrets;
  }

  /** build returns a runtime per TLS listener, or throws TlsMaterialError (the snapshot is refused). */
  async build(listeners: readonly ir.Listener[]): Promise<Map<string, ListenerTlsRuntime>> {
    const out = new Map<string, ListenerTlsRuntime>();
    const next = new Map<string, { key: string; rt: ListenerTlsRuntime }>();
    for (const l of listeners) {
      if (!l.tls) continue;
      const m = await loadMaterial(l, l.tls, this.#secrets);
      // The key is a digest: the cache never holds material it does not need.
      const key = createHash('sha256').update(canonicalJson({ tls: l.tls, m })).digest('hex');
      const cached = this.#cache.get(l.name);
      const entry = cached && cached.key === key ? cached : { key, rt: build(l, l.tls, m, key) };
      next.set(l.name, entry);
      out.set(l.name, entry.rt);
    }
    // A snapshot refused later (a port in use) leaves runtimes here that were never served:
    // harmless, they are only reused for identical TLS and material.
    this.#cache.clear();
    for (const [k, v] of next) this.#cache.set(k, v);
    return out;
  }
}
