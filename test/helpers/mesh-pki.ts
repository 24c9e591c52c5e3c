/**
 * A real mesh PKI for integration tests: a CertificateAuthority with its root in a temp data
 * directory, its TokenIssuer, and its gRPC CA server on loopback. Credentials are fetched as a
 * workload fetches them (requestCertificate with a service-account token), renewing stores are
 * real CredentialStores, and `forge` signs with the same root through the x509 helpers for
 * shapes the CA never issues (another trust domain, a past validity window).
 * Everything it starts is stopped by close() (idempotent, for after()).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCaServer, type CaServer } from '../../src/mesh/ca/ca-server.js';
import { CertificateAuthority, ROOT_KEY_FILE } from '../../src/mesh/ca/certificate-authority.js';
import { TokenIssuer } from '../../src/mesh/ca/token.js';
import { createClientKeyAndCsr, loadSigner, parseCsr, signWorkloadCertificate } from '../../src/mesh/ca/x509.js';
import { requestCertificate } from '../../src/mesh/sds/ca-client.js';
import { credentialFromChain, type Credential } from '../../src/mesh/sds/credential.js';
import { CredentialStore } from '../../src/mesh/sds/credential-store.js';
import { Secret } from '../../src/mesh/sds/secret.js';
import { silentLogger } from '../../src/log.js';

/** The identities the mesh tests use (trust domain cluster.local). */
export const MESH_TRUST_DOMAIN = 'cluster.local';
export const HTTPBIN_ID = 'spiffe://cluster.local/ns/default/sa/httpbin';
export const GATEWAY_ID = 'spiffe://cluster.local/ns/gloo-system/sa/gateway-proxy';
export const SLEEP_ID = 'spiffe://cluster.local/ns/default/sa/sleep';

export interface MeshStoreOptions {
  /** ttlSeconds asked of the CA for every certificate (default: the CA's 24 h). */
  readonly ttlSeconds?: number;
}

export interface MeshPki {
  readonly dir: string;
  readonly ca: CertificateAuthority;
  readonly tokens: TokenIssuer;
  /** address is `127.0.0.1:<port>` of the CA's gRPC server. */
  readonly address: string;
  readonly rootPem: string;
  readonly trustDomain: string;
  /** credential fetches one certificate through the CA server, as the workload of ns/sa. */
  credential(namespace: string, serviceAccount: string, ttlSeconds?: number): Promise<Credential>;
  /** store starts a CredentialStore that fetches (and renews) through the CA server; close() stops it. */
  store(namespace: string, serviceAccount: string, opts?: MeshStoreOptions): Promise<CredentialStore>;
  /**
   * forge signs a leaf for any identity with this CA's root, issued at `now` (default: now) for
   * ttlSeconds, exactly as the CA signs (x509 helpers), without the CA's identity rules.
   */
  forge(identity: string, opts: { ttlSeconds: number; now?: Date }): Promise<Credential>;
  close(): Promise<void>;
}

/** startMeshPki creates a CA (root in a fresh temp dir) and serves it on 127.0.0.1, port 0. */
export async function startMeshPki(opts: { trustDomain?: string; name?: string } = {}): Promise<MeshPki> {
  const dir = await mkdtemp(join(tmpdir(), `meshgate-${opts.name ?? 'mesh'}-pki-`));
  const stores: CredentialStore[] = [];
  let server: CaServer | undefined;
  try {
    const ca = await CertificateAuthority.loadOrCreate(dir, opts.trustDomain ? { trustDomain: opts.trustDomain } : {});
    const tokens = await TokenIssuer.loadOrCreate(dir);
    server = await startCaServer({ ca, tokens, host: '127.0.0.1', port: 0, log: silentLogger });
    const address = `127.0.0.1:${server.port}`;
    const running = server;
    const fetchAs = async (namespace: string, serviceAccount: string, ttlSeconds?: number) =>
      requestCertificate({
        address,
        rootPem: ca.rootPem,
        token: await tokens.create({ namespace, serviceAccount }),
        ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
      });
    let closed: Promise<void> | undefined;
    return {
      dir,
      ca,
      tokens,
      address,
      rootPem: ca.rootPem,
      trustDomain: ca.trustDomain,
      credential: fetchAs,
      async store(namespace, serviceAccount, so = {}) {
        const store = new CredentialStore({ fetch: () => fetchAs(namespace, serviceAccount, so.ttlSeconds), log: silentLogger });
        stores.push(store);
        await store.start();
        return store;
      },
      async forge(identity, fo) {
        const keyPem = new Secret(await readFile(join(dir, ROOT_KEY_FILE), 'utf8'));
        const signer = await loadSigner({ certPem: ca.rootPem, keyPem });
        const { csrPem, key } = await createClientKeyAndCsr(identity);
        const leaf = await signWorkloadCertificate(signer, await parseCsr(csrPem), { identity, ttlSeconds: fo.ttlSeconds, ...(fo.now ? { now: fo.now } : {}) });
        return credentialFromChain([leaf.pem, ca.rootPem], key, ca.rootPem);
      },
      close() {
        closed ??= (async () => {
          for (const s of stores) s.stop();
          await running.close();
          await rm(dir, { recursive: true, force: true });
        })();
        return closed;
      },
    };
  } catch (err) {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** tlsMaterial is what a node TLS client needs to present a credential. */
export function tlsMaterial(c: Credential): { key: string; cert: string } {
  return { key: c.key.reveal(), cert: c.certChainPem };
}
