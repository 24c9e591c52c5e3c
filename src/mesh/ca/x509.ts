/**
 * x509 builds and reads the CA's certificates: the self-signed root, the CA's own TLS serving
 * certificate, workload leaves signed exactly as istiod signs them, and PKCS#10 requests. It is
 * the ONLY module that imports @peculiar/x509; the rest of meshgate sees PEM strings and Secrets.
 *
 * Cost (issue #5; `node bench/ca.mjs`, docs/performance.md "CA issuance"): workload leaves, the
 * hot path, do not go through the library. A leaf's TBSCertificate is a fixed template with four
 * variable fields (serial, validity, the CSR's SubjectPublicKeyInfo copied as is, the URI SAN);
 * the rest (issuer name, AlgorithmIdentifier, the four fixed extensions, the signing KeyObject)
 * is built once per signer in loadSigner, the DER is written with ./der.ts and signed with
 * node:crypto `sign` (OpenSSL). CSRs are walked with ./der.ts, their key imported without
 * OpenSSL 3's slow generic SPKI decoder where the shape allows (csrPublicKey), and verified with
 * node:crypto `verify`. A P-256 CSR in, PEM chain out, now costs about 0.2 ms on one core of the
 * 2-core bench machine (about 4,600 per second, median of 5 runs), most of it OpenSSL's: import
 * the CSR's key, verify its signature, sign the leaf. Through the library it cost about 2 ms
 * (about 450 per second): its ASN.1 object model and WebCrypto, not the signature. The library
 * still makes the root and the CA's serving certificate (rare), reads stored roots and debug-only
 * CSR fields, and is the reference the DER template is tested against, byte for byte
 * (x509.test.ts: signWorkloadCertificateWithLibrary).
 */
// Important: reflect-metadata must load before @peculiar/x509, whose tsyringe dependency throws
// at import time without it. ESM evaluates imports in order, so keep this line first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, createPublicKey, randomBytes, sign, verify, webcrypto, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import type { webcrypto as wc } from 'node:crypto';
import { Secret } from '../sds/secret.js';
import * as der from './der.js';
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
  // Extensions every library-built certificate carries (the authority key identifier).
  readonly #leafExtensions: readonly x509.Extension[];
  // Everything a workload leaf shares with every other one, encoded once (see LeafTemplate).
  readonly #template: LeafTemplate;

  /** @internal Use loadSigner. */
  constructor(cert: x509.X509Certificate, key: CryptoKey, alg: KeyAlgorithm, leafExtensions: x509.Extension[], template: LeafTemplate) {
    this.#cert = cert;
    this.#key = key;
    this.#alg = signingAlgorithm(alg);
    this.certPem = pemOf(cert);
    this.notBefore = cert.notBefore;
    this.notAfter = cert.notAfter;
    this.#leafExtensions = leafExtensions;
    this.#template = template;
  }

  #validity(now: Date, ttlMs: number): { notBefore: Date; notAfter: Date } {
    // istiod refuses to sign with an expired signer rather than issue a dead certificate.
    if (now.getTime() >= this.notAfter.getTime()) throw new CaRootInvalidError(`root certificate expired at ${this.notAfter.toISOString()}`);
    return { notBefore: new Date(now.getTime() - CLOCK_SKEW_GRACE_MS), notAfter: new Date(Math.min(now.getTime() + ttlMs, this.notAfter.getTime())) };
  }

  /**
   * @internal Signs a certificate for publicKey with the given SANs and extensions through
   * @peculiar/x509: the CA's serving certificate, and the reference workload leaves are tested
   * against. `serialNumber` (hex) is for those tests; by default the serial is random.
   */
  async issue(p: {
    publicKey: Buffer | CryptoKey;
    sans: x509.JsonGeneralNames;
    extensions: readonly x509.Extension[];
    ttlMs: number;
    now?: Date;
    serialNumber?: string;
  }): Promise<IssuedCert> {
    const { notBefore, notAfter } = this.#validity(p.now ?? new Date(), p.ttlMs);
    const cert = await x509.X509CertificateGenerator.create({
      // 128 random bits, as istiod's serial; the library strips leading zeros and keeps it positive.
      serialNumber: p.serialNumber ?? randomBytes(16).toString('hex'),
      // The subject stays empty (Istio): the identity lives only in the SAN, marked critical
      // because RFC 5280 §4.2.1.6 requires that when the subject is empty.
      issuer: this.#cert.subjectName,
      notBefore,
      notAfter,
      publicKey: p.publicKey,
      signingKey: this.#key,
      signingAlgorithm: this.#alg,
      extensions: [new x509.SubjectAlternativeNameExtension(p.sans, true), ...p.extensions, ...this.#leafExtensions],
    });
    return { pem: pemOf(cert), serial: cert.serialNumber, notBefore: cert.notBefore, notAfter: cert.notAfter };
  }

  /**
   * @internal Signs a workload leaf (istio-compat.md §2.5) for a DER SubjectPublicKeyInfo and one
   * URI SAN, from the DER template: byte for byte what issue() writes for the same serial, time
   * and key with WORKLOAD_EXTENSIONS. `serial` (big-endian bytes) is for tests; by default 16
   * random bytes, as istiod's 128-bit serial.
   */
  issueWorkload(p: { spki: Buffer; uri: string; ttlMs: number; now?: Date; serial?: Buffer }): IssuedCert {
    const t = this.#template;
    const { notBefore, notAfter } = this.#validity(p.now ?? new Date(), p.ttlMs);
    const serial = der.unsignedInteger(p.serial ?? randomBytes(16));
    const tbs = der.sequence(
      VERSION_3,
      serial.der,
      t.signatureAlgorithm,
      t.issuer,
      der.sequence(der.time(notBefore), der.time(notAfter)),
      EMPTY_NAME, // The subject stays empty (Istio); the identity lives only in the critical SAN.
      p.spki,
      der.contextExplicit(3, der.sequence(uriSanExtension(p.uri), t.fixedExtensions)),
    );
    const signature = sign(t.hash, tbs, { key: t.key, dsaEncoding: 'der' });
    const cert = der.sequence(tbs, t.signatureAlgorithm, der.bitString(signature));
    return { pem: pemCertificate(cert), serial: serial.magnitude.toString('hex'), notBefore: der.wholeSeconds(notBefore), notAfter: der.wholeSeconds(notAfter) };
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
  const aki = ski ? new x509.AuthorityKeyIdentifierExtension(ski.keyId) : await x509.AuthorityKeyIdentifierExtension.create(cert.publicKey);
  if (!aki.keyId) throw new CaRootInvalidError('cannot derive the root key identifier');
  let template: LeafTemplate;
  try {
    template = leafTemplate(Buffer.from(cert.rawData), imported.node, imported.alg, Buffer.from(aki.keyId, 'hex'));
  } catch (err) {
    throw new CaRootInvalidError('root certificate cannot be read', { cause: err });
  }
  return new CaSigner(cert, imported.key, imported.alg, [aki], template);
}

// === Workload leaves ===

// KeyUsage and BasicConstraints are critical, as Go's x509 marks them in istiod's leaves. These
// are the library's objects, for the reference path (signWorkloadCertificateWithLibrary); the CA
// writes the same extensions from the DER template below.
const WORKLOAD_EXTENSIONS: readonly x509.Extension[] = [
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
  new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
  new x509.BasicConstraintsExtension(false, undefined, true),
];

// --- The DER template of a workload leaf ---
//
// Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
// TBSCertificate ::= SEQUENCE {
//   version [0] EXPLICIT v3, serialNumber (random, 128 bits), signature AlgorithmIdentifier,
//   issuer (the root's subject, its exact bytes), validity { notBefore, notAfter },
//   subject (empty), subjectPublicKeyInfo (the CSR's, as is),
//   extensions [3] EXPLICIT { SAN (critical, one URI), KeyUsage (critical), ExtKeyUsage,
//                             BasicConstraints (critical, CA:FALSE), AuthorityKeyIdentifier } }
// The extensions come in the order the library-built leaves had them, so both are identical.

const OID = {
  subjectAltName: '2.5.29.17',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  sha256WithRsa: '1.2.840.113549.1.1.11',
} as const;

const VERSION_3 = der.contextExplicit(0, der.smallInteger(2));
const EMPTY_NAME = der.sequence();
const SAN_OID = der.oid(OID.subjectAltName);
const CRITICAL = der.boolean(true);
// KeyUsage bits (RFC 5280 §4.2.1.3): digitalSignature (0), keyEncipherment (2).
const KEY_USAGE_DIGITAL_SIGNATURE = 0;
const KEY_USAGE_KEY_ENCIPHERMENT = 2;

/** extension is Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }. */
function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return critical ? der.sequence(der.oid(oid), CRITICAL, der.octetString(value)) : der.sequence(der.oid(oid), der.octetString(value));
}

/** uriSanExtension is a critical subjectAltName holding one uniformResourceIdentifier ([6] IA5String). */
function uriSanExtension(uri: string): Buffer {
  return der.sequence(SAN_OID, CRITICAL, der.octetString(der.sequence(der.contextIa5(6, uri))));
}

/** WORKLOAD_FIXED_EXTENSIONS are a workload leaf's extensions after the SAN, except the AKI (per root). */
const WORKLOAD_FIXED_EXTENSIONS: Buffer = Buffer.concat([
  extension(OID.keyUsage, true, der.namedBits([KEY_USAGE_DIGITAL_SIGNATURE, KEY_USAGE_KEY_ENCIPHERMENT])),
  extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth), der.oid(OID.clientAuth))),
  extension(OID.basicConstraints, true, der.sequence()), // cA DEFAULT FALSE: DER leaves it out
]);

/** LeafTemplate is what every workload leaf of one signer shares, encoded once. */
interface LeafTemplate {
  /** signatureAlgorithm is the AlgorithmIdentifier, in the TBS and again after it. */
  readonly signatureAlgorithm: Buffer;
  /** issuer is the root's subject Name, its exact bytes. */
  readonly issuer: Buffer;
  /** fixedExtensions are KeyUsage, ExtKeyUsage, BasicConstraints and the AKI, concatenated. */
  readonly fixedExtensions: Buffer;
  readonly hash: 'sha256' | 'sha384';
  /** key is the root's private key as a node:crypto KeyObject (OpenSSL signs with it). */
  readonly key: KeyObject;
}

/** leafTemplate encodes the per-signer parts of a workload leaf from the root's DER and key. */
function leafTemplate(rootDer: Buffer, key: KeyObject, alg: KeyAlgorithm, keyId: Buffer): LeafTemplate {
  // Certificate → tbsCertificate → [version], serial, signature, issuer, validity, subject, ...
  const tbs = der.children(der.children(rootDer)[0]!);
  const first = tbs[0]![0] === 0xa0 ? 1 : 0;
  const subject = tbs[first + 4];
  if (!subject || subject[0] !== der.TAG.SEQUENCE) throw new Error('root certificate has no subject Name');
  const signatureAlgorithm =
    alg === 'rsa'
      ? der.sequence(der.oid(OID.sha256WithRsa), der.nullValue()) // RFC 4055: NULL parameters for RSA
      : der.sequence(der.oid(alg === 'ecdsa-p384' ? OID.ecdsaWithSha384 : OID.ecdsaWithSha256)); // RFC 5758: none for ECDSA
  const aki = extension(OID.authorityKeyIdentifier, false, der.sequence(der.contextPrimitive(0, keyId)));
  return {
    signatureAlgorithm,
    issuer: Buffer.from(subject),
    fixedExtensions: Buffer.concat([WORKLOAD_FIXED_EXTENSIONS, aki]),
    hash: alg === 'ecdsa-p384' ? 'sha384' : 'sha256',
    key,
  };
}

/** pemCertificate writes DER as a CERTIFICATE block: 64-character lines, ending in "\n". */
function pemCertificate(body: Buffer): string {
  const b64 = body.toString('base64');
  let out = '-----BEGIN CERTIFICATE-----\n';
  for (let i = 0; i < b64.length; i += 64) out += `${b64.slice(i, i + 64)}\n`;
  return `${out}-----END CERTIFICATE-----\n`;
}

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

// SubjectPublicKeyInfo of an uncompressed EC point on P-256 / P-384, up to the point's 0x04:
// SEQUENCE { SEQUENCE { id-ecPublicKey, namedCurve }, BIT STRING { 00 04 X Y } }.
const EC_SPKI: readonly { alg: KeyAlgorithm; crv: string; prefix: Buffer; size: number }[] = [
  { alg: 'ecdsa-p256', crv: 'P-256', prefix: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex'), size: 32 },
  { alg: 'ecdsa-p384', crv: 'P-384', prefix: Buffer.from('3076301006072a8648ce3d020106052b8104002203620004', 'hex'), size: 48 },
];
// AlgorithmIdentifier { rsaEncryption, NULL } of an RSA SubjectPublicKeyInfo.
const RSA_ALGORITHM = Buffer.from('300d06092a864886f70d0101010500', 'hex');

/**
 * csrPublicKey makes a node:crypto key from a CSR's DER SubjectPublicKeyInfo. OpenSSL 3's
 * generic SPKI decoder costs about as much as verifying the signature, so the two shapes
 * workloads send are read more directly, from the same bytes the certificate will carry: an
 * uncompressed P-256/P-384 point (exactly the canonical prefix above, then X and Y) is imported
 * as a JWK, whose import checks that the point is on the curve; an RSA key's RSAPublicKey is
 * imported as PKCS#1. Anything else goes through the SPKI decoder. Throws if the key is bad.
 */
function csrPublicKey(spki: Buffer): { key: KeyObject; kind: ReturnType<typeof keyAlgorithmOf> } {
  for (const ec of EC_SPKI) {
    if (spki.length === ec.prefix.length + 2 * ec.size && spki.subarray(0, ec.prefix.length).equals(ec.prefix)) {
      const x = spki.toString('base64url', ec.prefix.length, ec.prefix.length + ec.size);
      const y = spki.toString('base64url', ec.prefix.length + ec.size);
      return { key: createPublicKey({ key: { kty: 'EC', crv: ec.crv, x, y }, format: 'jwk' }), kind: { alg: ec.alg } };
    }
  }
  const [alg, bits, ...rest] = der.children(spki);
  if (alg?.equals(RSA_ALGORITHM) && bits?.[0] === der.TAG.BIT_STRING && rest.length === 0) {
    const body = der.contents(bits);
    if (body[0] !== 0) throw new Error('bad public key bit string');
    const rsaPublicKey = body.subarray(1);
    // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }, filling the BIT STRING.
    const ints = der.children(rsaPublicKey);
    if (ints.length !== 2 || ints.some((i) => i[0] !== der.TAG.INTEGER)) throw new Error('bad RSAPublicKey');
    const key = createPublicKey({ key: rsaPublicKey, format: 'der', type: 'pkcs1' });
    return { key, kind: keyAlgorithmOf(key) };
  }
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  return { key, kind: keyAlgorithmOf(key) };
}

/**
 * parseCsr reads a PEM PKCS#10 request and checks what the CA relies on: it parses, its key is
 * ECDSA P-256/P-384 or RSA of at least 2048 bits, and its self-signature verifies (so the caller
 * holds the private key). Anything else throws CsrInvalidError. The structure is walked with
 * ./der.ts (strict DER) and the signature checked with node:crypto rather than the library: the
 * CA uses nothing else from the request, and the library's parse and verify cost as much as the
 * issuance itself.
 */
export async function parseCsr(pem: string): Promise<CertificateRequest> {
  if (typeof pem !== 'string' || pem.length === 0) throw new CsrInvalidError('empty certificate request');
  if (pem.length > MAX_CSR_BYTES) throw new CsrInvalidError(`certificate request is larger than ${MAX_CSR_BYTES} bytes`);
  const block = /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----([\s\S]*?)-----END (?:NEW )?CERTIFICATE REQUEST-----/.exec(pem);
  if (!block) throw new CsrInvalidError('not a PEM certificate request');
  const csrDer = Buffer.from(block[1]!.replace(/\s+/g, ''), 'base64');
  let info: Buffer, spki: Buffer, hash: string | undefined, signature: Buffer, key: KeyObject, kind: ReturnType<typeof keyAlgorithmOf>;
  try {
    // CertificationRequest ::= SEQUENCE { info, signatureAlgorithm, signature BIT STRING }
    // CertificationRequestInfo ::= SEQUENCE { version INTEGER (0), subject, subjectPKInfo, [0] attributes }
    const parts = der.children(csrDer);
    if (parts.length !== 3) throw new Error('a certificate request has three parts');
    [info, , signature] = parts as [Buffer, Buffer, Buffer];
    const fields = der.children(info);
    if (fields.length < 3 || fields[0]![0] !== der.TAG.INTEGER || !der.contents(fields[0]!).equals(Buffer.from([0]))) throw new Error('unknown certificate request version');
    spki = fields[2]!;
    if (spki[0] !== der.TAG.SEQUENCE) throw new Error('no SubjectPublicKeyInfo');
    const oid = der.children(parts[1]!)[0];
    hash = oid && oid[0] === der.TAG.OID ? CSR_SIGNATURE_HASHES.get(der.contents(oid).toString('hex')) : undefined;
    if (signature[0] !== der.TAG.BIT_STRING || der.contents(signature)[0] !== 0) throw new Error('bad signature bit string');
    signature = der.contents(signature).subarray(1);
    ({ key, kind } = csrPublicKey(spki));
  } catch (err) {
    throw new CsrInvalidError('certificate request cannot be parsed', { cause: err });
  }
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
  return new CertificateRequest(csrDer, Buffer.from(spki), kind.alg, kind.bits);
}

/**
 * signWorkloadCertificate signs a leaf exactly as istiod does (istio-compat.md §2.5): empty
 * subject, one URI SAN (the caller's identity) in a critical SAN extension, KeyUsage
 * digitalSignature + keyEncipherment, ExtKeyUsage serverAuth + clientAuth, CA:false,
 * notBefore now − 2 min, notAfter now + ttl clamped to the root's notAfter, random serial.
 * It is built from the signer's DER template (see CaSigner.issueWorkload).
 */
export async function signWorkloadCertificate(
  signer: CaSigner,
  csr: CertificateRequest,
  opts: { identity: string; ttlSeconds: number; now?: Date },
): Promise<IssuedCert> {
  return signer.issueWorkload({ spki: csr.spki, uri: opts.identity, ttlMs: opts.ttlSeconds * 1000, now: opts.now });
}

/**
 * @internal signWorkloadCertificateWithLibrary is the same leaf built by @peculiar/x509, as the
 * CA built it before the DER template: the reference x509.test.ts compares the template with.
 * The CA does not use it. `serialNumber` is hex.
 */
export async function signWorkloadCertificateWithLibrary(
  signer: CaSigner,
  csr: CertificateRequest,
  opts: { identity: string; ttlSeconds: number; now?: Date; serialNumber?: string },
): Promise<IssuedCert> {
  return signer.issue({
    publicKey: csr.spki,
    sans: [{ type: 'url', value: opts.identity }],
    extensions: WORKLOAD_EXTENSIONS,
    ttlMs: opts.ttlSeconds * 1000,
    now: opts.now,
    serialNumber: opts.serialNumber,
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
