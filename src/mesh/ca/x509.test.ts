// The certificates x509.ts builds, checked with node:crypto and openssl rather than the library
// that built them; and the CSR checks the CA relies on.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, createServer, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { CaRootInvalidError, CsrInvalidError } from './errors.js';
import {
  CA_SERVING_NAMES,
  createClientKeyAndCsr,
  createCsr,
  createRoot,
  createServingCertificate,
  ensureTrailingNewline,
  generateKeyPair,
  loadSigner,
  parseCsr,
  signWorkloadCertificate,
  splitPemCertificates,
  type CaSigner,
} from './x509.js';

const ID = 'spiffe://cluster.local/ns/bookinfo/sa/reviews';
const DAY = 24 * 3600 * 1000;
let tmp: string;

function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

function opensslText(pem: string): string {
  return openssl(['x509', '-text', '-noout'], pem);
}

/** csrFromOpenssl makes a CSR for a key type our own code will not generate. */
function csrFromOpenssl(genpkeyArgs: string[]): string {
  const key = join(tmp, `k${Math.random()}.pem`);
  openssl(['genpkey', ...genpkeyArgs, '-out', key]);
  return openssl(['req', '-new', '-key', key, '-subj', '/CN=x']);
}

/** flipSignatureByte corrupts the last byte of a PEM CSR's DER (inside the signature). */
function flipSignatureByte(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  der[der.length - 1]! ^= 0x01;
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'meshgate-x509-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('createRoot', () => {
  test('makes a 10-year self-signed CA with subject O=<trust domain>, ECDSA P-256 by default', async () => {
    const root = await createRoot({ trustDomain: 'cluster.local' });
    const cert = new X509Certificate(root.certPem);
    assert.equal(cert.subject, 'O=cluster.local');
    assert.equal(cert.issuer, 'O=cluster.local');
    assert.equal(cert.ca, true);
    assert.ok(cert.checkIssued(cert) && cert.verify(cert.publicKey));
    const years = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / (365 * DAY);
    assert.ok(years > 9.99 && years < 10.01, `lifetime ${years} years`);
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const text = opensslText(root.certPem);
    assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:TRUE/);
    assert.match(text, /X509v3 Key Usage: critical\n\s+Certificate Sign, CRL Sign\n/);
    assert.match(text, /X509v3 Subject Key Identifier/);
    // The key is a PKCS#8 PEM for the certificate's public key.
    assert.match(root.keyPem.reveal(), /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(String(root.keyPem), '[redacted]');
    assert.ok(cert.checkPrivateKey(createPrivateKey(root.keyPem.reveal())));
  });

  test('can make an RSA root', async () => {
    const root = await createRoot({ trustDomain: 'example.org', algorithm: 'rsa' });
    const cert = new X509Certificate(root.certPem);
    assert.equal(cert.subject, 'O=example.org');
    assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  });

  // Istio's GenRootCertFromExistingKey: a new root for the same key keeps old chains valid.
  test('re-issues a root for an existing key', async () => {
    const first = await createRoot({ trustDomain: 'cluster.local' });
    const again = await createRoot({ trustDomain: 'cluster.local', keyPem: first.keyPem });
    assert.notEqual(again.certPem, first.certPem);
    assert.ok(new X509Certificate(again.certPem).checkPrivateKey(createPrivateKey(first.keyPem.reveal())));
  });
});

describe('loadSigner', () => {
  test('refuses a key that is not the root certificate key', async () => {
    const a = await createRoot({ trustDomain: 'cluster.local' });
    const b = await createRoot({ trustDomain: 'cluster.local' });
    await assert.rejects(loadSigner({ certPem: a.certPem, keyPem: b.keyPem }), (err: unknown) => err instanceof CaRootInvalidError && /does not belong/.test(err.message));
  });

  test('refuses an expired root and a certificate that is not PEM', async () => {
    const old = await createRoot({ trustDomain: 'cluster.local', now: new Date(Date.now() - 3651 * DAY) });
    await assert.rejects(loadSigner(old), (err: unknown) => err instanceof CaRootInvalidError && /expired/.test(err.message));
    await assert.rejects(loadSigner({ certPem: 'nope', keyPem: old.keyPem }), CaRootInvalidError);
  });
});

describe('parseCsr', () => {
  test('accepts ECDSA P-256, P-384 and RSA 2048 requests and reads their URI SANs', async () => {
    for (const [alg, bits] of [['ecdsa-p256', undefined], ['ecdsa-p384', undefined], ['rsa', 2048]] as const) {
      const pem = await createCsr(await generateKeyPair(alg), ID);
      const csr = await parseCsr(pem);
      assert.equal(csr.keyAlgorithm, alg);
      assert.equal(csr.keyBits, bits);
      assert.deepEqual(csr.requestedUris, [ID]);
    }
  });

  test('accepts a CSR written by openssl (SHA-256 over P-256)', async () => {
    const csr = await parseCsr(csrFromOpenssl(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']));
    assert.equal(csr.keyAlgorithm, 'ecdsa-p256');
    assert.deepEqual(csr.requestedUris, []);
  });

  const bad: { name: string; csr: () => Promise<string> | string; reason: RegExp }[] = [
    { name: 'the empty string', csr: () => '', reason: /empty/ },
    { name: 'text without a PEM block', csr: () => 'hello', reason: /not a PEM certificate request/ },
    { name: 'a certificate instead of a request', csr: async () => (await createRoot({ trustDomain: 'x' })).certPem, reason: /not a PEM certificate request/ },
    { name: 'a PEM block of garbage', csr: () => '-----BEGIN CERTIFICATE REQUEST-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE REQUEST-----\n', reason: /cannot be parsed/ },
    { name: 'a request with a bad signature', csr: async () => flipSignatureByte((await createClientKeyAndCsr(ID)).csrPem), reason: /signature does not verify/ },
    { name: 'a weak RSA key', csr: async () => createCsr(await generateKeyPair('rsa', 1024)), reason: /1024 bits is too weak/ },
    { name: 'an Ed25519 key', csr: () => csrFromOpenssl(['-algorithm', 'ed25519']), reason: /unsupported key type ed25519/ },
    { name: 'a P-521 key', csr: () => csrFromOpenssl(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521']), reason: /unsupported key type ec \(secp521r1\)/ },
    { name: 'a request over 64 KiB', csr: () => 'x'.repeat(65 * 1024), reason: /larger than/ },
  ];
  for (const c of bad) {
    test(`rejects ${c.name}`, async () => {
      const pem = await c.csr();
      await assert.rejects(parseCsr(pem), (err: unknown) => err instanceof CsrInvalidError && err.code === 'GW_CA_CSR_INVALID' && c.reason.test(err.message));
    });
  }
});

describe('signWorkloadCertificate', () => {
  let signer: CaSigner;
  let rootPem: string;
  before(async () => {
    const root = await createRoot({ trustDomain: 'cluster.local' });
    rootPem = root.certPem;
    signer = await loadSigner(root);
  });

  test('signs a leaf as istiod does: empty subject, critical URI SAN only, both EKUs, CA:FALSE, 2-minute backdate', async () => {
    const { csrPem } = await createClientKeyAndCsr('spiffe://cluster.local/ns/evil/sa/admin');
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const leaf = await signWorkloadCertificate(signer, await parseCsr(csrPem), { identity: ID, ttlSeconds: 3600, now });
    const cert = new X509Certificate(leaf.pem);
    assert.ok(!cert.subject, `subject ${JSON.stringify(cert.subject)}`);
    assert.equal(cert.issuer, 'O=cluster.local');
    assert.equal(cert.subjectAltName, `URI:${ID}`);
    assert.equal(cert.ca, false);
    assert.deepEqual([...(cert.keyUsage ?? [])].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.equal(Date.parse(cert.validFrom), now.getTime() - 120_000);
    assert.equal(Date.parse(cert.validTo), now.getTime() + 3600_000);
    assert.equal(leaf.notAfter.getTime(), now.getTime() + 3600_000);
    assert.equal(cert.serialNumber.replace(/^0+/, ''), leaf.serial.toUpperCase().replace(/^0+/, ''));
    assert.ok(cert.verify(new X509Certificate(rootPem).publicKey));
    const text = opensslText(leaf.pem);
    assert.match(text, /^\s+Subject: ?\n/m);
    assert.match(text, /X509v3 Subject Alternative Name: critical\n\s+URI:spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/reviews\n/);
    assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment\n/);
    assert.match(text, /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication\n/);
    assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
    assert.match(text, /X509v3 Authority Key Identifier/);
    assert.doesNotMatch(text, /evil/);
  });

  test('gives every leaf a different serial', async () => {
    const csr = await parseCsr((await createClientKeyAndCsr()).csrPem);
    const serials = new Set<string>();
    for (let i = 0; i < 20; i++) serials.add((await signWorkloadCertificate(signer, csr, { identity: ID, ttlSeconds: 60 })).serial);
    assert.equal(serials.size, 20);
  });

  test('clamps notAfter to the root notAfter', async () => {
    // A root that expires one hour from now.
    const root = await createRoot({ trustDomain: 'cluster.local', now: new Date(Date.now() - 3650 * DAY + 3600_000) });
    const short = await loadSigner(root);
    const leaf = await signWorkloadCertificate(short, await parseCsr((await createClientKeyAndCsr()).csrPem), { identity: ID, ttlSeconds: 86_400 });
    assert.equal(leaf.notAfter.getTime(), short.notAfter.getTime());
  });

  test('refuses to sign once the root has expired', async () => {
    const csr = await parseCsr((await createClientKeyAndCsr()).csrPem);
    await assert.rejects(
      signWorkloadCertificate(signer, csr, { identity: ID, ttlSeconds: 60, now: new Date(signer.notAfter.getTime() + 1000) }),
      (err: unknown) => err instanceof CaRootInvalidError && /expired/.test(err.message),
    );
  });
});

describe('createServingCertificate', () => {
  let server: Server | undefined;
  after(() => server?.close());

  test('serves TLS that a client trusting the root accepts as istiod.istio-system.svc and 127.0.0.1', async () => {
    const root = await createRoot({ trustDomain: 'cluster.local' });
    const serving = await createServingCertificate(await loadSigner(root));
    const cert = new X509Certificate(serving.certPem);
    assert.equal(cert.subjectAltName, 'DNS:istiod.istio-system.svc, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.deepEqual(CA_SERVING_NAMES, ['istiod.istio-system.svc', 'localhost', '127.0.0.1', '::1']);
    server = createServer({ key: serving.key.reveal(), cert: serving.certPem }, (s) => s.end('ok'));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    for (const servername of ['istiod.istio-system.svc', undefined]) {
      const got = await new Promise<string>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, ca: root.certPem, ...(servername ? { servername } : {}) }, () => undefined);
        let body = '';
        s.on('data', (d: Buffer) => (body += d.toString()));
        s.on('end', () => resolve(body));
        s.on('error', reject);
      });
      assert.equal(got, 'ok');
    }
  });
});

describe('PEM helpers', () => {
  test('splitPemCertificates returns each certificate ending in a newline', async () => {
    const a = (await createRoot({ trustDomain: 'a' })).certPem;
    const b = (await createRoot({ trustDomain: 'b' })).certPem;
    assert.deepEqual(splitPemCertificates(`junk\n${a.trim()}${b}\n\n`), [a, b]);
    assert.deepEqual(splitPemCertificates('nothing'), []);
  });

  test('ensureTrailingNewline leaves exactly one newline', () => {
    assert.equal(ensureTrailingNewline('x'), 'x\n');
    assert.equal(ensureTrailingNewline('x\n\n \n'), 'x\n');
  });
});

describe('createClientKeyAndCsr', () => {
  test('makes a P-256 key and a CSR for it carrying the identity as a URI SAN', async () => {
    const { csrPem, key } = await createClientKeyAndCsr(ID);
    const text = openssl(['req', '-text', '-noout', '-verify'], csrPem);
    assert.match(text, /URI:spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/reviews/);
    assert.match(text, /ASN1 OID: prime256v1/);
    assert.equal(createPrivateKey(key.reveal()).asymmetricKeyDetails?.namedCurve, 'prime256v1');
  });
});
