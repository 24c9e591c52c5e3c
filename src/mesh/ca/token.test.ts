// Service-account tokens: the claims Kubernetes writes, and every way verify() refuses one.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT, UnsecuredJWT, decodeJwt, decodeProtectedHeader, importPKCS8 } from 'jose';
import { CaKeyUnsafeError, TokenInvalidError, TtlInvalidError } from './errors.js';
import { IdentityInvalidError } from '../identity/errors.js';
import { CA_AUDIENCE, DEFAULT_TOKEN_TTL_SECONDS, TOKEN_ISSUER, TOKEN_KEY_FILE, TokenIssuer, validServiceAccount } from './token.js';

let dir: string;
let otherDir: string;
let tokens: TokenIssuer;

/** forge signs arbitrary claims with the issuer's own key, for the shapes create() never makes. */
async function forge(claims: Record<string, unknown>, header: { alg?: string } = {}): Promise<string> {
  const key = await importPKCS8(await readFile(join(dir, TOKEN_KEY_FILE), 'utf8'), 'ES256');
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', ...header }).sign(key);
}

function validClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: TOKEN_ISSUER,
    sub: 'system:serviceaccount:bookinfo:reviews',
    aud: [CA_AUDIENCE],
    iat: now,
    nbf: now,
    exp: now + 600,
    'kubernetes.io': { namespace: 'bookinfo', serviceaccount: { name: 'reviews', uid: 'u' } },
    ...overrides,
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-token-'));
  otherDir = await mkdtemp(join(tmpdir(), 'meshgate-token-other-'));
  tokens = await TokenIssuer.loadOrCreate(dir);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(otherDir, { recursive: true, force: true });
});

describe('TokenIssuer.create', () => {
  test('writes the claims of a Kubernetes service-account token, audience istio-ca, 12 h', async () => {
    const token = await tokens.create({ namespace: 'bookinfo', serviceAccount: 'reviews' });
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, 'ES256');
    assert.equal(header.typ, 'JWT');
    assert.equal(typeof header.kid, 'string');
    const claims = decodeJwt(token);
    assert.equal(claims.iss, 'https://kubernetes.default.svc.cluster.local');
    assert.equal(claims.sub, 'system:serviceaccount:bookinfo:reviews');
    assert.deepEqual(claims.aud, ['istio-ca']);
    assert.equal(claims.nbf, claims.iat);
    assert.equal(claims.exp! - claims.iat!, 43_200);
    assert.equal(DEFAULT_TOKEN_TTL_SECONDS, 43_200);
    const k8s = claims['kubernetes.io'] as { namespace: string; serviceaccount: { name: string; uid: string } };
    assert.equal(k8s.namespace, 'bookinfo');
    assert.equal(k8s.serviceaccount.name, 'reviews');
    assert.match(k8s.serviceaccount.uid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  test('gives a service account the same uid in every token, and another one a different uid', async () => {
    const uid = async (ns: string, sa: string) =>
      (decodeJwt(await tokens.create({ namespace: ns, serviceAccount: sa }))['kubernetes.io'] as { serviceaccount: { uid: string } }).serviceaccount.uid;
    assert.equal(await uid('a', 'b'), await uid('a', 'b'));
    assert.notEqual(await uid('a', 'b'), await uid('a', 'c'));
  });

  test('honours ttlSeconds and audience', async () => {
    const claims = decodeJwt(await tokens.create({ namespace: 'a', serviceAccount: 'b', ttlSeconds: 60, audience: 'other' }));
    assert.equal(claims.exp! - claims.iat!, 60);
    assert.deepEqual(claims.aud, ['other']);
  });

  for (const [ns, sa] of [
    ['', 'b'],
    ['a', ''],
    ['a/b', 'c'],
    ['a', 'b:c'],
    ['UPPER', 'b'],
    ['a'.repeat(64), 'b'],
  ] as const) {
    test(`refuses namespace ${JSON.stringify(ns)} with service account ${JSON.stringify(sa)}`, async () => {
      assert.equal(validServiceAccount(ns, sa), false);
      await assert.rejects(tokens.create({ namespace: ns, serviceAccount: sa }), IdentityInvalidError);
    });
  }

  test('refuses a ttl that is not a positive integer', async () => {
    await assert.rejects(tokens.create({ namespace: 'a', serviceAccount: 'b', ttlSeconds: 0 }), TtlInvalidError);
    await assert.rejects(tokens.create({ namespace: 'a', serviceAccount: 'b', ttlSeconds: 1.5 }), TtlInvalidError);
  });
});

describe('TokenIssuer.verify', () => {
  test('returns the service account a valid token names', async () => {
    const token = await tokens.create({ namespace: 'bookinfo', serviceAccount: 'reviews.v1' });
    assert.deepEqual(await tokens.verify(token), { namespace: 'bookinfo', serviceAccount: 'reviews.v1' });
  });

  test('accepts a token for another audience when asked for that audience', async () => {
    const token = await tokens.create({ namespace: 'a', serviceAccount: 'b', audience: 'xds' });
    assert.deepEqual(await tokens.verify(token, 'xds'), { namespace: 'a', serviceAccount: 'b' });
  });

  const refusals: { name: string; token: () => Promise<string>; reason: RegExp }[] = [
    { name: 'the empty string', token: async () => '', reason: /^empty token$/ },
    { name: 'garbage', token: async () => 'not-a-jwt', reason: /^malformed token$/ },
    { name: 'three garbage parts', token: async () => 'a.b.c', reason: /^malformed token$/ },
    { name: 'an oversized token', token: async () => 'a'.repeat(20_000), reason: /^malformed token/ },
    { name: 'an unsigned (alg none) token', token: async () => new UnsecuredJWT(validClaims()).encode(), reason: /algorithm is not ES256|malformed/ },
    { name: 'an expired token', token: () => forge(validClaims({ iat: 1000, nbf: 1000, exp: 2000 })), reason: /^token expired$/ },
    { name: 'a token not yet valid', token: () => forge(validClaims({ nbf: Math.floor(Date.now() / 1000) + 3600 })), reason: /^token not yet valid$/ },
    { name: 'a token for another audience', token: () => tokens.create({ namespace: 'a', serviceAccount: 'b', audience: 'other' }), reason: /^token audience is not istio-ca$/ },
    { name: 'a token from another issuer', token: () => forge(validClaims({ iss: 'https://evil.example' })), reason: /^token issuer is not/ },
    {
      name: 'a token signed by another key',
      token: async () => (await TokenIssuer.loadOrCreate(otherDir)).create({ namespace: 'a', serviceAccount: 'b' }),
      reason: /^bad signature/,
    },
    {
      name: 'a token whose signature was tampered with',
      token: async () => {
        const t = await tokens.create({ namespace: 'a', serviceAccount: 'b' });
        return `${t.slice(0, -4)}${t.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
      },
      reason: /^bad signature|^malformed token$/,
    },
    {
      name: 'a token whose claims were swapped after signing',
      token: async () => {
        const [h, , s] = (await tokens.create({ namespace: 'a', serviceAccount: 'b' })).split('.');
        const p = Buffer.from(JSON.stringify(validClaims({ sub: 'system:serviceaccount:kube-system:admin' }))).toString('base64url');
        return `${h}.${p}.${s}`;
      },
      reason: /^bad signature/,
    },
    { name: 'a token whose sub disagrees with its kubernetes.io claims', token: () => forge(validClaims({ sub: 'system:serviceaccount:kube-system:admin' })), reason: /^token sub and kubernetes.io claims disagree$/ },
    { name: 'a token without kubernetes.io claims', token: () => forge(validClaims({ 'kubernetes.io': undefined })), reason: /no kubernetes.io namespace/ },
    {
      name: 'a token naming an invalid service account',
      token: () => forge(validClaims({ sub: 'system:serviceaccount:a:b/sa/c', 'kubernetes.io': { namespace: 'a', serviceaccount: { name: 'b/sa/c' } } })),
      reason: /invalid namespace or service account/,
    },
    { name: 'a token without exp', token: () => forge(validClaims({ exp: undefined })), reason: /^token has no exp claim$/ },
    { name: 'a token without sub', token: () => forge(validClaims({ sub: undefined })), reason: /^token has no sub claim$/ },
  ];
  for (const r of refusals) {
    test(`refuses ${r.name}`, async () => {
      const token = await r.token();
      await assert.rejects(tokens.verify(token), (err: unknown) => {
        assert.ok(err instanceof TokenInvalidError, String(err));
        assert.equal(err.code, 'GW_CA_TOKEN_INVALID');
        assert.match(err.reason, r.reason);
        assert.equal(err.message, `service-account token rejected: ${err.reason}`);
        if (token.length > 0) assert.ok(!err.message.includes(token));
        return true;
      });
    });
  }
});

describe('TokenIssuer.loadOrCreate', () => {
  test('keeps the key in ca/token-key.pem with mode 0600 and reloads it after a restart', async () => {
    assert.equal((await stat(join(dir, TOKEN_KEY_FILE))).mode & 0o777, 0o600);
    const token = await tokens.create({ namespace: 'a', serviceAccount: 'b' });
    const restarted = await TokenIssuer.loadOrCreate(dir);
    assert.deepEqual(await restarted.verify(token), { namespace: 'a', serviceAccount: 'b' });
  });

  test('refuses a key file group or others can read', async () => {
    const d = await mkdtemp(join(tmpdir(), 'meshgate-token-unsafe-'));
    try {
      await TokenIssuer.loadOrCreate(d);
      await chmod(join(d, TOKEN_KEY_FILE), 0o644);
      await assert.rejects(TokenIssuer.loadOrCreate(d), (err: unknown) => err instanceof CaKeyUnsafeError && err.code === 'GW_CA_KEY_UNSAFE' && /mode 0644/.test(err.message));
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});
