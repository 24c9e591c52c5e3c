/**
 * PoolSet owns the undici connection pools, one per endpoint, protocol and connection settings.
 * Pools outlive snapshots: a new snapshot reuses the pools of endpoints it keeps, so keep-alive
 * connections survive config changes; pools no snapshot uses are closed once idle.
 */
import { Pool, buildConnector } from 'undici';
import type * as ir from '../../ir/index.js';
import { meshConnector, type CredentialSource } from './mesh-tls.js';

/** POOL_CONNECTIONS bounds connections per endpoint (Envoy's default max_connections is 1024). */
const POOL_CONNECTIONS = 1024;
/** KEEP_ALIVE_MS is how long an idle upstream connection is kept (Envoy's idle_timeout is 1h; shorter is kinder to apps). */
const KEEP_ALIVE_MS = 60_000;
/**
 * H2_STREAMS_PER_CONNECTION is how many requests an HTTP/2 pool puts on one connection before
 * opening another (Node's servers allow 100 concurrent streams by default). undici gives a
 * request with a streamed body a connection of its own while others are in flight.
 */
const H2_STREAMS_PER_CONNECTION = 100;

/** PoolProtocol is what a pool speaks: ir's 'downstream' resolves to one of these per request. */
export type PoolProtocol = 'http1' | 'http2';

export class PoolSet {
  readonly #pools = new Map<string, Pool>();
  readonly #credentials: CredentialSource | undefined;

  constructor(credentials?: CredentialSource) {
    this.#credentials = credentials;
  }

  /** key identifies a pool: the endpoint, the protocol and every setting that changes how it connects. */
  static key(e: ir.Endpoint, u: ir.Upstream, protocol: PoolProtocol): string {
    const m = e.mtls;
    return `${e.address}|${e.port}|${protocol}|${u.connectTimeoutMs}${m ? `|mtls|${m.sni}|${m.alpn.join(',')}|${m.identities.join(',')}|${m.trustDomain}` : ''}`;
  }

  /** get returns the pool for an endpoint of an upstream in one protocol, creating it when new. */
  get(e: ir.Endpoint, u: ir.Upstream, protocol: PoolProtocol): Pool {
    const key = PoolSet.key(e, u, protocol);
    let pool = this.#pools.get(key);
    if (!pool) {
      const host = e.address.includes(':') ? `[${e.address}]` : e.address;
      const h2 = protocol === 'http2';
      pool = new Pool(`http://${host}:${e.port}`, {
        connections: POOL_CONNECTIONS,
        pipelining: h2 ? H2_STREAMS_PER_CONNECTION : 1,
        ...(h2 ? { allowH2: true } : {}),
        keepAliveTimeout: KEEP_ALIVE_MS,
        keepAliveMaxTimeout: KEEP_ALIVE_MS,
        connectTimeout: u.connectTimeoutMs,
        // The route timeout, run by the proxy, bounds waiting for headers; undici's own is off.
        headersTimeout: 0,
        bodyTimeout: 300_000,
        ...(e.mtls
          ? { connect: meshConnector(e, e.mtls, this.#credentials, u.connectTimeoutMs, h2) }
          : h2
            ? // HTTP/2 in plaintext is h2c with prior knowledge (Envoy's only plaintext HTTP/2).
              // Pool does not pass useH2c on to its connector, so it is built here.
              { connect: buildConnector({ allowH2: true, useH2c: true, timeout: u.connectTimeoutMs } as buildConnector.BuildOptions) }
            : {}),
      });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  /** retain closes (gracefully: in-flight requests finish) every pool whose key is not kept. */
  retain(keep: ReadonlySet<string>): void {
    for (const [key, pool] of this.#pools) {
      if (keep.has(key)) continue;
      this.#pools.delete(key);
      void pool.close().catch(() => undefined);
    }
  }

  /** close closes every pool, waiting for in-flight requests. */
  async close(): Promise<void> {
    const all = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(all.map((p) => p.close().catch(() => undefined)));
  }

  /** destroy drops every pool and its connections at once. */
  async destroy(): Promise<void> {
    const all = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(all.map((p) => p.destroy().catch(() => undefined)));
  }
}
