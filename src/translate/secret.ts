/**
 * Secret translation: check each Secret's data, and for a `kubernetes.io/tls` Secret its
 * certificate chain, key and optional CA (they must parse, and the key must match the
 * certificate). Checks run at translation time, so a bad Secret is Rejected with the field named
 * (Kubernetes would refuse a TLS Secret without its keys on write; meshgate reports it instead,
 * the way it reports every other semantic problem). Messages never carry a value or a library's
 * error text: a status is readable by anyone who can `get` the resource.
 *
 * The decoded material is returned to the control plane for the proxy's SecretSource; it never
 * enters a snapshot.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { CA_CERT_KEY, TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY, TLS_SECRET_TYPE, type SecretResource } from '../api/core/secret.js';
import type { Report } from './report.js';

/** TlsSecretMaterial is a TLS Secret decoded: PEM text, for the proxy only. */
export interface TlsSecretMaterial {
  readonly certPem: string;
  readonly keyPem: string;
  readonly caPem?: string;
}

/** SecretInfo is what VirtualServices need to know about one Secret. */
export interface SecretInfo {
  readonly resource: SecretResource;
  readonly type: string;
  /** problem is the first reason the Secret is rejected, if it is. */
  readonly problem?: string;
  /** tls is the decoded material of a valid TLS Secret. */
  readonly tls?: TlsSecretMaterial;
}

/** secretKey is the lookup key of a Secret: `namespace/name`. */
export function secretKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** BASE64 is standard base64 with padding, as Kubernetes decodes `data` values. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** translateSecrets checks every Secret and reports problems on it; the result is keyed by secretKey. */
export function translateSecrets(secrets: readonly SecretResource[], report: Report): Map<string, SecretInfo> {
  const out = new Map<string, SecretInfo>();
  for (const s of secrets) out.set(secretKey(s.metadata.namespace, s.metadata.name), translateSecret(s, report));
  return out;
}

/** translateSecret checks one Secret; it depends on nothing else. */
export function translateSecret(s: SecretResource, report: Report): SecretInfo {
  report.saw(s);
  const problems = checkSecret(s);
  for (const p of problems.errors) report.error(s, p);
  return {
    resource: s,
    type: s.type,
    ...(problems.errors[0] ? { problem: problems.errors[0] } : {}),
    ...(problems.errors.length === 0 && problems.tls ? { tls: problems.tls } : {}),
  };
}

function checkSecret(s: SecretResource): { errors: string[]; tls?: TlsSecretMaterial } {
  const errors: string[] = [];
  const data = s.data ?? {};
  const decoded = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(data)) {
    if (!BASE64.test(v)) errors.push(`data.${k}: is not valid base64`);
    else decoded.set(k, Buffer.from(v, 'base64'));
  }
  if (s.type !== TLS_SECRET_TYPE) return { errors };
  for (const k of [TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY]) {
    if (data[k] === undefined) errors.push(`data.${k}: required for a ${TLS_SECRET_TYPE} Secret`);
  }
  const certPem = decoded.get(TLS_CERT_KEY)?.toString('utf8');
  const keyPem = decoded.get(TLS_PRIVATE_KEY_KEY)?.toString('utf8');
  const caPem = decoded.get(CA_CERT_KEY)?.toString('utf8');
  const chain = certPem === undefined ? undefined : parseCertificates(certPem, `data.${TLS_CERT_KEY}`, errors);
  const key = keyPem === undefined ? undefined : parseKey(keyPem, `data.${TLS_PRIVATE_KEY_KEY}`, errors);
  if (caPem !== undefined) parseCertificates(caPem, `data.${CA_CERT_KEY}`, errors);
  const leaf = chain?.[0];
  if (leaf && key && !leaf.checkPrivateKey(key)) errors.push(`data.${TLS_PRIVATE_KEY_KEY}: does not match the certificate in data.${TLS_CERT_KEY}`);
  if (errors.length || certPem === undefined || keyPem === undefined) return { errors };
  return { errors, tls: { certPem, keyPem, ...(caPem !== undefined ? { caPem } : {}) } };
}

/** parseCertificates reads every PEM certificate in text; problems name the field. */
export function parseCertificates(text: string, field: string, errors: string[]): X509Certificate[] | undefined {
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) {
    errors.push(`${field}: holds no PEM certificate`);
    return undefined;
  }
  const out: X509Certificate[] = [];
  for (const [i, b] of blocks.entries()) {
    try {
      out.push(new X509Certificate(b));
    } catch {
      errors.push(`${field}: certificate ${i + 1} does not parse`);
      return undefined;
    }
  }
  return out;
}

/** parseKey reads a PEM private key; an encrypted one is refused (there is no passphrase field). */
function parseKey(text: string, field: string, errors: string[]): KeyObject | undefined {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
    errors.push(`${field}: is an encrypted private key; store it unencrypted (the file is kept with mode 0600)`);
    return undefined;
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    errors.push(`${field}: holds no PEM private key`);
    return undefined;
  }
  try {
    return createPrivateKey({ key: text, format: 'pem' });
  } catch {
    errors.push(`${field}: the private key does not parse`);
    return undefined;
  }
}
