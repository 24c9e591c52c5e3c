/**
 * Cluster is an upstream at run time: its endpoints with their pools, picked round robin, and
 * its pre-bound metrics. Built once per snapshot.
 */
import type { Pool } from 'undici';
import type * as ir from '../../ir/index.js';
import { PoolSet } from './pool-set.js';
import type { UpstreamStats } from '../stats.js';

/** ClusterEndpoint is one endpoint and the pool that reaches it. */
export interface ClusterEndpoint {
  readonly endpoint: ir.Endpoint;
  readonly pool: Pool;
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
    this.endpoints = u.endpoints.map((e) => {
      keys.add(PoolSet.key(e, u));
      return { endpoint: e, pool: pools.get(e, u), authority: `${e.address}:${e.port}` };
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
