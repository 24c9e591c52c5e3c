/**
 * x509 builds and reads the CA's certificates: the self-signed root, the CA's own TLS serving
 * certificate, workload leaves signed exactly as istiod signs them, and PKCS#10 requests. It is
 * the ONLY module that imports @peculiar/x509; the rest of meshgate sees PEM strings and Secrets.
 *
 * Known cost: issuing a leaf through this library runs at about 580 per second on one core
 * (WebCrypto ECDSA P-256), while OpenSSL signs about 42,000 P-256 signatures per second on the
 * same machine, so the library's ASN.1 building, not the signature, is what costs. The library
 * is kept behind this one module so that it can be replaced without touching its callers.
 */
// Important: reflect-metadata must load before @peculiar/x509, whose tsyringe dependency throws
// at import time without it. ESM evaluates imports in order, so keep this line first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, createPublicKey, randomBytes, verify, webcrypto, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import type { webcrypto as wc } from 'node:crypto';
import { Secret } from '../sds/secret.js';
import { CaRootInvalidError, CsrInvalidError } from './errors.js';

// The project builds without DOM types, so the WebCrypto types come from node:crypto.
type CryptoKey = wc.CryptoKey;
type CryptoKeyPair = wc.CryptoKeyPair;
type SigningAlgorithm = wc.Algorithm | wc.EcdsaParams | wc.RsaHashedImportParams;

// Node's WebCrypto is the only provider meshgate uses; set it once, for every call below.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** KeyAlgorithm names the key types the CA creates or accepts. */
export type KeyAlgorithm = 'ecdsa-p256' | 'ecdsa-p384' | 'rsa';

/** CLOCK_SKEW_GRACE_MS backdates notBefore, as istiod's ClockSkewGracePeriod (2 min) does. */
export const CLOCK_SKEW_GRACE_MS = 2 * 60 * 1000;
/** ROOT_TTL_MS is istiod's CITADEL_SELF_SIGNED_CA_CERT_TTL: 3650 days. */
export const ROOT_TTL_MS = 3650 * 24 * 3600 * 1000;
/** MIN_RSA_BITS is the smallest RSA modulus a CSR may carry (Istio's agent default is 2048). */
export const MIN_RSA_BITS = 2048;
/** MAX_RSA_BITS bounds the work one CSR can cause. */
export const MAX_RSA_BITS = 8192;
/** MAX_CSR_BYTES bounds the PEM text accepted; real CSRs are well under 2 KiB. */
export const MAX_CSR_BYTES = 64 * 1024;

const GENERATE: Record<Exclude<KeyAlgorithm, 'rsa'>, wc.EcKeyGenParams> & { rsa: wc.RsaHashedKeyGenParams } = {
  'ecdsa-p256': { name: 'ECDSA', namedCurve: 'P-256' },
  'ecdsa-p384': { name: 'ECDSA', namedCurve: 'P-384' },
  rsa: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
};

// === PEM helpers ===

/** ensureTrailingNewline returns pem ending in exactly one "\n" (istiod's chain elements do). */
export function ensureTrailingNewline(pem: string): string {
  return `${pem.replace(/\s+$/, '')}\n`;
}

/** splitPemCertificates returns every CERTIFICATE block in text, each ending in "\n". */
export function splitPemCertificates(text: string): string[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => `${m[0]}\n`);
}

function keyToPkcs8Pem(key: KeyObject): Secret {
  return new Secret(key.export({ type: 'pkcs8', format: 'pem' }).toString());
}

async function exportPkcs8(key: CryptoKey): Promise<Secret> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return keyToPkcs8Pem(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
}

/** keyAlgorithmOf names a Node key's type, or returns undefined for anything the CA does not use. */
function keyAlgorithmOf(key: KeyObject): { alg: KeyAlgorithm; bits?: number } | undefined {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec' && d?.namedCurve === 'prime256v1') return { alg: 'ecdsa-p256' };
  if (key.asymmetricKeyType === 'ec' && d?.namedCurve === 'secp384r1') return { alg: 'ecdsa-p384' };
  if (key.asymmetricKeyType === 'rsa') return { alg: 'rsa', bits: d?.modulusLength ?? 0 };
  return undefined;
}

function signingAlgorithm(alg: KeyAlgorithm): SigningAlgorithm {
  if (alg === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  return { name: 'ECDSA', hash: alg === 'ecdsa-p384' ? 'SHA-384' : 'SHA-256' };
}

async function generateKeys(alg: KeyAlgorithm): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(GENERATE[alg], true, ['sign', 'verify'])) as CryptoKeyPair;
}

function pemOf(cert: x509.X509Certificate | x509.Pkcs10CertificateRequest): string {
  return ensureTrailingNewline(cert.toString('pem'));
}

// === Root and signer ===

/** RootMaterial is a root certificate and its private key, as stored on disk. */
export interface RootMaterial {
  readonly certPem: string;
  readonly keyPem: Secret;
}

/**
 * createRoot makes a self-signed root as istiod's self-signed CA does: subject `O=<trust
 * domain>`, 10 years, CA:true, keyCertSign + cRLSign (ECDSA P-256 here by default; istiod
 * defaults to RSA 2048). With `keyPem` it re-issues the root for an existing key, as Istio's
 * GenRootCertFromExistingKey does, so chains signed before stay valid.
 */
export async function createRoot(opts: { trustDomain: string; algorithm?: KeyAlgorithm; keyPem?: Secret; now?: Date }): Promise<RootMaterial> {
  const now = opts.now ?? new Date();
  let keys: CryptoKeyPair;
  let alg: KeyAlgorithm;
  if (opts.keyPem) {
    const imported = await importPrivateKey(opts.keyPem);
    alg = imported.alg;
    const spki = createPublicKey(imported.node).export({ type: 'spki', format: 'der' });
    const publicKey = await webcrypto.subtle.importKey('spki', spki, GENERATE[alg], true, ['verify']);
    keys = { privateKey: imported.key, publicKey } as CryptoKeyPair;
  } else {
    alg = opts.algorithm ?? 'ecdsa-p256';
    keys = await generateKeys(alg);
  }
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ O: [opts.trustDomain] }],
    keys,
    signingAlgorithm: signingAlgorithm(alg),
    notBefore: new Date(now.getTime() - CLOCK_SKEW_GRACE_MS),
    notAfter: new Date(now.getTime() + ROOT_TTL_MS),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: pemOf(cert), keyPem: opts.keyPem ?? (await exportPkcs8(keys.privateKey)) };
}

async function importPrivateKey(keyPem: Secret): Promise<{ key: CryptoKey; node: KeyObject; alg: KeyAlgorithm }> {
  const node = createPrivateKey(keyPem.reveal());
  const kind = keyAlgorithmOf(node);
  if (!kind) throw new CaRootInvalidError(`unsupported CA key type ${node.asymmetricKeyType ?? 'unknown'}`);
  const der = node.export({ type: 'pkcs8', format: 'der' });
  // Not extractable: once imported, the key never leaves WebCrypto again.
  const key = await webcrypto.subtle.importKey('pkcs8', der, GENERATE[kind.alg], false, ['sign']);
  return { key, node, alg: kind.alg };
}

/** CaSigner is a loaded root (certificate + private key) ready to sign; build it with loadSigner. */
export class CaSigner {
  /** certPem is the root certificate, ending in "\n". */
  readonly certPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly #cert: x509.X509Certificate;
  readonly #key: CryptoKey;
  readonly #alg: SigningAlgorithm;
  // Extensions every leaf carries are built once: the library's ASN.1 work is the issuing cost.
  readonly #leafExtensions: readonly x509.Extension[];

  /** @internal Use loadSigner. */
  constructor(cert: x509.X509Certificate, key: CryptoKey, alg: KeyAlgorithm, leafExtensions: x509.Extension[]) {
    this.#cert = cert;
    this.#key = key;
    this.#alg = signingAlgorithm(alg);
    this.certPem = pemOf(cert);
    this.notBefore = cert.notBefore;
    this.notAfter = cert.notAfter;
    this.#leafExtensions = leafExtensions;
  }

  /** @internal Signs a certificate for publicKey with the given SANs and extensions. */
  async issue(p: {
    publicKey: Buffer | CryptoKey;
    sans: x509.JsonGeneralNames;
    extensions: readonly x509.Extension[];
    ttlMs: number;
    now?: Date;
  }): Promise<IssuedCert> {
    const now = p.now ?? new Date();
    // istiod refuses to sign with an expired signer rather than issue a dead certificate.
    if (now.getTime() >= this.notAfter.getTime()) throw new CaRootInvalidError(`root certificate expired at ${this.notAfter.toISOString()}`);
    const notAfter = new Date(Math.min(now.getTime() + p.ttlMs, this.notAfter.getTime()));
    const cert = await x509.X509CertificateGenerator.create({
      // 128 random bits, as istiod's serial; the library strips leading zeros and keeps it positive.
      serialNumber: randomBytes(16).toString('hex'),
      // The subject stays empty (Istio): the identity lives only in the SAN, marked critical
      // because RFC 5280 §4.2.1.6 requires that when the subject is empty.
      issuer: this.#cert.subjectName,
      notBefore: new Date(now.getTime() - CLOCK_SKEW_GRACE_MS),
      notAfter,
      publicKey: p.publicKey,
      signingKey: this.#key,
      signingAlgorithm: this.#alg,
      extensions: [new x509.SubjectAlternativeNameExtension(p.sans, true), ...p.extensions, ...this.#leafExtensions],
    });
    return { pem: pemOf(cert), serial: cert.serialNumber, notBefore: cert.notBefore, notAfter: cert.notAfter };
  }
}

/** IssuedCert is one certificate the CA signed. */
export interface IssuedCert {
  readonly pem: string;
  /** serial is the serial number in hex, for logs. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/**
 * loadSigner checks a stored root and its key and returns a signer: the certificate must be a
 * CA, the key must be the certificate's key, and the root must not have expired.
 */
export async function loadSigner(root: RootMaterial, now: Date = new Date()): Promise<CaSigner> {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(root.certPem);
  } catch (err) {
    throw new CaRootInvalidError('root certificate is not a PEM certificate', { cause: err });
  }
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (!bc?.ca) throw new CaRootInvalidError('root certificate is not a CA certificate (basicConstraints CA:TRUE missing)');
  if (now.getTime() >= cert.notAfter.getTime()) {
    throw new CaRootInvalidError(`root certificate expired at ${cert.notAfter.toISOString()}; move the ca directory away to create a new root`);
  }
  let imported: Awaited<ReturnType<typeof importPrivateKey>>;
  try {
    imported = await importPrivateKey(root.keyPem);
  } catch (err) {
    if (err instanceof CaRootInvalidError) throw err;
    throw new CaRootInvalidError('root key is not a PEM private key', { cause: err });
  }
  const keySpki = createPublicKey(imported.node).export({ type: 'spki', format: 'der' });
  if (!keySpki.equals(Buffer.from(cert.publicKey.rawData))) throw new CaRootInvalidError('root key does not belong to the root certificate');

  // Go's x509 (and so istiod) adds the issuer's key id as the leaf's authority key identifier.
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const aki = ski ? [new x509.AuthorityKeyIdentifierExtension(ski.keyId)] : [await x509.AuthorityKeyIdentifierExtension.create(cert.publicKey)];
  return new CaSigner(cert, imported.key, imported.alg, aki);
}

// === Workload leaves ===

// KeyUsage and BasicConstraints are critical, as Go's x509 marks them in istiod's leaves.
const WORKLOAD_EXTENSIONS: readonly x509.Extension[] = [
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
  new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
  new x509.BasicConstraintsExtension(false, undefined, true),
];

/** CertificateRequest is a parsed CSR whose signature and key were checked by parseCsr. */
export class CertificateRequest {
  /** keyAlgorithm is the requested key's type; `keyBits` is set for RSA. */
  readonly keyAlgorithm: KeyAlgorithm;
  readonly keyBits: number | undefined;
  readonly #der: Buffer;
  readonly #spki: Buffer;

  /** @internal Use parseCsr. */
  constructor(der: Buffer, spki: Buffer, alg: KeyAlgorithm, bits: number | undefined) {
    this.#der = der;
    this.#spki = spki;
    this.keyAlgorithm = alg;
    this.keyBits = bits;
  }

  /** @internal The key the certificate will certify, as DER SubjectPublicKeyInfo. */
  get spki(): Buffer {
    return this.#spki;
  }

  /**
   * requestedUris are the URI SANs the CSR asks for. The CA ignores them (Istio does too); they
   * are read only when asked for, for debug logs, because the library's parse is the slow part.
   */
  get requestedUris(): string[] {
    // Spread first: the library's Extensions array subclass would carry over into filter().
    return [...new x509.Pkcs10CertificateRequest(this.#der).extensions]
      .filter((e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension)
      .flatMap((e) => e.names.items.filter((n) => n.type === 'url').map((n) => n.value));
  }
}

// Signature algorithms a CSR may use (DER of the OID) and the hash each implies. RSA-PSS and
// anything else is refused: neither Istio's agent nor meshgate's client writes them.
const CSR_SIGNATURE_HASHES: ReadonlyMap<string, string> = new Map([
  ['2a8648ce3d040302', 'sha256'], // ecdsa-with-SHA256
  ['2a8648ce3d040303', 'sha384'], // ecdsa-with-SHA384
  ['2a8648ce3d040304', 'sha512'], // ecdsa-with-SHA512
  ['2a864886f70d01010b', 'sha256'], // sha256WithRSAEncryption
  ['2a864886f70d01010c', 'sha384'], // sha384WithRSAEncryption
  ['2a864886f70d01010d', 'sha512'], // sha512WithRSAEncryption
]);

/** derChildren splits a DER SEQUENCE into its elements' complete encodings (tag, length, value). */
function derChildren(seq: Buffer): Buffer[] {
  const outer = derElement(seq, 0);
  if (seq[0] !== 0x30 || outer.end !== seq.length) throw new Error('not a single DER SEQUENCE');
  const out: Buffer[] = [];
  for (let off = outer.valueStart; off < outer.end; ) {
    const el = derElement(seq, off);
    if (el.end > outer.end) throw new Error('DER element overruns its SEQUENCE');
    out.push(seq.subarray(off, el.end));
    off = el.end;
  }
  return out;
}

function derElement(buf: Buffer, off: number): { valueStart: number; end: number } {
  if (off + 2 > buf.length) throw new Error('truncated DER');
  let len = buf[off + 1]!;
  let valueStart = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || valueStart + n > buf.length) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[valueStart + i]!;
    valueStart += n;
  }
  const end = valueStart + len;
  if (end > buf.length) throw new Error('truncated DER');
  return { valueStart, end };
}

function derValue(el: Buffer): Buffer {
  return el.subarray(derElement(el, 0).valueStart);
}

/**
 * parseCsr reads a PEM PKCS#10 request and checks what the CA relies on: it parses, its key is
 * ECDSA P-256/P-384 or RSA of at least 2048 bits, and its self-signature verifies (so the caller
 * holds the private key). Anything else throws CsrInvalidError. The structure is walked and the
 * signature checked with node:crypto rather than the library: the CA uses nothing else from the
 * request, and the library's parse and verify cost as much as the issuance itself.
 */
export async function parseCsr(pem: string): Promise<CertificateRequest> {
  if (typeof pem !== 'string' || pem.length === 0) throw new CsrInvalidError('empty certificate request');
  if (pem.length > MAX_CSR_BYTES) throw new CsrInvalidError(`certificate request is larger than ${MAX_CSR_BYTES} bytes`);
  const block = /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----([\s\S]*?)-----END (?:NEW )?CERTIFICATE REQUEST-----/.exec(pem);
  if (!block) throw new CsrInvalidError('not a PEM certificate request');
  const der = Buffer.from(block[1]!.replace(/\s+/g, ''), 'base64');
  let info: Buffer, spki: Buffer, hash: string | undefined, signature: Buffer, key: KeyObject;
  try {
    // CertificationRequest ::= SEQUENCE { info, signatureAlgorithm, signature BIT STRING }
    // CertificationRequestInfo ::= SEQUENCE { version INTEGER (0), subject, subjectPKInfo, [0] attributes }
    const parts = derChildren(der);
    if (parts.length !== 3) throw new Error('a certificate request has three parts');
    [info, , signature] = parts as [Buffer, Buffer, Buffer];
    const fields = derChildren(info);
    if (fields.length < 3 || fields[0]![0] !== 0x02 || !derValue(fields[0]!).equals(Buffer.from([0]))) throw new Error('unknown certificate request version');
    spki = fields[2]!;
    const oid = derChildren(parts[1]!)[0];
    hash = oid && oid[0] === 0x06 ? CSR_SIGNATURE_HASHES.get(derValue(oid).toString('hex')) : undefined;
    if (signature[0] !== 0x03 || derValue(signature)[0] !== 0) throw new Error('bad signature bit string');
    signature = derValue(signature).subarray(1);
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch (err) {
    throw new CsrInvalidError('certificate request cannot be parsed', { cause: err });
  }
  const kind = keyAlgorithmOf(key);
  if (!kind) {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    throw new CsrInvalidError(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'}${curve ? ` (${curve})` : ''}; use ECDSA P-256/P-384 or RSA`);
  }
  if (kind.alg === 'rsa' && (kind.bits ?? 0) < MIN_RSA_BITS) throw new CsrInvalidError(`rsa key of ${kind.bits} bits is too weak; at least ${MIN_RSA_BITS} are required`);
  if (kind.alg === 'rsa' && (kind.bits ?? 0) > MAX_RSA_BITS) throw new CsrInvalidError(`rsa key of ${kind.bits} bits is larger than ${MAX_RSA_BITS}`);
  if (!hash) throw new CsrInvalidError('unsupported certificate request signature algorithm');
  let ok = false;
  try {
    ok = verify(hash, info, key, signature);
  } catch (err) {
    throw new CsrInvalidError('certificate request signature does not verify', { cause: err });
  }
  if (!ok) throw new CsrInvalidError('certificate request signature does not verify');
  return new CertificateRequest(der, Buffer.from(spki), kind.alg, kind.bits);
}

/**
 * signWorkloadCertificate signs a leaf exactly as istiod does (istio-compat.md §2.5): empty
 * subject, one URI SAN (the caller's identity) in a critical SAN extension, KeyUsage
 * digitalSignature + keyEncipherment, ExtKeyUsage serverAuth + clientAuth, CA:false,
 * notBefore now − 2 min, notAfter now + ttl clamped to the root's notAfter, random serial.
 */
export async function signWorkloadCertificate(
  signer: CaSigner,
  csr: CertificateRequest,
  opts: { identity: string; ttlSeconds: number; now?: Date },
): Promise<IssuedCert> {
  return signer.issue({
    publicKey: csr.spki,
    sans: [{ type: 'url', value: opts.identity }],
    extensions: WORKLOAD_EXTENSIONS,
    ttlMs: opts.ttlSeconds * 1000,
    now: opts.now,
  });
}

// === The CA's own TLS certificate ===

/** CA_SERVING_NAMES are the names the CA's serving certificate answers to (istiod's service name first). */
export const CA_SERVING_NAMES: readonly string[] = ['istiod.istio-system.svc', 'localhost', '127.0.0.1', '::1'];

/**
 * createServingCertificate makes a fresh P-256 key and a ServerAuth certificate for it, signed
 * by the root, naming `names` (DNS names, or IP addresses for IP SANs).
 */
export async function createServingCertificate(
  signer: CaSigner,
  opts: { names?: readonly string[]; ttlSeconds?: number; now?: Date } = {},
): Promise<{ certPem: string; key: Secret }> {
  const keys = await generateKeys('ecdsa-p256');
  const sans: x509.JsonGeneralNames = (opts.names ?? CA_SERVING_NAMES).map((n) => ({ type: isIP(n) ? 'ip' : 'dns', value: n }));
  const issued = await signer.issue({
    publicKey: keys.publicKey,
    sans,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.BasicConstraintsExtension(false, undefined, true),
    ],
    ttlMs: (opts.ttlSeconds ?? 365 * 24 * 3600) * 1000,
    now: opts.now,
  });
  return { certPem: issued.pem, key: await exportPkcs8(keys.privateKey) };
}

// === Client side: key + CSR ===

/**
 * createCsr makes a PEM CSR for an existing key pair (any type the CA knows), with an empty
 * subject and, when given, the identity as a URI SAN, as Istio's agent writes its CSRs.
 */
export async function createCsr(keys: CryptoKeyPair, identity?: string): Promise<string> {
  const node = createPublicKey({ key: Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey)), format: 'der', type: 'spki' });
  const kind = keyAlgorithmOf(node);
  if (!kind) throw new CsrInvalidError(`cannot write a certificate request for a ${node.asymmetricKeyType ?? 'unknown'} key`);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: signingAlgorithm(kind.alg),
    extensions: identity ? [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: identity }], true)] : [],
  });
  return pemOf(csr);
}

/**
 * createClientKeyAndCsr makes an ECDSA P-256 key and a CSR for it, for a workload asking the CA
 * for a certificate. The key comes back as a PKCS#8 PEM Secret.
 */
export async function createClientKeyAndCsr(identity?: string): Promise<{ csrPem: string; key: Secret }> {
  const keys = await generateKeys('ecdsa-p256');
  return { csrPem: await createCsr(keys, identity), key: await exportPkcs8(keys.privateKey) };
}

/** generateKeyPair makes an extractable WebCrypto key pair (tests use RSA ones to build weak CSRs). */
export async function generateKeyPair(alg: KeyAlgorithm, rsaBits = 2048): Promise<CryptoKeyPair> {
  if (alg !== 'rsa') return generateKeys(alg);
  return (await webcrypto.subtle.generateKey({ ...GENERATE.rsa, modulusLength: rsaBits }, true, ['sign', 'verify'])) as CryptoKeyPair;
}
