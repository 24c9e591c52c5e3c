/**
 * TranslateCache lets translation after a change cost what changed. The control plane keeps one
 * across passes; translate() without one uses a fresh one, so both take the same code path.
 *
 * Every entry is keyed by a resource object (the store replaces a resource's object when it
 * changes and never mutates one; translation never mutates its input) and holds the result of
 * that resource's translation, the calls it made on the Report (replayed on a hit), and what it
 * read besides its own resource:
 *  - an Upstream reads the Settings' Istio options and, for a kube Upstream, the Services and
 *    WorkloadEntries: the entry is valid while their fingerprint is unchanged;
 *  - a VirtualService asks whether Upstreams exist and resolves kube destinations: the entry
 *    keeps each question with its answer and is valid while every answer is the same (they are
 *    asked again, in order, which also registers the kube destinations' upstreams again);
 *  - a VirtualService's sslConfig reads the Secrets and a Settings flag (their fingerprint);
 *  - a Secret reads nothing else;
 *  - a Gateway's domain conflicts read the VirtualServices it selects: the entry is valid for the
 *    same VirtualService objects in the same order.
 * A translation is a deterministic function of its resource and of those answers, so a hit gives
 * what translating again would (incremental.test.ts checks this on random changes).
 * The cache also keeps the last clean result (see translateChanges in translator.ts), the last
 * sorted orders of resources and outcome keys, and the content versions of virtual hosts and
 * upstreams (ir.VersionCache).
 */
import type { Resource } from '../api/meta.js';
import * as ir from '../ir/index.js';
import { compareResources } from '../config/resource-set.js';
import { KeyOrder, type ReportEntry } from './report.js';
import type { KubeDestination } from './virtual-service.js';
import type { SecretInfo } from './secret.js';
import type { VirtualServiceTls } from './tls.js';
import type { TranslateResult } from './translator.js';

/** VsQuery is one question a VirtualService's translation asked, with its answer. */
export type VsQuery =
  | { readonly t: 'has'; readonly namespace: string; readonly name: string; readonly answer: boolean }
  | { readonly t: 'kube'; readonly d: KubeDestination; readonly answer: string | undefined };

export interface Memo<T> {
  readonly value: T;
  readonly entries: readonly ReportEntry[];
}

export interface FingerprintMemo<T> extends Memo<T> {
  readonly fingerprint: string;
}

export interface VirtualHostMemo extends Memo<ir.VirtualHost> {
  readonly queries: readonly VsQuery[];
}

/** sameKeys tells two lists holding resources of the same namespace and name at each position. */
function sameKeys(a: readonly Resource[], b: readonly Resource[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y && (x.metadata.namespace !== y.metadata.namespace || x.metadata.name !== y.metadata.name)) return false;
  }
  return true;
}

/** LastTranslation is a result and what it came from. */
export interface LastTranslation {
  readonly resources: readonly Resource[];
  readonly proxies: readonly string[];
  readonly result: TranslateResult;
  hasUpstream(ns: string, n: string): boolean;
  /** fallbacks: for each rejected resource, the last accepted form that stood in for it (or none). */
  readonly fallbacks: ReadonlyMap<string, Resource | undefined>;
}

export class TranslateCache {
  /** last is where the next translation may start from (translateChanges in translator.ts). */
  last: LastTranslation | undefined;
  /** versions of virtual hosts and upstreams, for ir.snapshotVersion. */
  readonly versions = new ir.VersionCache();
  readonly upstreams = new WeakMap<Resource, FingerprintMemo<ir.Upstream>>();
  readonly virtualHosts = new WeakMap<Resource, VirtualHostMemo>();
  readonly sslConfigs = new WeakMap<Resource, FingerprintMemo<VirtualServiceTls | undefined>>();
  readonly secrets = new WeakMap<Resource, Memo<SecretInfo>>();
  /** domainConflicts: a Gateway's VirtualServices (the list) and what findDomainConflicts reported. */
  readonly domainConflicts = new WeakMap<Resource, { readonly list: readonly Resource[]; readonly entries: readonly ReportEntry[] }>();
  /** keyOrder sorts the outcomes' keys, reusing the last order. */
  readonly keyOrder = new KeyOrder();
  /** kubeUpstreams are the in-memory upstreams of kube destinations, valid for kubeFingerprint. */
  readonly kubeUpstreams = new Map<string, ir.Upstream>();
  kubeFingerprint = '';
  readonly #ids = new WeakMap<object, number>();
  #nextId = 0;
  #lastUpstreams: readonly ir.Upstream[] = [];
  #lastRecord: Readonly<Record<string, ir.Upstream>> = {};
  readonly #sorted = new Map<string, { input: readonly Resource[]; order: readonly number[] }>();

  /**
   * upstreamRecord is the snapshot's upstreams by cluster name, in the order given: the last
   * pass's object when the same upstreams come in the same order, so that snapshotVersion and
   * the proxy can tell them unchanged by identity (a record of 10,000 upstreams is costly to
   * build and to walk).
   */
  upstreamRecord(upstreams: readonly ir.Upstream[]): Readonly<Record<string, ir.Upstream>> {
    const last = this.#lastUpstreams;
    let same = last.length === upstreams.length;
    for (let i = 0; same && i < upstreams.length; i++) same = upstreams[i] === last[i];
    if (!same) {
      const record: Record<string, ir.Upstream> = {};
      for (const u of upstreams) record[u.name] = u;
      this.#lastUpstreams = upstreams;
      this.#lastRecord = record;
    }
    return this.#lastRecord;
  }

  /**
   * ofKind is byKind (resources of one kind, by namespace then name) for the big kinds: when the
   * resources of that kind have the same keys in the same order as last time (the usual case:
   * one changed, as a new object), last time's order is reused instead of sorting again.
   */
  ofKind<S = unknown>(resources: readonly Resource[], kind: string): Resource<S>[] {
    const input = resources.filter((r) => r.kind === kind) as Resource<S>[];
    const last = this.#sorted.get(kind);
    let order = last?.order;
    if (!last || !sameKeys(last.input, input)) {
      // Sorting positions by the resources they point at is the same stable sort as byKind's.
      order = input.map((_, i) => i).sort((a, b) => compareResources(input[a]!, input[b]!));
    }
    this.#sorted.set(kind, { input, order: order! });
    return order!.map((i) => input[i]!);
  }

  /** fingerprint names a list of resources by identity (and some flags): equal lists, equal text. */
  fingerprint(resources: readonly object[], ...flags: unknown[]): string {
    let s = flags.map(String).join(',');
    for (const r of resources) {
      let id = this.#ids.get(r);
      if (id === undefined) this.#ids.set(r, (id = this.#nextId++));
      s += `;${id}`;
    }
    return s;
  }
}
