// The mesh CA for real: a gRPC CA server on loopback, called through requestCertificate and
// through a raw gRPC client. Checks the leaf as istiod writes it (node:crypto and openssl), the
// ways a request is refused, the root on disk, and that logs never carry a token or a key.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { SignJWT, importPKCS8 } from 'jose';
import { pino } from 'pino';
import { startCaServer, type CaServer } from '../../../src/mesh/ca/ca-server.js';
import { CertificateAuthority, ROOT_CERT_FILE, ROOT_KEY_FILE } from '../../../src/mesh/ca/certificate-authority.js';
import { CaKeyUnsafeError } from '../../../src/mesh/ca/errors.js';
import { caServiceDefinition, type CertificateRequest, type CertificateResponse } from '../../../src/mesh/ca/proto.js';
import { CA_AUDIENCE, TOKEN_ISSUER, TOKEN_KEY_FILE, TokenIssuer } from '../../../src/mesh/ca/token.js';
import { createClientKeyAndCsr, createCsr, generateKeyPair } from '../../../src/mesh/ca/x509.js';
import { requestCertificate } from '../../../src/mesh/sds/ca-client.js';
import { CaRequestError } from '../../../src/mesh/sds/errors.js';

const ID = 'spiffe://cluster.local/ns/bookinfo/sa/reviews';
const CLOCK_SKEW_S = 120;

let dir: string;
let ca: CertificateAuthority;
let tokens: TokenIssuer;
let server: CaServer;
let address: string;
const logLines: string[] = [];
// Every token and key this file handles, to prove none reaches the logs.
const secrets: string[] = [];

function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

async function token(ns = 'bookinfo', sa = 'reviews', opts: { audience?: string; ttlSeconds?: number } = {}): Promise<string> {
  const t = await tokens.create({ namespace: ns, serviceAccount: sa, ...opts });
  secrets.push(t);
  return t;
}

/** forged signs claims with the control plane's own token key, for shapes create() never makes. */
async function forged(claims: Record<string, unknown>): Promise<string> {
  const key = await importPKCS8(await readFile(join(dir, TOKEN_KEY_FILE), 'utf8'), 'ES256');
  const t = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256' }).sign(key);
  secrets.push(t);
  return t;
}

/** rawCall calls CreateCertificate without the client's checks, to see exactly what the CA answers. */
async function rawCall(req: Partial<CertificateRequest>, authorization?: string): Promise<CertificateResponse> {
  const client = new grpc.Client(address, grpc.credentials.createSsl(Buffer.from(ca.rootPem)), {
    'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
  });
  const method = caServiceDefinition().CreateCertificate!;
  const md = new grpc.Metadata();
  if (authorization !== undefined) md.set('authorization', authorization);
  try {
    return await new Promise<CertificateResponse>((resolve, reject) =>
      client.makeUnaryRequest<CertificateRequest, CertificateResponse>(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        { csr: '', validity_duration: 0, ...req },
        md,
        { deadline: Date.now() + 10_000 },
        (err, res) => (err ? reject(err) : resolve(res!)),
      ),
    );
  } finally {
    client.close();
  }
}

function grpcError(code: grpc.status, details: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    const e = err as grpc.ServiceError;
    assert.equal(grpc.status[e.code], grpc.status[code], e.details);
    assert.match(e.details, details);
    return true;
  };
}

function caRequestError(status: string, details: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof CaRequestError, String(err));
    assert.equal(err.code, 'GW_CA_REQUEST_FAILED');
    assert.equal(err.status, status, err.message);
    assert.match(err.details ?? '', details);
    assert.match(err.message, new RegExp(`^certificate request to ${address.replace(/\./g, '\\.')} failed: ${status}: `));
    return true;
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-ca-'));
  ca = await CertificateAuthority.loadOrCreate(dir);
  tokens = await TokenIssuer.loadOrCreate(dir);
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(chunk.toString());
      cb();
    },
  });
  const log = pino({ level: 'debug', base: undefined }, sink);
  server = await startCaServer({ ca, tokens, host: '127.0.0.1', port: 0, log });
  address = `127.0.0.1:${server.port}`;
});

after(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('CreateCertificate issues what istiod issues', () => {
  test('a leaf for the TOKEN identity, not the CSR one, shaped as istiod signs it', async () => {
    const cred = await requestCertificate({ address, rootPem: ca.rootPem, token: await token(), identityHint: 'spiffe://cluster.local/ns/kube-system/sa/admin' });
    secrets.push(cred.key.reveal());
    assert.equal(cred.identity, ID);
    assert.equal(cred.rootPem, ca.rootPem);

    const leaf = new X509Certificate(cred.certChainPem);
    assert.ok(!leaf.subject, `subject should be empty, is ${JSON.stringify(leaf.subject)}`);
    assert.equal(leaf.subjectAltName, `URI:${ID}`);
    assert.equal(leaf.ca, false);
    assert.deepEqual([...(leaf.keyUsage ?? [])].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.equal(leaf.publicKey.asymmetricKeyType, 'ec');
    assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const notBefore = Date.parse(leaf.validFrom) / 1000;
    const notAfter = Date.parse(leaf.validTo) / 1000;
    const now = Date.now() / 1000;
    // notBefore is backdated 2 minutes; the bound is loose because this is a content check.
    assert.ok(now - notBefore > CLOCK_SKEW_S - 30 && now - notBefore < CLOCK_SKEW_S + 60, `notBefore ${now - notBefore}s ago`);
    assert.equal(notAfter - notBefore, 24 * 3600 + CLOCK_SKEW_S);
    assert.deepEqual(cred.notBefore, new Date(leaf.validFrom));
    assert.deepEqual(cred.notAfter, new Date(leaf.validTo));
    assert.equal(cred.sha256, createHash('sha256').update(leaf.raw).digest('hex'));

    const files = await mkdtemp(join(tmpdir(), 'meshgate-ca-openssl-'));
    try {
      await writeFile(join(files, 'leaf.pem'), cred.certChainPem);
      await writeFile(join(files, 'root.pem'), cred.rootPem);
      const text = openssl(['x509', '-in', join(files, 'leaf.pem'), '-text', '-noout']);
      assert.match(text, /^\s+Subject: ?\n/m);
      assert.match(text, /X509v3 Subject Alternative Name: critical\n\s+URI:spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/reviews\n/);
      assert.equal(text.match(/URI:/g)?.length, 1);
      assert.doesNotMatch(text, /DNS:|IP Address:|kube-system/);
      assert.match(text, /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication\n/);
      assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment\n/);
      assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
      assert.match(text, /Public Key Algorithm: id-ecPublicKey[\s\S]*ASN1 OID: prime256v1/);
      assert.match(text, /Issuer: O ?= ?cluster\.local\n/);
      // -x509_strict also enforces RFC 5280's rule that an empty subject needs a critical SAN.
      assert.equal(openssl(['verify', '-x509_strict', '-CAfile', join(files, 'root.pem'), join(files, 'leaf.pem')]).trim(), `${join(files, 'leaf.pem')}: OK`);
      const fingerprint = openssl(['x509', '-in', join(files, 'leaf.pem'), '-noout', '-fingerprint', '-sha256']);
      assert.equal(fingerprint.trim().split('=')[1]!.replace(/:/g, '').toLowerCase(), cred.sha256);
    } finally {
      await rm(files, { recursive: true, force: true });
    }
  });

  test('cert_chain is the leaf first and the root last, each PEM ending in a newline', async () => {
    const { csrPem } = await createClientKeyAndCsr();
    const res = await rawCall({ csr: csrPem }, `Bearer ${await token('default', 'sleep')}`);
    assert.equal(res.cert_chain.length, 2);
    for (const pem of res.cert_chain) assert.match(pem, /^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);
    assert.equal(res.cert_chain.at(-1), ca.rootPem);
    assert.equal(new X509Certificate(res.cert_chain[0]!).subjectAltName, 'URI:spiffe://cluster.local/ns/default/sa/sleep');
  });

  test('validity_duration sets the lifetime; 0 means the 24 h default', async () => {
    for (const [ttlSeconds, want] of [
      [3600, 3600],
      [0, 24 * 3600],
    ] as const) {
      const cred = await requestCertificate({ address, rootPem: ca.rootPem, token: await token(), ttlSeconds });
      assert.equal((cred.notAfter.getTime() - cred.notBefore.getTime()) / 1000, want + CLOCK_SKEW_S);
    }
  });

  test('a lower-case bearer scheme is accepted', async () => {
    const { csrPem } = await createClientKeyAndCsr();
    const res = await rawCall({ csr: csrPem }, `bearer ${await token()}`);
    assert.equal(res.cert_chain.length, 2);
  });
});

describe('CreateCertificate refuses', () => {
  const unauthenticated: { name: string; token: () => Promise<string>; details: RegExp }[] = [
    { name: 'an empty token', token: async () => '', details: /^request authenticate failure: no bearer token/ },
    { name: 'a garbage token', token: async () => 'garbage', details: /^request authenticate failure: malformed token$/ },
    {
      name: 'an expired token',
      token: () =>
        forged({
          iss: TOKEN_ISSUER,
          sub: 'system:serviceaccount:bookinfo:reviews',
          aud: [CA_AUDIENCE],
          iat: 1_000,
          nbf: 1_000,
          exp: 2_000,
          'kubernetes.io': { namespace: 'bookinfo', serviceaccount: { name: 'reviews', uid: 'x' } },
        }),
      details: /^request authenticate failure: token expired$/,
    },
    { name: 'a token for another audience', token: () => token('bookinfo', 'reviews', { audience: 'kubernetes' }), details: /^request authenticate failure: token audience is not istio-ca$/ },
    {
      name: 'a token signed by another key',
      token: async () => {
        const other = await mkdtemp(join(tmpdir(), 'meshgate-ca-other-'));
        try {
          const t = await (await TokenIssuer.loadOrCreate(other)).create({ namespace: 'bookinfo', serviceAccount: 'reviews' });
          secrets.push(t);
          return t;
        } finally {
          await rm(other, { recursive: true, force: true });
        }
      },
      details: /^request authenticate failure: bad signature/,
    },
  ];
  for (const c of unauthenticated) {
    test(`${c.name} with UNAUTHENTICATED`, async () => {
      await assert.rejects(requestCertificate({ address, rootPem: ca.rootPem, token: await c.token() }), caRequestError('UNAUTHENTICATED', c.details));
    });
  }

  test('a call without authorization metadata with UNAUTHENTICATED', async () => {
    const { csrPem } = await createClientKeyAndCsr();
    await assert.rejects(rawCall({ csr: csrPem }), grpcError(grpc.status.UNAUTHENTICATED, /^request authenticate failure: no bearer token/));
    await assert.rejects(rawCall({ csr: csrPem }, `Basic ${Buffer.from('a:b').toString('base64')}`), grpcError(grpc.status.UNAUTHENTICATED, /no bearer token/));
  });

  const invalid: { name: string; csr: () => Promise<string>; details: RegExp }[] = [
    { name: 'a garbage CSR', csr: async () => 'garbage', details: /^CSR signing error \(certificate signing request rejected: not a PEM certificate request\)$/ },
    { name: 'an empty CSR', csr: async () => '', details: /empty certificate request/ },
    {
      name: 'a CSR with a bad signature',
      csr: async () => {
        const der = Buffer.from((await createClientKeyAndCsr()).csrPem.replace(/-----[^-]+-----|\s+/g, ''), 'base64');
        der[der.length - 1]! ^= 0x01;
        return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
      },
      details: /signature does not verify/,
    },
    { name: 'a CSR with a weak RSA key', csr: async () => createCsr(await generateKeyPair('rsa', 1024)), details: /rsa key of 1024 bits is too weak/ },
  ];
  for (const c of invalid) {
    test(`${c.name} with INVALID_ARGUMENT`, async () => {
      await assert.rejects(rawCall({ csr: await c.csr() }, `Bearer ${await token()}`), grpcError(grpc.status.INVALID_ARGUMENT, c.details));
    });
  }

  test('a ttl above 90 days with INVALID_ARGUMENT, as istiod does', async () => {
    await assert.rejects(
      requestCertificate({ address, rootPem: ca.rootPem, token: await token(), ttlSeconds: 91 * 24 * 3600 }),
      caRequestError('INVALID_ARGUMENT', /^CSR signing error \(requested ttl of 7862400s is greater than the maximum of 7776000s \(90 days\)\)$/),
    );
  });

  test('a client that does not trust the CA root fails the TLS handshake', async () => {
    const other = await mkdtemp(join(tmpdir(), 'meshgate-ca-other-root-'));
    try {
      const otherCa = await CertificateAuthority.loadOrCreate(other);
      await assert.rejects(requestCertificate({ address, rootPem: otherCa.rootPem, token: await token(), timeoutMs: 5000 }), (err: unknown) => {
        assert.ok(err instanceof CaRequestError);
        assert.equal(err.status, 'UNAVAILABLE');
        return true;
      });
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});

describe('the root on disk', () => {
  test('the key is 0600, the certificate 0644, and the root survives a restart', async () => {
    assert.equal((await stat(join(dir, ROOT_KEY_FILE))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, ROOT_CERT_FILE))).mode & 0o777, 0o644);
    assert.equal(await readFile(join(dir, ROOT_CERT_FILE), 'utf8'), ca.rootPem);
    const restarted = await CertificateAuthority.loadOrCreate(dir);
    assert.equal(restarted.rootPem, ca.rootPem);
    // A leaf from the restarted CA verifies against the root every workload already trusts.
    const { csrPem } = await createClientKeyAndCsr();
    const [leaf] = await restarted.sign(csrPem, { namespace: 'a', serviceAccount: 'b' });
    assert.ok(new X509Certificate(leaf!).verify(new X509Certificate(ca.rootPem).publicKey));
  });

  test('a key file readable by group or others is refused', async () => {
    const d = await mkdtemp(join(tmpdir(), 'meshgate-ca-unsafe-'));
    try {
      await CertificateAuthority.loadOrCreate(d);
      await chmod(join(d, ROOT_KEY_FILE), 0o644);
      await assert.rejects(
        CertificateAuthority.loadOrCreate(d),
        (err: unknown) => err instanceof CaKeyUnsafeError && err.code === 'GW_CA_KEY_UNSAFE' && /mode 0644.*chmod 600/.test(err.message),
      );
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});

describe('logs', () => {
  test('record refusals and issuance, and never a token or a private key', () => {
    const entries = logLines.map((l) => JSON.parse(l) as { level: number; msg: string; reason?: string; identity?: string; serial?: string });
    const issued = entries.filter((e) => e.msg === 'certificate issued');
    assert.ok(issued.length >= 3);
    assert.ok(issued.every((e) => typeof e.serial === 'string' && e.serial.length > 0 && e.identity?.startsWith('spiffe://')));
    assert.ok(entries.some((e) => e.msg === 'certificate request refused: unauthenticated' && e.reason === 'token expired'));
    assert.ok(entries.some((e) => e.msg === 'certificate request refused: invalid argument' && /too weak/.test(e.reason ?? '')));
    const all = logLines.join('');
    assert.doesNotMatch(all, /PRIVATE KEY/);
    assert.ok(secrets.length >= 10);
    for (const s of secrets) {
      assert.ok(!all.includes(s), 'a token or key appears in the logs');
      // Nor the token's signature alone (the part that makes it usable).
      const sig = s.split('.')[2];
      if (sig) assert.ok(!all.includes(sig), 'a token signature appears in the logs');
    }
  });
});
