/**
 * HTTPS termination (gloo-compat.md §1.2, §1.6): a VirtualService's `sslConfig` becomes one
 * certificate of its ssl Gateway's listener, plus the TLS settings that listener applies.
 *
 * Gloo gives each VirtualService its own Envoy filter chain, picked by SNI. meshgate's proxy
 * (Node's TLS) picks only the certificate by SNI: protocol versions, ciphers, curves and session
 * tickets are settled from the listener's context first, so they, the client CA and
 * verifySubjectAltName belong to the listener. So the VirtualService created first
 * (creationTimestamp, then namespace and name) sets them, and one that asks for different ones
 * gets a Warning and is not served on that listener, rather than being served with TLS settings
 * it did not ask for. Hosts are still routed by the Host header across every VirtualService of
 * the listener, as on a plaintext one.
 */
import type { Resource } from '../api/meta.js';
import type { VirtualServiceSpec } from '../api/gateway/virtual-service.js';
import type { GatewaySpec } from '../api/gateway/gateway.js';
import type { SettingsSpec } from '../api/gloo/settings.js';
import { TLS_SECRET_TYPE } from '../api/core/secret.js';
import * as ir from '../ir/index.js';
import { type Report, warnUnsupported } from './report.js';
import { refString } from '../config/resource-set.js';
import { secretKey, type SecretInfo } from './secret.js';
import {
  CERT_AND_KEY_TOGETHER, NO_CERTIFICATE_FOUND, ROOT_CA_MUST_BE_PROVIDED, notTlsSecret, sslSecretNotFound,
} from './reasons.js';

type SslConfig = NonNullable<VirtualServiceSpec['sslConfig']>;

/** HTTP_ALPN is what a TLS listener offers unless sslConfig.alpnProtocols says otherwise (Gloo's default). */
export const HTTP_ALPN = ['h2', 'http/1.1'] as const;

/** SPOKEN_ALPN are the protocols meshgate's listeners speak. */
const SPOKEN_ALPN: readonly string[] = HTTP_ALPN;

/**
 * ALLOW_EMPTY is Gloo's way to ask for no ALPN: the listener then negotiates nothing and speaks
 * HTTP/1.1, as Envoy does with an empty list.
 */
const ALLOW_EMPTY = 'allow_empty';

/** ListenerTlsSettings are the per-listener part of ir.ListenerTls. */
export type ListenerTlsSettings = Omit<ir.ListenerTls, 'certificates'>;

/** VirtualServiceTls is what one VirtualService brings to a TLS listener. */
export interface VirtualServiceTls {
  readonly certificate: ir.TlsCertificate;
  readonly settings: ListenerTlsSettings;
}

/** TlsContext is what sslConfig translation may look up. */
export interface TlsContext {
  readonly report: Report;
  readonly secrets: ReadonlyMap<string, SecretInfo>;
  /** warnMissingTlsSecret: a missing Secret is a Warning (Gloo's Helm default), else an error. */
  readonly warnMissingTlsSecret: boolean;
}

const VERSION_ORDER: readonly ir.TlsVersion[] = ['TLSv1_0', 'TLSv1_1', 'TLSv1_2', 'TLSv1_3'];

/** warnMissingTlsSecretOf reads Settings `spec.gateway.validation.warnMissingTlsSecret` (default true). */
export function warnMissingTlsSecretOf(settings: Resource<SettingsSpec> | undefined): boolean {
  const gateway = settings?.spec.gateway as { validation?: { warnMissingTlsSecret?: unknown } } | undefined;
  const validation = gateway?.validation;
  return validation?.warnMissingTlsSecret !== false;
}

/**
 * translateSslConfig turns a VirtualService's sslConfig into its certificate and TLS settings,
 * or undefined (with a Warning or an error on the VirtualService) when it cannot be served.
 */
export function translateSslConfig(vs: Resource<VirtualServiceSpec>, sc: SslConfig, ctx: TlsContext): VirtualServiceTls | undefined {
  const { report } = ctx;
  warnUnsupported(report, vs, sc, ['transportSocketConnectTimeout', 'ocspStaplePolicy'], 'spec.sslConfig');
  warnUnsupported(report, vs, sc.sslFiles, ['ocspStaple'], 'spec.sslConfig.sslFiles');
  if (sc.sds) {
    report.warn(vs, 'spec.sslConfig.sds: certificates from SDS are not supported by meshgate yet for HTTPS termination; the virtual service is not served');
    return undefined;
  }

  // The certificate, and the CA that a secret or rootCa brings for client certificates.
  let source: Pick<ir.TlsCertificate, 'secretRef' | 'files'>;
  let ca: ir.TlsSource | undefined;
  if (sc.secretRef) {
    // Gloo's ResourceRef has no default namespace; meshgate's is the VirtualService's own.
    const namespace = sc.secretRef.namespace || vs.metadata.namespace;
    const name = sc.secretRef.name;
    const info = ctx.secrets.get(secretKey(namespace, name));
    if (!info) {
      const why = `spec.sslConfig.secretRef: ${sslSecretNotFound(namespace, name)}${elsewhere(ctx.secrets, namespace, name)}`;
      if (ctx.warnMissingTlsSecret) report.warn(vs, `${why}; the virtual service is not served`);
      else report.error(vs, why);
      return undefined;
    }
    if (info.type !== TLS_SECRET_TYPE) {
      report.error(vs, `spec.sslConfig.secretRef: ${notTlsSecret(namespace, name)} (its type is ${info.type}, not ${TLS_SECRET_TYPE})`);
      return undefined;
    }
    if (!info.tls) {
      report.warn(vs, `spec.sslConfig.secretRef: secret ${namespace}.${name} is rejected (${info.problem ?? 'invalid'}); the virtual service is served with the secret's last accepted form if it has one, else not at all`);
      return undefined;
    }
    const secretRef: ir.SecretRef = { namespace, name, version: info.resource.metadata.resourceVersion ?? '' };
    source = { secretRef };
    if (info.tls.caPem !== undefined) ca = { secretRef };
  } else if (sc.sslFiles && (sc.sslFiles.tlsCert || sc.sslFiles.tlsKey)) {
    const { tlsCert, tlsKey, rootCa } = sc.sslFiles;
    if (!tlsCert || !tlsKey) {
      report.error(vs, `spec.sslConfig.sslFiles: ${CERT_AND_KEY_TOGETHER}`);
      return undefined;
    }
    source = { files: { certPath: tlsCert, keyPath: tlsKey } };
    if (rootCa) ca = { file: rootCa };
  } else {
    report.error(vs, `spec.sslConfig: ${NO_CERTIFICATE_FOUND} (set secretRef or sslFiles)`);
    return undefined;
  }

  // Client certificates: a CA makes them required (Gloo), unless oneWayTls.
  const verifySan = sc.verifySubjectAltName ?? [];
  if (sc.oneWayTls && ca) {
    ca = undefined;
    if (verifySan.length) report.warn(vs, 'spec.sslConfig.verifySubjectAltName: ignored with oneWayTls, which asks for no client certificate');
  } else if (verifySan.length && !ca) {
    report.error(vs, `spec.sslConfig.verifySubjectAltName: ${ROOT_CA_MUST_BE_PROVIDED}`);
    return undefined;
  }

  const p = sc.parameters;
  const minVersion = version(p?.minimumProtocolVersion);
  const maxVersion = version(p?.maximumProtocolVersion);
  if (minVersion && maxVersion && VERSION_ORDER.indexOf(minVersion) > VERSION_ORDER.indexOf(maxVersion)) {
    report.error(vs, `spec.sslConfig.parameters: minimumProtocolVersion ${minVersion} is above maximumProtocolVersion ${maxVersion}`);
    return undefined;
  }
  const alpn = listenerAlpn(vs, sc, report);
  const settings: ListenerTlsSettings = {
    alpn,
    ...(minVersion ? { minVersion } : {}),
    ...(maxVersion ? { maxVersion } : {}),
    ...(p?.cipherSuites?.length ? { ciphers: p.cipherSuites } : {}),
    ...(p?.ecdhCurves?.length ? { ecdhCurves: p.ecdhCurves } : {}),
    ...(ca ? { clientCa: ca } : {}),
    verifySubjectAltName: ca ? verifySan : [],
    sessionResumption: !sc.disableTlsSessionResumption,
  };
  return { certificate: { name: refString(vs), sniDomains: sniDomainsOf(vs, sc), ...source }, settings };
}

/**
 * listenerAlpn is what the listener offers: Gloo's default (h2, http/1.1), or the listed
 * protocols meshgate speaks, in the listed order (the server's preference); `allow_empty` alone
 * offers nothing. Protocols meshgate does not speak are left out with a Warning.
 */
function listenerAlpn(vs: Resource<VirtualServiceSpec>, sc: SslConfig, report: Report): string[] {
  const asked = sc.alpnProtocols;
  if (!asked?.length) return [...HTTP_ALPN];
  const spoken = asked.filter((p) => SPOKEN_ALPN.includes(p));
  const unknown = asked.filter((p) => p !== ALLOW_EMPTY && !SPOKEN_ALPN.includes(p));
  if (unknown.length) report.warn(vs, `spec.sslConfig.alpnProtocols: meshgate speaks ${SPOKEN_ALPN.join(' and ')}; not offered: ${unknown.join(', ')}`);
  return [...new Set(spoken)];
}

/** version maps Gloo's protocol version; TLS_AUTO leaves the default. */
function version(v: string | undefined): ir.TlsVersion | undefined {
  return v && v !== 'TLS_AUTO' ? (v as ir.TlsVersion) : undefined;
}

/** sniDomains are sslConfig.sniDomains, else the VirtualService's domains (lower case, no port). */
function sniDomainsOf(vs: Resource<VirtualServiceSpec>, sc: SslConfig): string[] {
  const given = sc.sniDomains?.length ? sc.sniDomains : vs.spec.virtualHost.domains?.length ? vs.spec.virtualHost.domains : ['*'];
  return [...new Set(given.map((d) => d.toLowerCase().replace(/:[0-9]+$/, '')))];
}

/** elsewhere hints at a Secret of that name in another namespace (the default namespaces differ). */
function elsewhere(secrets: ReadonlyMap<string, SecretInfo>, namespace: string, name: string): string {
  const other = [...secrets.values()].find((s) => s.resource.metadata.name === name && s.resource.metadata.namespace !== namespace);
  return other ? ` (a Secret ${other.resource.metadata.namespace}.${name} exists; secretRef.namespace defaults to the virtual service's namespace)` : '';
}

/**
 * listenerTls assembles an ssl Gateway's TLS from its VirtualServices (each with its sslConfig
 * translated). It returns the VirtualServices the listener serves and its TLS, or undefined
 * when none can be served.
 */
export function listenerTls(
  gw: Resource<GatewaySpec>, candidates: readonly Resource<VirtualServiceSpec>[], tlsOf: ReadonlyMap<Resource<VirtualServiceSpec>, VirtualServiceTls>, report: Report,
): { served: Resource<VirtualServiceSpec>[]; tls?: ir.ListenerTls } {
  const ordered = candidates.filter((vs) => tlsOf.has(vs)).sort(
    (a, b) =>
      (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
      a.metadata.namespace.localeCompare(b.metadata.namespace) ||
      a.metadata.name.localeCompare(b.metadata.name),
  );
  const owner = ordered[0];
  if (!owner) return { served: [] };
  const settings = tlsOf.get(owner)!.settings;
  const wanted = ir.canonicalJson(settings);
  const kept = new Set<Resource<VirtualServiceSpec>>();
  const certificates: ir.TlsCertificate[] = [];
  const claimed = new Map<string, string>();
  for (const vs of ordered) {
    const t = tlsOf.get(vs)!;
    if (ir.canonicalJson(t.settings) !== wanted) {
      report.warn(
        vs,
        `spec.sslConfig: its TLS settings (parameters, client CA, verifySubjectAltName, session resumption) differ from those of virtual service ${refString(owner)}, ` +
          `which set the listener's of gateway ${refString(gw)}; not served on that gateway (meshgate applies them per listener)`,
      );
      continue;
    }
    for (const d of t.certificate.sniDomains) {
      const first = claimed.get(d);
      if (first) report.warn(vs, `spec.sslConfig: SNI name ${d} is also claimed by virtual service ${first} on gateway ${refString(gw)}, whose certificate answers it`);
      else claimed.set(d, refString(vs));
    }
    kept.add(vs);
    certificates.push(t.certificate);
  }
  return { served: candidates.filter((vs) => kept.has(vs)), tls: { certificates, ...settings } };
}
