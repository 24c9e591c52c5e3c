/**
 * Worker-per-core mode. The primary process keeps the control plane; each worker (node:cluster)
 * runs a Proxy on the same ports, with the kernel spreading connections (SCHED_NONE: workers
 * accept directly, the primary never touches a request). Snapshots reach every worker as IPC
 * messages; each worker answers ack or nack, and metrics are gathered from all of them.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type * as ir from '../ir/index.js';
import { Proxy, type ProxyOptions, type ListenerAddress } from './proxy.js';
import type { ProxyHandle } from './handle.js';
import type { MeshCredential } from './upstream/mesh-tls.js';
import { createSecureContext } from 'node:tls';
import { namedSecrets, type TlsSecret } from './tls/secret-source.js';
import { setTicketKeySeed, ticketKeySeed } from './tls/ticket-keys.js';
import { applyDelta, snapshotDelta, type SnapshotDelta } from './snapshot-delta.js';

/** WorkerMessage is everything primary and workers say to each other. */
/** WorkerCredential is the mesh credential sent to workers over the IPC pipe (never written anywhere). */
export interface WorkerCredential {
  readonly identity: string;
  readonly certChainPem: string;
  readonly rootPem: string;
  readonly key: { reveal(): string };
}
type ToWorker =
  | { t: 'snapshot'; snapshot: ir.Snapshot }
  /** delta: a snapshot as changes to the last one the worker acknowledged (snapshot-delta.ts). */
  | { t: 'delta'; delta: SnapshotDelta }
  | { t: 'metrics'; id: number }
  | { t: 'drain'; ms: number }
  | { t: 'credential'; identity: string; certChainPem: string; rootPem: string; keyPem: string }
  /** secrets are the TLS Secrets the snapshot of that version names; sent just before it, never logged. */
  | { t: 'secrets'; version: string; secrets: WorkerSecret[] }
  /** ticket-seed: the secret TLS session ticket keys derive from (tls/ticket-keys.ts); sent once, before any snapshot, never logged. */
  | { t: 'ticket-seed'; seed: string };
/** WorkerSecret is one TLS Secret sent to workers over the IPC pipe (never written anywhere). */
interface WorkerSecret extends TlsSecret {
  readonly namespace: string;
  readonly name: string;
}
type FromWorker =
  | { t: 'ready' }
  | { t: 'ack'; version: string; addresses: ListenerAddress[] }
  | { t: 'nack'; version: string; error: string; code?: string }
  | { t: 'metrics'; id: number; metrics: Awaited<ReturnType<Registry['getMetricsAsJSON']>> };

/** WorkerPool is the primary's view of N proxy workers. */
export class WorkerPool implements ProxyHandle {
  readonly #workers: Worker[] = [];
  /** #acked is, per worker, the last snapshot it acknowledged: the base of the next delta. */
  readonly #acked = new Map<Worker, ir.Snapshot>();
  readonly #opts: ProxyOptions;
  readonly #log: Logger;
  #current: ir.Snapshot | undefined;
  #addresses: ListenerAddress[] = [];
  #metricsId = 0;
  readonly #local: Proxy;
  readonly metricsContentType: string = Registry.PROMETHEUS_CONTENT_TYPE;

  private constructor(opts: ProxyOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    // A Proxy that binds nothing, used only for its address rules.
    this.#local = new Proxy(opts);
  }

  /** start forks n workers that run this same program in worker mode. */
  static async start(n: number, opts: ProxyOptions): Promise<WorkerPool> {
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    const pool = new WorkerPool(opts);
    for (let i = 0; i < n; i++) {
      const w = cluster.fork({ MESHGATE_PROXY_WORKER: '1' });
      pool.#workers.push(w);
      w.on('exit', (code, signal) => {
        if (!pool.#closing) pool.#log.error({ worker: w.id, code, signal }, 'proxy worker exited');
      });
    }
    // 'online' fires before the worker has loaded its code; wait until it listens for messages.
    await Promise.all(
      pool.#workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const onMessage = (m: FromWorker) => {
              if (m.t !== 'ready') return;
              w.off('message', onMessage);
              // Before any snapshot: the worker builds its TLS contexts with the same ticket keys as every other.
              w.send({ t: 'ticket-seed', seed: ticketKeySeed().toString('base64') } satisfies ToWorker);
              resolve();
            };
            w.on('message', onMessage);
            w.once('exit', (code) => reject(new Error(`proxy worker ${w.id} exited with code ${code} before it was ready`)));
          }),
      ),
    );
    return pool;
  }

  #closing = false;

  get current(): ir.Snapshot | undefined {
    return this.#current;
  }

  addresses(): ListenerAddress[] {
    return this.#addresses;
  }

  hostPortFor(bindAddress: string, bindPort: number): { host: string; port: number } {
    return this.#local.hostPortFor(bindAddress, bindPort);
  }

  /** applySnapshot resolves when every worker acked; rejects with the first nack. */
  async applySnapshot(s: ir.Snapshot): Promise<void> {
    if (this.#closing) return;
    // The TLS Secrets the snapshot names go first, on the same ordered pipe.
    const secrets = this.#secretsFor(s);
    if (secrets.length) for (const w of this.#workers) if (!w.isDead()) w.send({ t: 'secrets', version: s.version, secrets } satisfies ToWorker);
    const replies = await Promise.all(this.#workers.map((w) => this.#send(w, s)));
    const nack = replies.find((r) => r.t === 'nack');
    if (nack && nack.t === 'nack') throw Object.assign(new Error(nack.error), { code: nack.code });
    this.#current = s;
    const ack = replies[0];
    if (ack?.t === 'ack') this.#addresses = ack.addresses;
  }

  /**
   * #send offers a snapshot to a worker: as a delta from the last one it acknowledged when that
   * is smaller (a few changed virtual hosts of thousands), else whole; a worker that cannot apply
   * the delta (it never should) gets the snapshot whole.
   */
  async #send(w: Worker, s: ir.Snapshot): Promise<FromWorker> {
    const match = (m: FromWorker) => (m.t === 'ack' || m.t === 'nack') && m.version === s.version;
    const base = this.#acked.get(w);
    const delta = base && base.version !== s.version ? snapshotDelta(base, s) : undefined;
    let reply = delta ? await this.#ask(w, { t: 'delta', delta }, match) : undefined;
    if (!reply || (reply.t === 'nack' && reply.code === DELTA_BASE_MISMATCH)) reply = await this.#ask(w, { t: 'snapshot', snapshot: s }, match);
    if (reply.t === 'ack') this.#acked.set(w, s);
    return reply;
  }

  /** #secretsFor looks up, in the primary's SecretSource, every TLS Secret a snapshot names. */
  #secretsFor(s: ir.Snapshot): WorkerSecret[] {
    const out: WorkerSecret[] = [];
    const seen = new Set<string>();
    for (const l of s.listeners) {
      for (const ref of l.tls ? namedSecrets(l.tls) : []) {
        const k = `${ref.namespace}/${ref.name}`;
        const secret = this.#opts.secrets?.tlsSecret(ref.namespace, ref.name);
        if (seen.has(k) || !secret) continue;
        seen.add(k);
        out.push({ ...ref, certPem: secret.certPem, keyPem: secret.keyPem, ...(secret.caPem !== undefined ? { caPem: secret.caPem } : {}) });
      }
    }
    return out;
  }

  /** setCredential hands every worker the gateway's current mesh credential. */
  setCredential(c: WorkerCredential): void {
    const msg: ToWorker = { t: 'credential', identity: c.identity, certChainPem: c.certChainPem, rootPem: c.rootPem, keyPem: c.key.reveal() };
    for (const w of this.#workers) if (!w.isDead()) w.send(msg);
  }

  /** metrics gathers every worker's metrics and sums them (prom-client's cluster aggregation). */
  async metrics(): Promise<string> {
    const id = ++this.#metricsId;
    const replies = await Promise.all(this.#workers.map((w) => this.#ask(w, { t: 'metrics', id }, (m) => m.t === 'metrics' && m.id === id)));
    const registry = AggregatorRegistry.aggregate(replies.map((r) => (r.t === 'metrics' ? r.metrics : [])));
    return registry.metrics();
  }

  async close(drainMs = 5000): Promise<void> {
    this.#closing = true;
    await Promise.all(
      this.#workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', () => resolve());
            w.send({ t: 'drain', ms: drainMs } satisfies ToWorker);
          }),
      ),
    );
  }

  #ask(w: Worker, msg: ToWorker, match: (m: FromWorker) => boolean): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromWorker) => {
        if (!match(m)) return;
        w.off('message', onMessage);
        w.off('exit', onExit);
        resolve(m);
      };
      const onExit = () => {
        w.off('message', onMessage);
        reject(new Error(`proxy worker ${w.id} exited`));
      };
      w.on('message', onMessage);
      w.once('exit', onExit);
      w.send(msg);
    });
  }
}

/** DELTA_BASE_MISMATCH is a worker's answer to a delta whose base it does not hold (internal: the primary resends the snapshot whole). */
const DELTA_BASE_MISMATCH = 'delta-base-mismatch';

/** isProxyWorker tells whether this process was forked as a proxy worker. */
export function isProxyWorker(): boolean {
  return cluster.isWorker && process.env.MESHGATE_PROXY_WORKER === '1';
}

/** runProxyWorker serves snapshots sent by the primary until told to drain. */
export function runProxyWorker(opts: ProxyOptions): Promise<void> {
  let credential: MeshCredential | undefined;
  // TLS Secrets arrive per snapshot version; the proxy reads those of the snapshot it applies.
  const incoming = new Map<string, Map<string, TlsSecret>>();
  let applying = new Map<string, TlsSecret>();
  let chain: Promise<void> = Promise.resolve();
  const proxy = new Proxy({
    ...opts,
    credentials: { current: () => credential },
    secrets: { tlsSecret: (namespace, name) => applying.get(`${namespace}/${name}`) },
  });
  const send = (m: FromWorker) => process.send?.(m);
  return new Promise((resolve) => {
    process.on('message', (m: ToWorker) => {
      switch (m.t) {
        case 'secrets':
          incoming.set(m.version, new Map(m.secrets.map((x) => [`${x.namespace}/${x.name}`, x])));
          break;
        case 'ticket-seed':
          setTicketKeySeed(Buffer.from(m.seed, 'base64'));
          break;
        case 'snapshot':
        case 'delta': {
          const version = m.t === 'snapshot' ? m.snapshot.version : m.delta.version;
          const own = incoming.get(version) ?? new Map<string, TlsSecret>();
          // One at a time, so a snapshot reads its own Secrets and not a later one's.
          chain = chain.then(() => {
            let snapshot: ir.Snapshot;
            if (m.t === 'snapshot') snapshot = m.snapshot;
            else if (proxy.current?.version === m.delta.base) snapshot = applyDelta(proxy.current, m.delta);
            else {
              // The primary resends it whole (with its Secrets again, so they are kept for it).
              send({ t: 'nack', version, error: `no snapshot ${m.delta.base} to apply a delta to`, code: DELTA_BASE_MISMATCH });
              return;
            }
            incoming.delete(version);
            applying = own;
            return proxy.applySnapshot(snapshot).then(
              () => void send({ t: 'ack', version, addresses: proxy.addresses() }),
              (err: Error & { code?: string }) => void send({ t: 'nack', version, error: err.message, ...(err.code ? { code: err.code } : {}) }),
            );
          });
          break;
        }
        case 'credential':
          credential = {
            identity: m.identity,
            secureContext: createSecureContext({ key: m.keyPem, cert: m.certChainPem, ca: m.rootPem }),
            rootPem: m.rootPem,
          };
          break;
        case 'metrics':
          void proxy.stats.registry.getMetricsAsJSON().then((metrics) => send({ t: 'metrics', id: m.id, metrics }));
          break;
        case 'drain':
          void proxy.close(m.ms).then(() => {
            resolve();
            process.exit(0);
          });
          break;
      }
    });
    // The primary owns signals; a worker ignores them and waits for its drain message.
    process.on('SIGINT', () => undefined);
    process.on('SIGTERM', () => undefined);
    send({ t: 'ready' });
  });
}
