/**
 * CertificateAuthority is the mesh CA: it owns the root (kept under `<dataDir>/ca/`, created on
 * first start and reloaded after, so workload trust survives restarts) and signs workload
 * certificates for identities the caller has already authenticated. It does no network I/O.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWrite } from '../../config/file/atomic-write.js';
import { DEFAULT_TRUST_DOMAIN, spiffeId } from '../identity/spiffe-id.js';
import { Secret } from '../sds/secret.js';
import { CaKeyUnsafeError, CaRootInvalidError, TtlInvalidError } from './errors.js';
import {
  createRoot,
  createServingCertificate,
  loadSigner,
  parseCsr,
  signWorkloadCertificate,
  type CaSigner,
  type RootMaterial,
} from './x509.js';

/** DEFAULT_CERT_TTL_SECONDS is istiod's DEFAULT_WORKLOAD_CERT_TTL: 24 h. */
export const DEFAULT_CERT_TTL_SECONDS = 24 * 3600;
/** MAX_CERT_TTL_SECONDS is istiod's MAX_WORKLOAD_CERT_TTL: 90 days. */
export const MAX_CERT_TTL_SECONDS = 90 * 24 * 3600;
/** ROOT_CERT_FILE and ROOT_KEY_FILE are the root's files, relative to the data directory. */
export const ROOT_CERT_FILE = join('ca', 'root-cert.pem');
export const ROOT_KEY_FILE = join('ca', 'root-key.pem');
// The CA's own serving certificate lives a year and is remade in memory at half of that.
const SERVING_TTL_SECONDS = 365 * 24 * 3600;
const SERVING_RENEW_AFTER_MS = (SERVING_TTL_SECONDS * 1000) / 2;

/** WorkloadRef names the service account a certificate is for. */
export interface WorkloadRef {
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** IssuedChain is the answer to one signing request. */
export interface IssuedChain {
  /** chain is the leaf first and the root last, each PEM ending in "\n" (istiod's cert_chain). */
  readonly chain: string[];
  /** identity is the SPIFFE ID written into the leaf. */
  readonly identity: string;
  /** serial is the leaf's serial number in hex. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** requestedUris are the URI SANs the CSR asked for: ignored for issuance, read (slowly) on access, for debug logs. */
  readonly requestedUris: readonly string[];
}

/**
 * assertPrivateFile refuses a key file that group or others can access: a CA key anyone on the
 * machine can read lets them mint any identity in the mesh.
 */
export async function assertPrivateFile(path: string): Promise<void> {
  const st = await stat(path);
  if ((st.mode & 0o077) !== 0) throw new CaKeyUnsafeError(path, st.mode);
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** CertificateAuthority signs workload certificates with a root kept on disk; use loadOrCreate. */
export class CertificateAuthority {
  /** rootPem is the root certificate every workload trusts, ending in "\n". */
  readonly rootPem: string;
  /** trustDomain is the `<td>` in the `spiffe://<td>/ns/…/sa/…` identities this CA writes. */
  readonly trustDomain: string;
  readonly #signer: CaSigner;
  #serving: Promise<{ certPem: string; key: Secret }> | undefined;
  #servingRenewAfter = 0;

  private constructor(signer: CaSigner, trustDomain: string) {
    this.#signer = signer;
    this.rootPem = signer.certPem;
    this.trustDomain = trustDomain;
  }

  /**
   * loadOrCreate reads the root from `<dataDir>/ca/root-cert.pem` and `root-key.pem`, or
   * creates both on first start (key mode 0600). It refuses a key file group or others can read,
   * and a certificate without its key. A key without its certificate (a crash between the two
   * writes) gets a new root certificate for the same key.
   */
  static async loadOrCreate(dataDir: string, opts: { trustDomain?: string } = {}): Promise<CertificateAuthority> {
    const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    spiffeId('ns', 'sa', trustDomain); // Validates the trust domain before anything is written.
    const certPath = join(dataDir, ROOT_CERT_FILE);
    const keyPath = join(dataDir, ROOT_KEY_FILE);
    await mkdir(join(dataDir, 'ca'), { recursive: true, mode: 0o700 });

    const keyText = await readIfExists(keyPath);
    if (keyText !== undefined) await assertPrivateFile(keyPath);
    const certText = await readIfExists(certPath);
    let root: RootMaterial;
    if (keyText === undefined && certText !== undefined) {
      throw new CaRootInvalidError(`${certPath} exists but ${keyPath} does not; restore the key, or move ${join(dataDir, 'ca')} away to create a new root`);
    } else if (keyText === undefined) {
      root = await createRoot({ trustDomain });
      // The key is written first: a crash before the certificate is written is recovered below.
      await atomicWrite(keyPath, root.keyPem.reveal(), 0o600);
      await atomicWrite(certPath, root.certPem, 0o644);
    } else if (certText === undefined) {
      root = await createRoot({ trustDomain, keyPem: new Secret(keyText) });
      await atomicWrite(certPath, root.certPem, 0o644);
    } else {
      root = { certPem: certText, keyPem: new Secret(keyText) };
    }
    return new CertificateAuthority(await loadSigner(root), trustDomain);
  }

  /**
   * issue signs csrPem for `identity` and returns the chain with details for logging. The
   * identity must come from the authenticated caller: the CSR's own SANs are ignored, as istiod
   * ignores them. ttlSeconds ≤ 0 (or absent) means 24 h; above 90 days throws TtlInvalidError.
   */
  async issue(csrPem: string, identity: WorkloadRef, ttlSeconds?: number): Promise<IssuedChain> {
    const ttl = effectiveTtlSeconds(ttlSeconds);
    const id = spiffeId(identity.namespace, identity.serviceAccount, this.trustDomain);
    const csr = await parseCsr(csrPem);
    const leaf = await signWorkloadCertificate(this.#signer, csr, { identity: id, ttlSeconds: ttl });
    return {
      chain: [leaf.pem, this.rootPem],
      identity: id,
      serial: leaf.serial,
      notBefore: leaf.notBefore,
      notAfter: leaf.notAfter,
      get requestedUris() {
        return csr.requestedUris;
      },
    };
  }

  /** sign is issue() returning only the chain: the leaf first, the root last. */
  async sign(csrPem: string, identity: WorkloadRef, ttlSeconds?: number): Promise<string[]> {
    return (await this.issue(csrPem, identity, ttlSeconds)).chain;
  }

  /**
   * servingCredential returns the CA's own TLS certificate and key (names in CA_SERVING_NAMES),
   * made in memory on first use and remade once half of its one-year lifetime has passed.
   */
  async servingCredential(): Promise<{ certPem: string; key: Secret }> {
    if (!this.#serving || Date.now() >= this.#servingRenewAfter) {
      this.#servingRenewAfter = Date.now() + SERVING_RENEW_AFTER_MS;
      const made = createServingCertificate(this.#signer, { ttlSeconds: SERVING_TTL_SECONDS });
      // A failure is the caller's to see, and the next call tries again.
      made.catch(() => {
        if (this.#serving === made) this.#serving = undefined;
      });
      this.#serving = made;
    }
    return this.#serving;
  }
}

/** effectiveTtlSeconds applies istiod's rules: absent, NaN or ≤ 0 is the default; above the maximum is an error. */
export function effectiveTtlSeconds(ttlSeconds: number | undefined): number {
  if (ttlSeconds === undefined || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    if (ttlSeconds === Number.POSITIVE_INFINITY) throw ttlTooLong(ttlSeconds);
    return DEFAULT_CERT_TTL_SECONDS;
  }
  if (ttlSeconds > MAX_CERT_TTL_SECONDS) throw ttlTooLong(ttlSeconds);
  return ttlSeconds;
}

function ttlTooLong(ttlSeconds: number): TtlInvalidError {
  return new TtlInvalidError(`requested ttl of ${ttlSeconds}s is greater than the maximum of ${MAX_CERT_TTL_SECONDS}s (90 days)`);
}
