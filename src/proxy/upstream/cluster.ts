/**
 * Cluster is an upstream at run time: its endpoints with their pools, picked round robin, and
 * its pre-bound metrics. Built once per snapshot.
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

export class Cluster {
  readonly name: string;
  readonly endpoints: readonly ClusterEndpoint[];
  readonly stats: UpstreamStats;
  #next = 0;

  constructor(u: ir.Upstream, pools: PoolSet, stats: UpstreamStats, keys: Set<string>) {
    this.name = u.name;
    this.stats = stats;
    const main: PoolProtocol = u.protocol === 'http2' ? 'http2' : 'http1';
    this.endpoints = u.endpoints.map((e) => {
      keys.add(PoolSet.key(e, u, main));
      const authority = `${e.address}:${e.port}`;
      if (u.protocol !== 'downstream') return { endpoint: e, pool: pools.get(e, u, main), authority };
      keys.add(PoolSet.key(e, u, 'http2'));
      return { endpoint: e, pool: pools.get(e, u, main), h2Pool: pools.get(e, u, 'http2'), authority };
    });
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
