/**
 * ControlPlane is the composition root of the control plane. On every change to the stored
 * resources it runs, in order:
 *   1. discovery: Services → discovered Upstreams, written back to the store (as Gloo's UDS
 *      writes Upstream CRs), which triggers another pass that finds nothing left to do;
 *   2. translation of the whole set, falling back to last accepted forms for rejected resources;
 *   3. keeping the statuses, publishing the snapshots, and recording the accepted forms.
 * Passes are coalesced: many writes in a burst cost one translation. The translation cache is
 * kept from pass to pass, so a pass after a change costs what changed (translate/cache.ts).
 */
import type { Logger } from 'pino';
import type { Resource, ResourceStatus } from '../api/meta.js';
import { GLOO_NAMESPACE } from '../api/kinds.js';
import type * as ir from '../ir/index.js';
import { FileStore } from '../config/file/file-store.js';
import { keyOf, keyString, type ResourceKey } from '../config/resource-set.js';
import { translate, type ResourceOutcome } from '../translate/translator.js';
import { TranslateCache } from '../translate/cache.js';
import { discoverUpstreams, isDiscovered } from '../translate/discovery.js';
import { defaultResources } from './defaults.js';
import { byKind } from '../config/resource-set.js';
import type { PeerAuthenticationSpec } from '../api/security/peer-authentication.js';
import { effectiveMtls, type EffectiveMtls } from '../translate/peer-authentication.js';
import type { TlsSecretMaterial } from '../translate/secret.js';
import { secretKey } from '../translate/secret.js';

/** REPORTER is the name statuses are reported by (Gloo: `reportedBy: gloo`). */
export const REPORTER = 'gloo';

/** SnapshotListener receives each new snapshot of a proxy. */
export type SnapshotListener = (s: ir.Snapshot) => void;

/** ProxyInfo is what a running proxy reports about itself (for `meshgate proxy url`). */
export interface ProxyInfo {
  readonly name: string;
  readonly listeners: readonly { name: string; ssl: boolean; bindPort: number; host: string; port: number }[];
  /** ports maps each default Gateway port to where it is (or would be) bound. */
  readonly ports: Readonly<Record<string, { host: string; port: number }>>;
}

export interface ControlPlaneOptions {
  readonly store: FileStore;
  readonly log: Logger;
  /** proxies always get a snapshot, even before any Gateway names them. */
  readonly proxies?: readonly string[];
}

export class ControlPlane {
  readonly store: FileStore;
  readonly #log: Logger;
  readonly #proxies: readonly string[];
  readonly #listeners = new Map<string, Set<SnapshotListener>>();
  readonly #snapshots = new Map<string, ir.Snapshot>();
  readonly #proxyInfo = new Map<string, ProxyInfo>();
  #outcomes: ReadonlyMap<string, ResourceOutcome> = new Map();
  /** #tlsSecrets is the material of the Secrets the current snapshots name, as translated. */
  #tlsSecrets: ReadonlyMap<string, TlsSecretMaterial> = new Map();
  readonly #cache = new TranslateCache();
  #scheduled = false;
  #running: Promise<void> = Promise.resolve();
  #passes = 0;

  constructor(opts: ControlPlaneOptions) {
    this.store = opts.store;
    this.#log = opts.log;
    this.#proxies = opts.proxies ?? ['gateway-proxy'];
  }

  /** start loads the data directory, writes the defaults into a fresh one, and runs a first pass. */
  async start(): Promise<void> {
    const fresh = await this.store.load();
    for (const issue of this.store.loadIssues) this.#log.error({ file: issue.file }, `cannot load resource: ${issue.message}`);
    if (fresh) for (const r of defaultResources()) await this.store.put(r);
    this.store.onChange(() => this.#schedule());
    await this.reconcile();
  }

  /** reconcile runs one pass now (after any pass in progress) and resolves when it is done. */
  reconcile(): Promise<void> {
    const run = this.#running.then(() => this.#pass());
    this.#running = run.catch((err) => this.#log.error({ err }, 'reconcile failed'));
    return run;
  }

  /** settled resolves once no pass is pending or running: every write so far is translated. */
  async settled(): Promise<void> {
    for (;;) {
      const running = this.#running;
      await running;
      if (!this.#scheduled && running === this.#running) return;
      if (this.#scheduled) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.reconcile();
    });
  }

  async #pass(): Promise<void> {
    this.#passes++;
    // 1. Discovery writes first; its own change notification schedules the next pass.
    if (await this.#syncDiscovered()) return;
    const all = this.store.all();
    // 2. Translation.
    const result = translate(all, { lastAccepted: this.store.acceptedForms(), proxies: this.#proxies, cache: this.#cache });
    this.#outcomes = result.outcomes;
    // Before the snapshots go out, so a proxy applying one finds what it names.
    this.#tlsSecrets = result.tlsSecrets;
    for (const [k, o] of result.outcomes) {
      if (o.state === 'Rejected') this.#log.warn({ resource: k }, `rejected: ${o.reason}`);
    }
    // 3. Snapshots, then accepted forms: the proxies need not wait for the disk. A restart
    // translates the stored resources again, which gives what was served.
    for (const [proxy, snap] of result.snapshots) {
      if (this.#snapshots.get(proxy)?.version === snap.version) continue;
      this.#snapshots.set(proxy, snap);
      for (const l of this.#listeners.get(proxy) ?? []) l(snap);
    }
    await this.store.recordAccepted(result.accepted);
  }

  /** #syncDiscovered writes discovery's Upstreams; it returns true if it changed anything. */
  async #syncDiscovered(): Promise<boolean> {
    // Discovery reads only Services and the Upstreams of the discovery namespace: the store's
    // index hands them over without a walk through every resource.
    const glooUpstreams = this.store.ofKind('Upstream', GLOO_NAMESPACE);
    const wanted = discoverUpstreams([...this.store.ofKind('Service'), ...glooUpstreams]);
    const wantedNames = new Set(wanted.map((u) => u.metadata.name));
    let changed = false;
    for (const u of wanted) {
      const current = this.store.get(keyOf(u));
      // A user-written Upstream of the same name wins; discovery leaves it alone.
      if (current && !isDiscovered(current)) continue;
      const { action } = await this.store.put(u);
      if (action !== 'unchanged') changed = true;
    }
    for (const u of glooUpstreams) {
      if (isDiscovered(u) && !wantedNames.has(u.metadata.name)) {
        await this.store.delete(keyOf(u));
        changed = true;
      }
    }
    return changed;
  }

  /** passes counts translation passes (for tests and metrics). */
  get passes(): number {
    return this.#passes;
  }

  /** subscribe delivers the current snapshot of a proxy (if any) and every later one. */
  subscribe(proxy: string, l: SnapshotListener): () => void {
    const set = this.#listeners.get(proxy) ?? new Set();
    set.add(l);
    this.#listeners.set(proxy, set);
    const current = this.#snapshots.get(proxy);
    if (current) l(current);
    return () => set.delete(l);
  }

  /** snapshot returns the current snapshot of a proxy. */
  snapshot(proxy: string): ir.Snapshot | undefined {
    return this.#snapshots.get(proxy);
  }

  /**
   * tlsSecret is the proxy's SecretSource in process: the material of a TLS Secret a snapshot
   * names, in the form translation checked (the last accepted one, for a Secret that turned bad).
   */
  tlsSecret(namespace: string, name: string): TlsSecretMaterial | undefined {
    return this.#tlsSecrets.get(secretKey(namespace, name));
  }

  /** statusOf returns a resource's status in Gloo's shape. */
  statusOf(key: ResourceKey): ResourceStatus {
    const o = this.#outcomes.get(keyString(key));
    const state = o?.state ?? 'Pending';
    return { statuses: { [GLOO_NAMESPACE]: { state, ...(o?.reason ? { reason: o.reason } : {}), reportedBy: REPORTER } } };
  }

  /** withStatus returns a copy of a resource with its status filled in. */
  withStatus(r: Resource): Resource {
    return { ...r, status: this.statusOf(keyOf(r)) };
  }

  /** caRootPem is the mesh root, served to sidecars on one machine; set when the CA runs here. */
  caRootPem: string | undefined;

  /** effectiveMtls resolves a workload's PeerAuthentication from the policies not rejected. */
  effectiveMtls(namespace: string, labels: Record<string, string>): EffectiveMtls {
    const policies = byKind<PeerAuthenticationSpec>(this.store.list(), 'PeerAuthentication').filter(
      (p) => this.#outcomes.get(keyString(keyOf(p)))?.state !== 'Rejected',
    );
    return effectiveMtls(policies, { namespace, labels });
  }

  /** reportProxy records where a proxy listens (it calls this after each snapshot it applies). */
  reportProxy(info: ProxyInfo): void {
    this.#proxyInfo.set(info.name, info);
  }

  proxyInfo(name: string): ProxyInfo | undefined {
    return this.#proxyInfo.get(name);
  }
}
