/**
 * TokenIssuer mints and checks the bearer tokens callers show the CA. On one machine there is no
 * Kubernetes API server to do a TokenReview, so the control plane signs JWTs itself (ES256, key in
 * `<dataDir>/ca/token-key.pem`, mode 0600) with the claims a Kubernetes service-account token
 * carries. The identity a token names is the only identity the CA will certify.
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, calculateJwkThumbprint, errors, exportJWK, exportPKCS8, generateKeyPair, importPKCS8, importSPKI, jwtVerify, type CryptoKey } from 'jose';
import { atomicWrite } from '../../config/file/atomic-write.js';
import { IdentityInvalidError } from '../identity/errors.js';
import { assertPrivateFile } from './certificate-authority.js';
import { TokenInvalidError, TtlInvalidError } from './errors.js';

/** TOKEN_KEY_FILE is the signing key's file, relative to the data directory. */
export const TOKEN_KEY_FILE = join('ca', 'token-key.pem');
/** TOKEN_ISSUER is the `iss` of in-cluster Kubernetes service-account tokens. */
export const TOKEN_ISSUER = 'https://kubernetes.default.svc.cluster.local';
/** CA_AUDIENCE is the audience Istio's agent asks for and istiod accepts (TOKEN_AUDIENCES). */
export const CA_AUDIENCE = 'istio-ca';
/** DEFAULT_TOKEN_TTL_SECONDS is the lifetime of Istio's projected token (expirationSeconds: 43200). */
export const DEFAULT_TOKEN_TTL_SECONDS = 43_200;
/** MAX_TOKEN_BYTES bounds what verify() will parse; real tokens are under 2 KiB. */
const MAX_TOKEN_BYTES = 16 * 1024;
const ALG = 'ES256';

// Kubernetes names: a namespace is a DNS-1123 label, a service account a DNS-1123 subdomain.
// Checking them here also keeps `/` and `:` out of the SPIFFE ID and the `sub` claim.
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** ServiceAccountRef is who a token speaks for. */
export interface ServiceAccountRef {
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** validServiceAccount tells whether ns/sa are valid Kubernetes names. */
export function validServiceAccount(namespace: string, serviceAccount: string): boolean {
  return namespace.length <= 63 && DNS1123_LABEL.test(namespace) && serviceAccount.length <= 253 && DNS1123_SUBDOMAIN.test(serviceAccount);
}

/** serviceAccountSubject is the `sub` Kubernetes writes: `system:serviceaccount:<ns>:<sa>`. */
export function serviceAccountSubject(namespace: string, serviceAccount: string): string {
  return `system:serviceaccount:${namespace}:${serviceAccount}`;
}

// A stable, UUID-shaped uid per service account. The real uid is the ServiceAccount object's;
// without an API server, deriving it keeps it the same across tokens, as a real one is.
function serviceAccountUid(namespace: string, serviceAccount: string): string {
  const h = createHash('sha256').update(`${namespace}/${serviceAccount}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** TokenIssuer signs and verifies service-account JWTs; build it with loadOrCreate. */
export class TokenIssuer {
  readonly #privateKey: CryptoKey;
  readonly #publicKey: CryptoKey;
  readonly #kid: string;

  private constructor(privateKey: CryptoKey, publicKey: CryptoKey, kid: string) {
    this.#privateKey = privateKey;
    this.#publicKey = publicKey;
    this.#kid = kid;
  }

  /**
   * loadOrCreate reads the ES256 key from `<dataDir>/ca/token-key.pem`, or creates it (mode
   * 0600). Like the CA key, a key file group or others can read is refused (CaKeyUnsafeError).
   */
  static async loadOrCreate(dataDir: string): Promise<TokenIssuer> {
    const path = join(dataDir, TOKEN_KEY_FILE);
    let pem: string;
    try {
      pem = await readFile(path, 'utf8');
      await assertPrivateFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const { privateKey } = await generateKeyPair(ALG, { extractable: true });
      pem = await exportPKCS8(privateKey);
      await atomicWrite(path, pem, 0o600);
    }
    const privateKey = await importPKCS8(pem, ALG);
    const spki = createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'pem' }).toString();
    const publicKey = await importSPKI(spki, ALG, { extractable: true });
    const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
    return new TokenIssuer(privateKey, publicKey, kid);
  }

  /**
   * create mints a token for a service account, with the claims of a Kubernetes projected
   * service-account token: iss, sub, aud, iat, nbf, exp and `kubernetes.io`.
   */
  async create(opts: { namespace: string; serviceAccount: string; ttlSeconds?: number; audience?: string }): Promise<string> {
    const { namespace, serviceAccount } = opts;
    if (!validServiceAccount(namespace, serviceAccount)) {
      throw new IdentityInvalidError(`${JSON.stringify(namespace)}/${JSON.stringify(serviceAccount)} is not a valid namespace and service account name`);
    }
    const ttl = opts.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl <= 0) throw new TtlInvalidError(`token ttl must be a positive whole number of seconds, not ${ttl}`);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      'kubernetes.io': { namespace, serviceaccount: { name: serviceAccount, uid: serviceAccountUid(namespace, serviceAccount) } },
    })
      .setProtectedHeader({ alg: ALG, kid: this.#kid, typ: 'JWT' })
      .setIssuer(TOKEN_ISSUER)
      .setSubject(serviceAccountSubject(namespace, serviceAccount))
      .setAudience([opts.audience ?? CA_AUDIENCE])
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + ttl)
      .sign(this.#privateKey);
  }

  /**
   * verify checks a token's signature, issuer, audience and lifetime, then that `sub` and the
   * `kubernetes.io` claims name the same valid service account. It returns that service account
   * or throws TokenInvalidError with the reason (never the token).
   */
  async verify(token: string, audience: string = CA_AUDIENCE): Promise<ServiceAccountRef> {
    if (typeof token !== 'string' || token.length === 0) throw new TokenInvalidError('empty token');
    if (token.length > MAX_TOKEN_BYTES) throw new TokenInvalidError('malformed token (too long)');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.#publicKey, {
        algorithms: [ALG],
        issuer: TOKEN_ISSUER,
        audience,
        requiredClaims: ['sub', 'exp', 'iat'],
      }));
    } catch (err) {
      // No `cause`: jose's claim errors carry the token's payload, which has no place in logs.
      throw new TokenInvalidError(reasonFor(err, audience));
    }
    const k8s = payload['kubernetes.io'] as { namespace?: unknown; serviceaccount?: { name?: unknown } } | undefined;
    const namespace = k8s?.namespace;
    const serviceAccount = k8s?.serviceaccount?.name;
    if (typeof namespace !== 'string' || typeof serviceAccount !== 'string') throw new TokenInvalidError('token has no kubernetes.io namespace and service account claims');
    if (!validServiceAccount(namespace, serviceAccount)) throw new TokenInvalidError('token names an invalid namespace or service account');
    if (payload.sub !== serviceAccountSubject(namespace, serviceAccount)) throw new TokenInvalidError('token sub and kubernetes.io claims disagree');
    return { namespace, serviceAccount };
  }
}

/** reasonFor turns jose's errors into the short reasons the CA reports. */
function reasonFor(err: unknown, audience: string): string {
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return `token has no ${err.claim} claim`;
    if (err.claim === 'aud') return `token audience is not ${audience}`;
    if (err.claim === 'iss') return `token issuer is not ${TOKEN_ISSUER}`;
    if (err.claim === 'nbf') return 'token not yet valid';
    return `token ${err.claim} claim is invalid`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad signature (token not signed by this control plane)';
  if (err instanceof errors.JOSEAlgNotAllowed) return `token algorithm is not ${ALG}`;
  return 'malformed token';
}
