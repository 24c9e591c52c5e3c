// The certificates x509.ts builds, checked with node:crypto and openssl rather than the library
// that built them; the CSR checks the CA relies on; and the workload leaves written from the DER
// template compared, byte for byte and field by field, with the leaves @peculiar/x509 builds.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, createServer, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
// reflect-metadata must load before @peculiar/x509 (its tsyringe dependency needs it at import).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as der from './der.js';
import { Secret } from '../sds/secret.js';
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
  signWorkloadCertificateWithLibrary,
  splitPemCertificates,
  type CaSigner,
  type KeyAlgorithm,
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

function readKey(path: string): string {
  return openssl(['pkey', '-in', path]);
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

/** csrDer and csrPem convert a PEM CSR to DER and back, to build malformed requests. */
function csrDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}
function csrPem(body: Buffer): string {
  return `-----BEGIN CERTIFICATE REQUEST-----\n${body.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}

/** withSpki returns the CSR with its SubjectPublicKeyInfo replaced, signature and all else kept. */
function withSpki(pem: string, spki: (old: Buffer) => Buffer): string {
  const [info, alg, sig] = der.children(csrDer(pem)) as [Buffer, Buffer, Buffer];
  const fields = der.children(info);
  fields[2] = spki(fields[2]!);
  return csrPem(der.sequence(der.sequence(...fields), alg, sig));
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

  test('accepts RSA 3072 requests and reports their size', async () => {
    const csr = await parseCsr(await createCsr(await generateKeyPair('rsa', 3072), ID));
    assert.equal(csr.keyAlgorithm, 'rsa');
    assert.equal(csr.keyBits, 3072);
  });

  test('accepts a P-256 key with a compressed point, and certifies it as sent', async () => {
    const key = join(tmp, `c${Math.random()}.pem`);
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
    openssl(['ec', '-in', key, '-conv_form', 'compressed', '-out', key]);
    const csr = await parseCsr(openssl(['req', '-new', '-key', key, '-subj', '/CN=x']));
    assert.equal(csr.keyAlgorithm, 'ecdsa-p256');
    assert.equal(csr.spki.length, 59, 'a compressed P-256 SubjectPublicKeyInfo');
    const signer = await loadSigner(await createRoot({ trustDomain: 'cluster.local' }));
    const leaf = new X509Certificate((await signWorkloadCertificate(signer, csr, { identity: ID, ttlSeconds: 60 })).pem);
    assert.ok(leaf.checkPrivateKey(createPrivateKey(readKey(key))));
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
    {
      // Proof of possession: the key to certify must be the key that signed the request.
      name: 'a request whose public key is not the one that signed it',
      csr: async () => {
        const other = csrDer((await createClientKeyAndCsr()).csrPem);
        const otherSpki = der.children(der.children(other)[0]!)[2]!;
        return withSpki((await createClientKeyAndCsr(ID)).csrPem, () => otherSpki);
      },
      reason: /signature does not verify/,
    },
    {
      name: 'an RSA request whose public key is not the one that signed it',
      csr: async () => {
        const other = csrDer(await createCsr(await generateKeyPair('rsa')));
        const otherSpki = der.children(der.children(other)[0]!)[2]!;
        return withSpki(await createCsr(await generateKeyPair('rsa'), ID), () => otherSpki);
      },
      reason: /signature does not verify/,
    },
    {
      name: 'a P-256 point that is not on the curve',
      csr: async () =>
        withSpki((await createClientKeyAndCsr(ID)).csrPem, (spki) => {
          const bad = Buffer.from(spki);
          bad[bad.length - 1]! ^= 0x01;
          return bad;
        }),
      reason: /cannot be parsed/,
    },
    {
      name: 'a P-384 point that is not on the curve',
      csr: async () =>
        withSpki(await createCsr(await generateKeyPair('ecdsa-p384'), ID), (spki) => {
          const bad = Buffer.from(spki);
          bad[bad.length - 1]! ^= 0x01;
          return bad;
        }),
      reason: /cannot be parsed/,
    },
    {
      name: 'a request with a length that is not DER (long form where short would do)',
      csr: async () => {
        const body = csrDer((await createClientKeyAndCsr(ID)).csrPem);
        const outer = der.readElement(body, 0);
        const len = Buffer.alloc(4);
        len.writeUInt32BE(outer.end - outer.valueStart);
        return csrPem(Buffer.concat([Buffer.from([0x30, 0x84]), len, body.subarray(outer.valueStart)]));
      },
      reason: /cannot be parsed/,
    },
    {
      name: 'a request followed by extra bytes',
      csr: async () => csrPem(Buffer.concat([csrDer((await createClientKeyAndCsr(ID)).csrPem), Buffer.from([0, 0])])),
      reason: /cannot be parsed/,
    },
    {
      name: 'a request whose public key has extra bytes after it',
      csr: async () => withSpki((await createClientKeyAndCsr(ID)).csrPem, (spki) => der.sequence(...der.children(spki), der.nullValue())),
      reason: /cannot be parsed/,
    },
    {
      name: 'a request signed with an algorithm the CA does not take (RSA-PSS)',
      csr: () => {
        const key = join(tmp, `pss${Math.random()}.pem`);
        openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key]);
        return openssl(['req', '-new', '-key', key, '-subj', '/CN=x', '-sigopt', 'rsa_padding_mode:pss', '-sha256']);
      },
      reason: /unsupported certificate request signature algorithm/,
    },
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

describe('workload leaves from the DER template', () => {
  const ALGS: readonly KeyAlgorithm[] = ['ecdsa-p256', 'ecdsa-p384', 'rsa'];

  /** tbsOf and signatureAlgorithmOf take a certificate's first two elements, as DER. */
  const partsOf = (pem: string): Buffer[] => der.children(Buffer.from(new X509Certificate(pem).raw));

  /** fieldsOf is everything @peculiar/x509 reads from a certificate except the signature value. */
  function fieldsOf(pem: string): Record<string, unknown> {
    const c = new x509.X509Certificate(pem);
    return {
      serialNumber: c.serialNumber,
      subject: c.subject,
      issuer: c.issuer,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      signatureAlgorithm: c.signatureAlgorithm,
      publicKey: Buffer.from(c.publicKey.rawData).toString('hex'),
      extensions: [...c.extensions].map((e) => ({ type: e.type, critical: e.critical, value: Buffer.from(e.value).toString('hex') })),
    };
  }

  /** opensslFields is `openssl x509 -text` without the signature value (ECDSA signatures are randomized). */
  const opensslFields = (pem: string): string => opensslText(pem).replace(/\n {4}Signature Value:\n[\s\S]*$/, '\n');

  async function both(signer: CaSigner, spkiCsr: Awaited<ReturnType<typeof parseCsr>>, opts: { uri: string; ttlSeconds: number; now: Date; serial: Buffer }) {
    const ours = signer.issueWorkload({ spki: spkiCsr.spki, uri: opts.uri, ttlMs: opts.ttlSeconds * 1000, now: opts.now, serial: opts.serial });
    const lib = await signWorkloadCertificateWithLibrary(signer, spkiCsr, { identity: opts.uri, ttlSeconds: opts.ttlSeconds, now: opts.now, serialNumber: opts.serial.toString('hex') });
    return { ours, lib };
  }

  for (const rootAlg of ALGS) {
    test(`a ${rootAlg} root: the same TBSCertificate as @peculiar/x509 writes for P-256, P-384 and RSA keys, field by field in both parsers`, async () => {
      const root = await createRoot({ trustDomain: 'cluster.local', algorithm: rootAlg });
      const signer = await loadSigner(root);
      for (const keyAlg of ALGS) {
        const csr = await parseCsr(await createCsr(await generateKeyPair(keyAlg), 'spiffe://cluster.local/ns/evil/sa/admin'));
        const now = new Date(Date.now() - 1234.567); // milliseconds on purpose: both drop them
        const { ours, lib } = await both(signer, csr, { uri: ID, ttlSeconds: 3600, now, serial: randomBytes(16) });
        const [oursTbs, oursAlg] = partsOf(ours.pem);
        const [libTbs, libAlg] = partsOf(lib.pem);
        assert.equal(oursTbs!.toString('hex'), libTbs!.toString('hex'), `${keyAlg} key: TBSCertificate`);
        assert.equal(oursAlg!.toString('hex'), libAlg!.toString('hex'), `${keyAlg} key: signatureAlgorithm`);
        // RSA PKCS#1 v1.5 signatures are deterministic: the whole certificate is the same, PEM layout included.
        if (rootAlg === 'rsa') assert.equal(ours.pem, lib.pem);
        assert.match(ours.pem, /^-----BEGIN CERTIFICATE-----\n(?:[A-Za-z0-9+/]{64}\n)*[A-Za-z0-9+/]{1,63}=?=?\n-----END CERTIFICATE-----\n$|^-----BEGIN CERTIFICATE-----\n(?:[A-Za-z0-9+/]{64}\n)+-----END CERTIFICATE-----\n$/);
        assert.deepEqual({ ...ours }, { ...lib, pem: ours.pem });
        assert.deepEqual(fieldsOf(ours.pem), fieldsOf(lib.pem));
        assert.equal(opensslFields(ours.pem), opensslFields(lib.pem));
        const cert = new X509Certificate(ours.pem);
        assert.ok(cert.verify(new X509Certificate(root.certPem).publicKey), `${keyAlg} key: signature`);
        assert.equal(cert.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'), csr.spki.toString('hex'));
        const files = mkdtempSync(join(tmp, 'verify-'));
        writeFileSync(join(files, 'root.pem'), root.certPem);
        writeFileSync(join(files, 'leaf.pem'), ours.pem);
        assert.equal(openssl(['verify', '-x509_strict', '-CAfile', join(files, 'root.pem'), join(files, 'leaf.pem')]).trim(), `${join(files, 'leaf.pem')}: OK`);
      }
    });
  }

  test('random serials, instants, lifetimes and identities: still the bytes @peculiar/x509 writes, across 2050', async () => {
    // A root from 2045 to 2055, so that leaves are written with UTCTime, GeneralizedTime or both.
    const root = await createRoot({ trustDomain: 'example.org', now: new Date('2045-01-01T00:00:00Z') });
    const signer = await loadSigner(root);
    const csr = await parseCsr((await createClientKeyAndCsr()).csrPem);
    const serialArb = fc.uint8Array({ minLength: 1, maxLength: 20 }).filter((b) => b.some((x) => x !== 0)); // the library draws its own for zero
    const uriArb = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-./'), maxLength: 300 }).map((p) => `spiffe://example.org/${p}`);
    await fc.assert(
      fc.asyncProperty(
        serialArb,
        fc.date({ min: new Date('2045-01-02T00:00:00Z'), max: new Date('2054-12-01T00:00:00Z'), noInvalidDate: true }),
        fc.integer({ min: 1, max: 90 * 24 * 3600 }),
        uriArb,
        async (serial, now, ttlSeconds, uri) => {
          const { ours, lib } = await both(signer, csr, { uri, ttlSeconds, now, serial: Buffer.from(serial) });
          assert.equal(partsOf(ours.pem)[0]!.toString('hex'), partsOf(lib.pem)[0]!.toString('hex'));
          assert.deepEqual({ ...ours, pem: '' }, { ...lib, pem: '' });
        },
      ),
      { numRuns: 60 },
    );
    const cross = await both(signer, csr, { uri: ID, ttlSeconds: 7200, now: new Date('2049-12-31T23:30:00.250Z'), serial: Buffer.from([0, 0, 0x80]) });
    assert.match(opensslText(cross.ours.pem), /Not Before: Dec 31 23:28:00 2049 GMT\n\s+Not After : Jan  1 01:30:00 2050 GMT/);
    assert.equal(cross.ours.serial, '80');
    assert.equal(opensslFields(cross.ours.pem), opensslFields(cross.lib.pem));
  });

  test('an identity that is not ASCII is refused, not written into an IA5String', async () => {
    const signer = await loadSigner(await createRoot({ trustDomain: 'cluster.local' }));
    const csr = await parseCsr((await createClientKeyAndCsr()).csrPem);
    assert.throws(() => signer.issueWorkload({ spki: csr.spki, uri: 'spiffe://cluster.local/ns/é/sa/x', ttlMs: 60_000 }), RangeError);
  });

  test('the issuer is the root subject, byte for byte, whatever its attributes', async () => {
    // A root made by openssl with a multi-attribute subject, loaded as the CA would load it.
    const key = join(tmp, `root${Math.random()}.pem`);
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
    const keyPem = readKey(key);
    const certPem = openssl(['req', '-x509', '-new', '-key', key, '-subj', '/C=DE/O=Example Org/OU=Mesh/CN=Example Root CA', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
    const signer = await loadSigner({ certPem, keyPem: new Secret(keyPem) });
    const csr = await parseCsr((await createClientKeyAndCsr()).csrPem);
    const { ours, lib } = await both(signer, csr, { uri: ID, ttlSeconds: 60, now: new Date(), serial: randomBytes(16) });
    assert.equal(partsOf(ours.pem)[0]!.toString('hex'), partsOf(lib.pem)[0]!.toString('hex'));
    const leaf = new X509Certificate(ours.pem);
    assert.ok(leaf.checkIssued(new X509Certificate(certPem)));
    assert.equal(leaf.issuer, 'C=DE\nO=Example Org\nOU=Mesh\nCN=Example Root CA');
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
