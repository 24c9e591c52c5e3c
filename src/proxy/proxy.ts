/**
 * Proxy is the data plane: it owns the listeners and the upstream pools and applies snapshots.
 * applySnapshot builds the whole new runtime first and swaps one reference per listener, so a
 * request in flight keeps the runtime it started with; a snapshot that cannot be applied is
 * refused (NACK) and the last good one keeps serving. The proxy sees only ir/, never api/.
 * What a new snapshot shares with the last one by identity (as the control plane's incremental
 * translation hands it over) is reused: compiled virtual hosts and clusters.
 */
import type { Logger } from 'pino';
import * as ir from '../ir/index.js';
import { RouteTable, type CompiledVirtualHosts } from './router/route-table.js';
import { PoolSet } from './upstream/pool-set.js';
import { Cluster } from './upstream/cluster.js';
import { ProxyListener } from './listener.js';
import { ProxyStats } from './stats.js';
import { edgeSettings } from './edge.js';
import type { ListenerRuntime } from './request.js';
import { SnapshotRejectedError, ListenerBindError } from './errors.js';
import type { ProxyHandle } from './handle.js';
import type { CredentialSource } from './upstream/mesh-tls.js';
import { TlsContexts } from './tls/contexts.js';
import type { SecretSource } from './tls/secret-source.js';

/** ProxyOptions are the proxy's bootstrap settings. */
export interface ProxyOptions {
  /** portMap maps a Gateway bindPort to the port actually bound (`up --http-port` maps 8080). */
  readonly portMap?: Readonly<Record<number, number>>;
  /** bindAddress replaces a Gateway's wildcard bindAddress (`::`, `0.0.0.0`). */
  readonly bindAddress?: string;
  /**
   * drainMs caps how long a listener drains (waits for in-flight requests) when a snapshot
   * removes it or the proxy closes; within the cap each listener drains for its own
   * drainTimeoutMs (Gateway httpConnectionManagerSettings.drainTimeout).
   */
  readonly drainMs?: number;
  readonly log: Logger;
  readonly stats?: ProxyStats;
  /** credentials supply the proxy's mesh identity for mTLS (from mesh/, wired by the caller). */
  readonly credentials?: CredentialSource;
  /** secrets supply the TLS Secrets HTTPS listeners name (the snapshot names them, never carries them). */
  readonly secrets?: SecretSource;
}

/** ListenerAddress is where one listener actually listens. */
export interface ListenerAddress {
  readonly name: string;
  readonly ssl: boolean;
  readonly bindPort: number;
  readonly host: string;
  readonly port: number;
}

const WILDCARDS = new Set(['::', '0.0.0.0', '']);

export class Proxy implements ProxyHandle {
  readonly stats: ProxyStats;
  readonly #opts: ProxyOptions;
  readonly #pools: PoolSet;
  readonly #tls: TlsContexts;
  readonly #listeners = new Map<string, { l: ProxyListener; ir: ir.Listener }>();
  #current: ir.Snapshot | undefined;
  #applying: Promise<void> = Promise.resolve();
  /** #compiled: virtual hosts compiled for earlier snapshots, by ir object. */
  readonly #compiled: CompiledVirtualHosts = new WeakMap();
  /** #validated: virtual hosts and upstream records that passed validateSnapshot (never mutated). */
  readonly #validated = new WeakSet<object>();
  /** #clusters of the current snapshot, by name, and the pool keys they use. */
  #clusters = new Map<string, Cluster>();
  #poolKeys = new Set<string>();
  /** #tables: the route table of each listener of the current snapshot. */
  #tables = new Map<string, RouteTable>();

  constructor(opts: ProxyOptions) {
    this.#opts = opts;
    this.stats = opts.stats ?? new ProxyStats();
    this.#pools = new PoolSet(opts.credentials);
    this.#tls = new TlsContexts(opts.secrets);
  }

  /** metrics renders the proxy's Prometheus metrics. */
  metrics(): Promise<string> {
    return this.stats.registry.metrics();
  }

  get metricsContentType(): string {
    return this.stats.registry.contentType;
  }

  /** current is the snapshot being served, undefined before the first one. */
  get current(): ir.Snapshot | undefined {
    return this.#current;
  }

  /** addresses lists where each listener listens. */
  addresses(): ListenerAddress[] {
    return [...this.#listeners.values()].map(({ l, ir: il }) => ({ name: il.name, ssl: il.ssl, bindPort: il.bindPort, host: l.host, port: l.port }));
  }

  /** hostPortFor resolves a Gateway bindPort and address as this proxy would bind them. */
  hostPortFor(bindAddress: string, bindPort: number): { host: string; port: number } {
    const host = WILDCARDS.has(bindAddress) && this.#opts.bindAddress ? this.#opts.bindAddress : bindAddress || '::';
    return { host, port: this.#opts.portMap?.[bindPort] ?? bindPort };
  }

  /** applySnapshot serves a new snapshot, or throws (NACK) and keeps serving the last good one. */
  applySnapshot(s: ir.Snapshot): Promise<void> {
    const run = this.#applying.then(() => this.#apply(s));
    this.#applying = run.catch(() => undefined);
    return run;
  }

  async #apply(s: ir.Snapshot): Promise<void> {
    if (this.#current?.version === s.version) return;
    const issues = ir.validateSnapshot(s, this.#validated);
    if (issues.length) {
      this.stats.snapshotsApplied.labels('nack').inc();
      throw new SnapshotRejectedError(s.version, issues.map((i) => `${i.path}: ${i.message}`).join('; '));
    }
    // HTTPS listeners' certificates load before anything binds: one that cannot be loaded refuses the snapshot.
    const tls = await this.#tls.build(s.listeners).catch((err: unknown) => {
      this.stats.snapshotsApplied.labels('nack').inc();
      throw err;
    });
    // The same upstreams object: the same clusters. Otherwise a cluster whose ir.Upstream is the
    // same object is kept (with its pools and round-robin position).
    let keep = this.#poolKeys;
    let clusters = this.#clusters;
    if (s.upstreams !== this.#current?.upstreams) {
      keep = new Set<string>();
      clusters = new Map<string, Cluster>();
      for (const u of Object.values(s.upstreams)) {
        const last = this.#clusters.get(u.name);
        const c = last?.upstream === u ? last : new Cluster(u, this.#pools, this.stats.upstream(u.name));
        for (const k of c.poolKeys) keep.add(k);
        clusters.set(u.name, c);
      }
    }

    // Bind new listeners first: if one cannot bind, nothing changes.
    const fresh: { l: ProxyListener; ir: ir.Listener }[] = [];
    const swaps: [ProxyListener, ListenerRuntime][] = [];
    const wanted = new Set(s.listeners.map((l) => l.name));
    /** renamed maps a listener the snapshot drops to the new name that takes over its socket. */
    const renamed = new Map<string, string>();
    const tables = new Map<string, RouteTable>();
    for (const il of s.listeners) {
      const table = new RouteTable(il, this.#compiled, this.#tables.get(il.name));
      tables.set(il.name, table);
      const runtime: ListenerRuntime = {
        table,
        clusters,
        scheme: il.ssl ? 'https' : 'http',
        stats: this.stats,
        xfcc: il.forwardClientCertDetails ?? 'SANITIZE',
        edge: edgeSettings(il),
        ...(il.inbound ? { inbound: il.inbound } : {}),
        ...(this.#opts.credentials ? { credentials: this.#opts.credentials } : {}),
        ...(tls.has(il.name) ? { tls: tls.get(il.name)! } : {}),
      };
      const { host, port } = this.hostPortFor(il.bindAddress, il.bindPort);
      const same = (e: { l: ProxyListener; ir: ir.Listener }) =>
        e.l.host === host && e.l.requestedPort === port && e.ir.ssl === il.ssl && e.l.inbound === (il.inbound !== undefined);
      const existing = this.#listeners.get(il.name);
      if (existing && same(existing)) {
        swaps.push([existing.l, runtime]);
        continue;
      }
      if (!existing) {
        // A listener renamed on the same address (a Gateway replaced by another) takes over the
        // old socket: binding a second one would fail while the old one still listens.
        const [oldName, old] = [...this.#listeners].find(([n, e]) => !wanted.has(n) && !renamed.has(n) && same(e)) ?? [];
        if (oldName !== undefined && old) {
          renamed.set(oldName, il.name);
          swaps.push([old.l, runtime]);
          continue;
        }
      }
      const l = new ProxyListener(il.name, host, port, runtime, this.stats);
      try {
        await l.listen();
      } catch (err) {
        await Promise.all(fresh.map((f) => f.l.close(0)));
        this.stats.snapshotsApplied.labels('nack').inc();
        throw new ListenerBindError(il.name, host, port, err as Error & { code?: string });
      }
      fresh.push({ l, ir: il });
    }

    // Commit: swap runtimes, register new listeners, retire the ones the snapshot dropped.
    for (const [l, rt] of swaps) l.runtime = rt;
    const retiring: { l: ProxyListener; ir: ir.Listener }[] = [];
    const moved: [string, { l: ProxyListener; ir: ir.Listener }][] = [];
    for (const [name, entry] of this.#listeners) {
      const replaced = fresh.some((f) => f.ir.name === name);
      if (!wanted.has(name) || replaced) {
        this.#listeners.delete(name);
        const to = renamed.get(name);
        if (to !== undefined) moved.push([to, entry]);
        else retiring.push(entry);
      }
    }
    for (const f of fresh) this.#listeners.set(f.ir.name, f);
    for (const [to, e] of moved) this.#listeners.set(to, e);
    for (const il of s.listeners) {
      const e = this.#listeners.get(il.name);
      if (e) this.#listeners.set(il.name, { l: e.l, ir: il });
    }
    this.#current = s;
    this.#clusters = clusters;
    this.#tables = tables;
    this.#poolKeys = keep;
    this.#pools.retain(keep);
    this.stats.snapshotsApplied.labels('ack').inc();
    // A removed listener stops accepting now and drains in the background.
    for (const r of retiring) void r.l.close(this.#drainMs(r.ir));
    this.#opts.log.info({ version: s.version, listeners: s.listeners.length, upstreams: clusters.size }, 'snapshot applied');
  }

  /** #drainMs is how long a listener drains: its drainTimeoutMs, capped by ProxyOptions.drainMs. */
  #drainMs(il: ir.Listener): number {
    const cap = this.#opts.drainMs;
    return cap === undefined ? il.http.drainTimeoutMs : Math.min(cap, il.http.drainTimeoutMs);
  }

  /**
   * close drains every listener and closes the upstream pools: listeners stop accepting, idle
   * keep-alive connections close, in-flight requests finish (their responses close their
   * connections), and whatever is left after the drain time is closed. drainMs, when given
   * (SIGTERM with --drain-timeout, a sidecar stopping), is the drain time for every listener;
   * otherwise each drains for its own drainTimeoutMs within ProxyOptions.drainMs.
   */
  async close(drainMs?: number): Promise<void> {
    await this.#applying;
    const all = [...this.#listeners.values()];
    this.#listeners.clear();
    await Promise.all(all.map((e) => e.l.close(drainMs ?? this.#drainMs(e.ir))));
    await this.#pools.close();
  }
}
