/**
 * A throw-away web PKI for HTTPS tests, made at run time (no private key is committed): CAs and
 * the server and client certificates they sign, ECDSA P-256 through @peculiar/x509 and Node's
 * WebCrypto. Everything is PEM text; writeFiles puts a set in a temp directory for curl and for
 * sslFiles.
 */
// reflect-metadata must load before @peculiar/x509 (its tsyringe dependency needs it at import).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKeyPair = webcrypto.CryptoKeyPair;
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const HOUR = 3600_000;

/** KeyPair is a certificate and its private key, PEM. */
export interface KeyPair {
  readonly certPem: string;
  readonly keyPem: string;
}

/** LeafOptions describe a certificate to issue. */
export interface LeafOptions {
  /** cn is the subject common name. */
  readonly cn: string;
  /** dns and uris are the SANs (dns defaults to [cn] for a server certificate). */
  readonly dns?: readonly string[];
  readonly uris?: readonly string[];
  /** usage: server (serverAuth, the default) or client (clientAuth). */
  readonly usage?: 'server' | 'client';
}

/** TestCa is a CA that issues leaves. */
export interface TestCa extends KeyPair {
  issue(o: LeafOptions): Promise<KeyPair>;
}

async function keys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

function keyPem(k: webcrypto.CryptoKey): string {
  return KeyObject.from(k).export({ type: 'pkcs8', format: 'pem' }).toString();
}

function validity(): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - HOUR), notAfter: new Date(now + 24 * HOUR) };
}

/** createCa makes a self-signed CA named `CN=<cn>`. */
export async function createCa(cn: string): Promise<TestCa> {
  const k = await keys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex'),
    name: `CN=${cn}`,
    keys: k,
    signingAlgorithm: ALG,
    ...validity(),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(k.publicKey),
    ],
  });
  return {
    certPem: cert.toString('pem') + '\n',
    keyPem: keyPem(k.privateKey),
    async issue(o) {
      const leaf = await keys();
      const names: x509.JsonGeneralNames = [
        ...(o.dns ?? (o.usage === 'client' ? [] : [o.cn])).map((value) => ({ type: 'dns' as const, value })),
        ...(o.uris ?? []).map((value) => ({ type: 'url' as const, value })),
      ];
      const c = await x509.X509CertificateGenerator.create({
        serialNumber: randomBytes(8).toString('hex'),
        subject: `CN=${o.cn}`,
        issuer: cert.subject,
        ...validity(),
        publicKey: leaf.publicKey,
        signingKey: k.privateKey,
        signingAlgorithm: ALG,
        extensions: [
          ...(names.length ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([o.usage === 'client' ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth]),
          await x509.AuthorityKeyIdentifierExtension.create(k.publicKey),
        ],
      });
      return { certPem: c.toString('pem') + '\n', keyPem: keyPem(leaf.privateKey) };
    },
  };
}

/** selfSigned makes a self-signed server certificate for names (the first is the CN). */
export async function selfSigned(...names: string[]): Promise<KeyPair> {
  const ca = await createCa(`${names[0] ?? 'localhost'} issuer`);
  return ca.issue({ cn: names[0] ?? 'localhost', dns: names });
}

/** b64 base64-encodes text, for a Secret's data. */
export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** tlsSecretYaml renders a `kubernetes.io/tls` Secret (data base64-encoded, as Kubernetes stores it). */
export function tlsSecretYaml(name: string, namespace: string, pair: KeyPair, caPem?: string): string {
  return [
    'apiVersion: v1',
    'kind: Secret',
    `metadata: {name: ${name}, namespace: ${namespace}}`,
    'type: kubernetes.io/tls',
    'data:',
    `  tls.crt: ${b64(pair.certPem)}`,
    `  tls.key: ${b64(pair.keyPem)}`,
    ...(caPem ? [`  ca.crt: ${b64(caPem)}`] : []),
    '',
  ].join('\n');
}

/** TempFiles is a temp directory of PEM files, removed by remove(). */
export interface TempFiles {
  readonly dir: string;
  path(name: string): string;
  remove(): Promise<void>;
}

/** writeFiles writes name → content into a fresh temp directory (mode 0600). */
export async function writeFiles(files: Readonly<Record<string, string>>): Promise<TempFiles> {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-tls-'));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content, { mode: 0o600 });
  return { dir, path: (name) => join(dir, name), remove: () => rm(dir, { recursive: true, force: true }) };
}
