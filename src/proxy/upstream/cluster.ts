/**
 * Cluster is an upstream at run time: its endpoints with their pools, picked round robin, and
 * its pre-bound metrics. Built once per snapshot, and kept by the next snapshot that carries the
 * same ir.Upstream object. An endpoint's pools are made when it is first used (an undici Pool
 * costs about 18 KB before any connection: 10,000 idle upstreams would hold 180 MB).
 */
import type { Pool } from 'undici';
import type * as ir from '../../ir/index.js';
import { PoolSet, type PoolProtocol } from './pool-set.js';
import type { UpstreamStats } from '../stats.js';

/** ClusterEndpoint is one endpoint and the pools that reach it. */
export interface ClusterEndpoint {
  readonly endpoint: ir.Endpoint;
  /** pool speaks the upstream's protocol (HTTP/1.1 for a USE_DOWNSTREAM_PROTOCOL one). */
  readonly pool: Pool;
  /** h2Pool is set for a USE_DOWNSTREAM_PROTOCOL upstream: the pool for HTTP/2 requests. */
  readonly h2Pool?: Pool;
  /** authority is `address:port`, for logs and the admin /clusters page. */
  readonly authority: string;
}

/** LazyEndpoint gets its pools from the PoolSet on first use. */
class LazyEndpoint implements ClusterEndpoint {
  readonly endpoint: ir.Endpoint;
  readonly authority: string;
  readonly #upstream: ir.Upstream;
  readonly #pools: PoolSet;
  readonly #main: PoolProtocol;
  #pool: Pool | undefined;
  #h2Pool: Pool | undefined;

  constructor(e: ir.Endpoint, u: ir.Upstream, pools: PoolSet, main: PoolProtocol) {
    this.endpoint = e;
    this.authority = `${e.address}:${e.port}`;
    this.#upstream = u;
    this.#pools = pools;
    this.#main = main;
  }

  get pool(): Pool {
    return (this.#pool ??= this.#pools.get(this.endpoint, this.#upstream, this.#main));
  }

  get h2Pool(): Pool | undefined {
    if (this.#upstream.protocol !== 'downstream') return undefined;
    return (this.#h2Pool ??= this.#pools.get(this.endpoint, this.#upstream, 'http2'));
  }
}

export class Cluster {
  readonly name: string;
  /** upstream is the ir.Upstream this cluster was built from. */
  readonly upstream: ir.Upstream;
  readonly endpoints: readonly ClusterEndpoint[];
  readonly stats: UpstreamStats;
  /** poolKeys are the PoolSet keys of the pools this cluster uses (made or not yet). */
  readonly poolKeys: readonly string[];
  #next = 0;

  /** keys, when given, receives poolKeys (the pools a snapshot keeps). */
  constructor(u: ir.Upstream, pools: PoolSet, stats: UpstreamStats, keys?: Set<string>) {
    this.name = u.name;
    this.upstream = u;
    this.stats = stats;
    const main: PoolProtocol = u.protocol === 'http2' ? 'http2' : 'http1';
    const poolKeys: string[] = [];
    this.endpoints = u.endpoints.map((e) => {
      poolKeys.push(PoolSet.key(e, u, main));
      if (u.protocol === 'downstream') poolKeys.push(PoolSet.key(e, u, 'http2'));
      return new LazyEndpoint(e, u, pools, main);
    });
    this.poolKeys = poolKeys;
    if (keys) for (const k of poolKeys) keys.add(k);
  }

  /** pick returns the next endpoint, round robin; undefined when there is none. */
  pick(): ClusterEndpoint | undefined {
    const n = this.endpoints.length;
    if (n === 0) return undefined;
    if (n === 1) return this.endpoints[0];
    const e = this.endpoints[this.#next % n];
    this.#next = (this.#next + 1) % n;
    return e;
  }
}
