/**
 * translate turns a resource set into one snapshot per proxy and a status per resource. It is a
 * pure function: no I/O, no clock, no randomness. The steps run in a fixed order:
 *   1. Upstreams (and in-memory `kube` destinations) → ir.Upstreams, so routes can check refs.
 *   2. VirtualServices → virtual hosts; their own errors reject them.
 *      Secrets are checked first, so a VirtualService's sslConfig can name a valid one.
 *   3. Gateways → listeners per proxy; domain conflicts reject the VirtualServices involved; an
 *      ssl Gateway's listener gets the certificates of its VirtualServices (translate/tls.ts).
 *   4. A resource rejected in 1–3 is replaced by its last accepted form, if it has one, and
 *      the set is translated again, so a resource that turns bad keeps serving (Gloo).
 * With a TranslateCache kept across calls (the control plane keeps one), each resource's own
 * translation is reused while what it read is unchanged, and a change that only replaces a few
 * VirtualServices' routes is patched into the last result (translateChanges): at 10,000
 * VirtualServices a pass after one change costs about a millisecond instead of a second. The
 * result is the same either way (incremental.test.ts).
 */
import type { Resource, ResourceState } from '../api/meta.js';
import type { UpstreamSpec } from '../api/gloo/upstream.js';
import type { VirtualServiceSpec } from '../api/gateway/virtual-service.js';
import type { GatewaySpec } from '../api/gateway/gateway.js';
import type { SettingsSpec } from '../api/gloo/settings.js';
import type { ServiceSpec } from '../api/core/service.js';
import type { WorkloadEntrySpec } from '../api/istio/workload-entry.js';
import * as ir from '../ir/index.js';
import { byKind, compareResources, keyOf, keyString } from '../config/resource-set.js';
import { Report } from './report.js';
import { EndpointIndex, translateUpstream, clusterName, DEFAULT_CONNECT_TIMEOUT_MS } from './upstream.js';
import { translateVirtualService, type KubeDestination, type VirtualServiceContext } from './virtual-service.js';
import { impliesHttp2 } from './discovery.js';
import { selectVirtualServices, findDomainConflicts, translateListener, proxyNamesOf } from './gateway.js';
import { GLOO_NAMESPACE } from '../api/kinds.js';
import type { PeerAuthenticationSpec } from '../api/security/peer-authentication.js';
import { validatePeerAuthentication } from './peer-authentication.js';
import { istioOptionsOf } from './istio-mtls.js';
import { translateHttpSettings } from './http-settings.js';
import { isSecret } from '../api/core/secret.js';
import { secretKey, translateSecret, type SecretInfo, type TlsSecretMaterial } from './secret.js';
import { listenerTls, translateSslConfig, warnMissingTlsSecretOf, type VirtualServiceTls } from './tls.js';
import { TranslateCache, type VirtualHostMemo, type VsQuery } from './cache.js';

/** ResourceOutcome is one resource's status after translation. */
export interface ResourceOutcome {
  readonly state: ResourceState;
  readonly reason?: string;
  /** servingLastAccepted is true when the resource is rejected but its last accepted form is served. */
  readonly servingLastAccepted?: boolean;
}

/** TranslateResult is the snapshots per proxy name and the outcome per resource key. */
export interface TranslateResult {
  readonly snapshots: ReadonlyMap<string, ir.Snapshot>;
  readonly outcomes: ReadonlyMap<string, ResourceOutcome>;
  /** accepted lists the resources (as given) whose current form was accepted or warned. */
  readonly accepted: readonly Resource[];
  /**
   * tlsSecrets is the decoded material of every Secret the snapshots name (by `namespace/name`),
   * in the form translation used. It is for the proxy's SecretSource; it never enters a snapshot.
   */
  readonly tlsSecrets: ReadonlyMap<string, TlsSecretMaterial>;
}

/** TranslateOptions carries what the translator may fall back on. */
export interface TranslateOptions {
  /** lastAccepted maps a resource key to the last form of it that was accepted. */
  readonly lastAccepted?: ReadonlyMap<string, Resource>;
  /** proxies lists proxy names that get a snapshot even with no Gateway (so they can report ready). */
  readonly proxies?: readonly string[];
  /**
   * cache, kept across calls, makes a translation after a change cost what changed (cache.ts);
   * the result is the same with or without it.
   */
  readonly cache?: TranslateCache;
}

/** translate runs the whole pipeline; see the module comment for the steps. */
export function translate(resources: readonly Resource[], opts: TranslateOptions = {}): TranslateResult {
  const cache = opts.cache ?? new TranslateCache();
  const proxies = opts.proxies ?? [];
  const quick = opts.cache && translateChanges(resources, proxies, opts.lastAccepted, opts.cache);
  if (quick) return quick;
  cache.last = undefined;
  const first = translateOnce(resources, proxies, cache);
  const rejected = new Set<string>();
  for (const [k, o] of first.outcomes) if (o.state === 'Rejected') rejected.add(k);
  // A frozen input (the store's) can be kept as is: no copy of thousands of entries per pass.
  const accepted = rejected.size === 0 ? kept(resources) : resources.filter((r) => !rejected.has(keyString(keyOf(r))));
  if (rejected.size === 0) {
    const result = { snapshots: first.snapshots, outcomes: first.outcomes, accepted, tlsSecrets: first.tlsSecrets };
    // Where translateChanges can start from (copies: the caller may change its arrays).
    if (opts.cache && first.uniqueVirtualServices) {
      cache.last = { resources: kept(resources), proxies: proxies.slice(), result, hasUpstream: first.hasUpstream, fallbacks: new Map() };
    }
    return result;
  }

  const fallback: Resource[] = [];
  const serving = new Set<string>();
  for (const r of resources) {
    const k = keyString(keyOf(r));
    if (!rejected.has(k)) fallback.push(r);
    else {
      const last = opts.lastAccepted?.get(k);
      // The last accepted form may be the current one: rejected now only because of another
      // resource (a domain or port conflict), it keeps serving.
      if (last) {
        fallback.push(last);
        serving.add(k);
      }
    }
  }
  // A fallback form that no longer translates (it conflicts with a resource accepted in the
  // first pass, say) is dropped and the set translated again: current, accepted resources win.
  let set = fallback;
  let second = translateOnce(set, opts.proxies ?? [], cache);
  for (let round = 0; round < MAX_FALLBACK_ROUNDS; round++) {
    const broken = new Set([...serving].filter((k) => second.outcomes.get(k)?.state === 'Rejected'));
    if (broken.size === 0) break;
    for (const k of broken) serving.delete(k);
    set = set.filter((r) => !broken.has(keyString(keyOf(r))));
    second = translateOnce(set, opts.proxies ?? [], cache);
  }
  const outcomes = new Map(first.outcomes);
  for (const k of serving) {
    if (second.outcomes.get(k)?.state === 'Rejected') continue;
    const o = outcomes.get(k)!;
    outcomes.set(k, { ...o, reason: `${o.reason}; serving its last accepted form`, servingLastAccepted: true });
  }
  const result = { snapshots: second.snapshots, outcomes, accepted, tlsSecrets: second.tlsSecrets };
  if (opts.cache && first.uniqueVirtualServices) {
    const fallbacks = new Map([...rejected].map((k) => [k, opts.lastAccepted?.get(k)]));
    cache.last = { resources: kept(resources), proxies: proxies.slice(), result, hasUpstream: first.hasUpstream, fallbacks };
  }
  return result;
}

/** MAX_QUICK_CHANGES bounds the changed resources translateChanges takes on. */
const MAX_QUICK_CHANGES = 16;

/** QUICK_ABORT stops translateChanges when a VirtualService resolves a kube destination. */
const QUICK_ABORT = new Error('kube destination: not a quick change');

/**
 * translateChanges is translate() for the common change, from the last result in the cache:
 * VirtualServices that were not rejected replaced by new forms with the same keys, neither with
 * sslConfig, with the same labels, the same domains (lower-cased, as a set) and routes or none as
 * before, and no error. Then
 *  - the same Gateways select them (selection reads the namespace, labels and sslConfig), and they
 *    are served or not as before (a served VirtualService needs routes and no errors);
 *  - no domain conflict appears or goes (they had none: it would have rejected them; and the same
 *    domains conflict with the same others, last accepted forms included);
 *  - what else is rejected, and the last accepted forms standing in for it, are unchanged (the
 *    forms are checked: the caller's map may have changed);
 *  - nothing else reads them: only their virtual hosts, their own outcomes and their places in
 *    the accepted list change, in the first pass and in the fallback pass alike (their cached
 *    translation is the same object in both).
 * So the last result with those replaced is what translating the whole set gives; anything else
 * (a new translation with errors, a kube destination, another kind, more than a few changes)
 * returns undefined for a full translation. incremental.test.ts compares the two on random
 * changes.
 */
function translateChanges(
  resources: readonly Resource[], proxies: readonly string[], lastAccepted: ReadonlyMap<string, Resource> | undefined, cache: TranslateCache,
): TranslateResult | undefined {
  const last = cache.last;
  if (!last || last.resources.length !== resources.length || last.proxies.length !== proxies.length || last.proxies.some((p, i) => p !== proxies[i])) return undefined;
  for (const [k, form] of last.fallbacks) if (lastAccepted?.get(k) !== form) return undefined;
  const changed: number[] = [];
  for (let i = 0; i < resources.length; i++) {
    if (resources[i] !== last.resources[i] && changed.push(i) > MAX_QUICK_CHANGES) return undefined;
  }
  /** outcomes is the last result's until an outcome changes (a copy of 20,000 entries is not free). */
  let outcomes = last.result.outcomes as Map<string, ResourceOutcome>;
  /** replaced maps an old virtual host to the new one, replacedResources an old VirtualService to the new one. */
  const replaced = new Map<ir.VirtualHost, ir.VirtualHost>();
  const replacedResources = new Map<Resource, Resource>();
  const noKube = (): string | undefined => {
    throw QUICK_ABORT;
  };
  for (const i of changed) {
    const before = last.resources[i] as Resource<VirtualServiceSpec>;
    const after = resources[i] as Resource<VirtualServiceSpec>;
    if (!quickCompatible(before, after)) return undefined;
    const old = cache.virtualHosts.get(before);
    if (!old || old.queries.some((q) => q.t === 'kube')) return undefined;
    const report = new Report();
    let memo: VirtualHostMemo;
    try {
      memo = virtualHostOf(after, cache, report, last.hasUpstream, noKube);
    } catch (err) {
      if (err === QUICK_ABORT) return undefined;
      throw err;
    }
    const outcome = report.result();
    const key = keyString(keyOf(after));
    const o = outcome.get(key);
    const was = outcomes.get(key);
    if (!o || o.state === 'Rejected' || outcome.size !== 1 || !was || was.state === 'Rejected') return undefined;
    if (was !== o && (was?.state !== o.state || was.reason !== o.reason)) {
      if (outcomes === last.result.outcomes) outcomes = new Map(outcomes);
      outcomes.set(key, o);
    }
    replaced.set(old.value, memo.value);
    replacedResources.set(before, after);
  }
  const snapshots = new Map<string, ir.Snapshot>();
  for (const [proxy, snap] of last.result.snapshots) {
    let touched = false;
    const listeners = snap.listeners.map((l) => {
      if (!l.virtualHosts.some((vh) => replaced.has(vh))) return l;
      touched = true;
      return { ...l, virtualHosts: l.virtualHosts.map((vh) => replaced.get(vh) ?? vh) };
    });
    if (!touched) {
      snapshots.set(proxy, snap);
      continue;
    }
    const body = { proxy: snap.proxy, listeners, upstreams: snap.upstreams };
    snapshots.set(proxy, { version: ir.snapshotVersion(body, cache.versions), ...body });
  }
  // Nothing rejected: everything is accepted. Otherwise the changed ones keep their places.
  const accepted = last.fallbacks.size === 0 ? kept(resources) : last.result.accepted.map((r) => replacedResources.get(r) ?? r);
  const result: TranslateResult = { snapshots, outcomes, accepted, tlsSecrets: last.result.tlsSecrets };
  cache.last = { ...last, resources: kept(resources), result };
  return result;
}

/** kept is a list to keep: a frozen one as it is, any other copied (its owner may change it). */
function kept<T>(list: readonly T[]): readonly T[] {
  return Object.isFrozen(list) ? list : list.slice();
}

/** quickCompatible tells a change translateChanges can take (see there). */
function quickCompatible(before: Resource, after: Resource): boolean {
  if (before.kind !== 'VirtualService' || after.kind !== 'VirtualService') return false;
  if (before.metadata.namespace !== after.metadata.namespace || before.metadata.name !== after.metadata.name) return false;
  const a = before as Resource<VirtualServiceSpec>;
  const b = after as Resource<VirtualServiceSpec>;
  if (a.spec.sslConfig !== undefined || b.spec.sslConfig !== undefined) return false;
  if (((a.spec.virtualHost.routes?.length ?? 0) > 0) !== ((b.spec.virtualHost.routes?.length ?? 0) > 0)) return false;
  return sameStringMap(a.metadata.labels, b.metadata.labels) && domainSet(a) === domainSet(b);
}

function sameStringMap(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean {
  const ka = Object.keys(a ?? {});
  if (ka.length !== Object.keys(b ?? {}).length) return false;
  return ka.every((k) => Object.hasOwn(b!, k) && a![k] === b![k]);
}

/** domainSet is a VirtualService's domains as domain conflicts see them, as one string. */
function domainSet(vs: Resource<VirtualServiceSpec>): string {
  const given = vs.spec.virtualHost.domains;
  return JSON.stringify([...new Set((given?.length ? given : ['*']).map((d) => d.toLowerCase()))].sort());
}

/** MAX_FALLBACK_ROUNDS bounds the re-translations that drop broken fallback forms. */
const MAX_FALLBACK_ROUNDS = 3;

interface OnceResult {
  snapshots: Map<string, ir.Snapshot>;
  outcomes: Map<string, ResourceOutcome>;
  tlsSecrets: Map<string, TlsSecretMaterial>;
  /** hasUpstream answers VirtualServices' questions about Upstreams in this set. */
  hasUpstream(ns: string, n: string): boolean;
  /** uniqueVirtualServices: no two VirtualServices share a namespace and name (their outcomes would merge). */
  uniqueVirtualServices: boolean;
}

function translateOnce(resources: readonly Resource[], proxies: readonly string[], cache: TranslateCache): OnceResult {
  const report = new Report();
  const settings = pickSettings(byKind<SettingsSpec>(resources, 'Settings'), report);
  const services = byKind<ServiceSpec>(resources, 'Service');
  const workloads = byKind<WorkloadEntrySpec>(resources, 'WorkloadEntry');
  const index = new EndpointIndex(services, workloads);
  for (const r of resources) if (r.kind === 'Service' || r.kind === 'WorkloadEntry') report.saw(r);
  const istio = istioOptionsOf(settings, report);
  for (const pa of byKind<PeerAuthenticationSpec>(resources, 'PeerAuthentication')) {
    const { errors, warnings } = validatePeerAuthentication(pa);
    report.saw(pa);
    for (const e of errors) report.error(pa, e);
    for (const w of warnings) report.warn(pa, w);
  }

  // What translations read besides their own resource (see cache.ts): kube destinations and kube
  // Upstreams read the Services and WorkloadEntries, every Upstream the Istio options.
  const kubeFingerprint = cache.fingerprint([...services, ...workloads]);
  const istioFingerprint = `${istio.enableIntegration},${istio.enableAutoMtls}`;
  if (cache.kubeFingerprint !== kubeFingerprint) {
    cache.kubeUpstreams.clear();
    cache.kubeFingerprint = kubeFingerprint;
  }

  // 1. Upstreams.
  /** upstreams in the order the snapshot lists them; kubeNames are the kube destinations' among them. */
  const upstreams: ir.Upstream[] = [];
  const kubeNames = new Set<string>();
  /** upstreamRefs: namespace → names of the Upstreams in it. */
  const upstreamRefs = new Map<string, Set<string>>();
  for (const u of cache.ofKind<UpstreamSpec>(resources, 'Upstream')) {
    const fingerprint = u.spec.kube ? `${istioFingerprint}|${kubeFingerprint}` : istioFingerprint;
    let memo = cache.upstreams.get(u);
    if (memo?.fingerprint === fingerprint) report.replay(memo.entries);
    else {
      const [value, entries] = report.record(() => translateUpstream(u, index, istio, report));
      memo = { value, entries, fingerprint };
      cache.upstreams.set(u, memo);
    }
    upstreams.push(memo.value);
    const names = upstreamRefs.get(u.metadata.namespace);
    if (names) names.add(u.metadata.name);
    else upstreamRefs.set(u.metadata.namespace, new Set([u.metadata.name]));
  }
  const kubeUpstream = (d: KubeDestination): string | undefined => {
    const svc = index.service(d.namespace, d.name);
    const port = svc?.spec.ports.find((p) => p.port === d.port);
    if (!svc || !port) return undefined;
    // Gloo names these in-memory upstreams `kube-svc:<ns>-<svc>-<port>` in the Service's namespace.
    const name = clusterName(`kube-svc:${d.namespace}-${d.name}-${d.port}`, d.namespace);
    // An Upstream resource's cluster name never starts with `kube-svc:` (names have no colon).
    if (!kubeNames.has(name)) {
      // The same Services and WorkloadEntries give the same upstream: reused, so it keeps its identity.
      const key = `${d.namespace}/${d.name}/${d.port}`;
      let u = cache.kubeUpstreams.get(key);
      if (!u) {
        u = {
          name,
          connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
          protocol: impliesHttp2(port) ? 'http2' : 'http1',
          endpoints: index.endpoints(d.namespace, svc.spec.selector, port),
        };
        cache.kubeUpstreams.set(key, u);
      }
      upstreams.push(u);
      kubeNames.add(name);
    }
    return name;
  };
  const hasUpstream = (ns: string, n: string) => upstreamRefs.get(ns)?.has(n) ?? false;

  // 2. Secrets, then VirtualServices: translated once each, whichever Gateways select them.
  const secretList = cache.ofKind(resources, 'Secret').filter(isSecret);
  const secrets = new Map<string, SecretInfo>();
  for (const s of secretList) {
    let memo = cache.secrets.get(s);
    if (memo) report.replay(memo.entries);
    else {
      const [value, entries] = report.record(() => translateSecret(s, report));
      memo = { value, entries };
      cache.secrets.set(s, memo);
    }
    secrets.set(secretKey(s.metadata.namespace, s.metadata.name), memo.value);
  }
  const tlsContext = { report, secrets, warnMissingTlsSecret: warnMissingTlsSecretOf(settings) };
  const tlsFingerprint = cache.fingerprint(secretList, tlsContext.warnMissingTlsSecret);
  const vss = cache.ofKind<VirtualServiceSpec>(resources, 'VirtualService');
  /** vhosts are the VirtualServices' translations, in the cache (every one of vss has an entry by now). */
  const vhosts = { get: (vs: Resource<VirtualServiceSpec>) => cache.virtualHosts.get(vs)!.value };
  const vsTls = new Map<Resource<VirtualServiceSpec>, VirtualServiceTls>();
  for (const vs of vss) {
    virtualHostOf(vs, cache, report, hasUpstream, kubeUpstream);
    if (vs.spec.sslConfig) {
      const sslConfig = vs.spec.sslConfig;
      let t = cache.sslConfigs.get(vs);
      if (t?.fingerprint === tlsFingerprint) report.replay(t.entries);
      else {
        const [value, entries] = report.record(() => translateSslConfig(vs, sslConfig, tlsContext));
        t = { value, entries, fingerprint: tlsFingerprint };
        cache.sslConfigs.set(vs, t);
      }
      if (t.value) vsTls.set(vs, t.value);
    }
  }

  // 3. Gateways → listeners, per proxy.
  const translateEmpty = settings?.spec.gateway?.translateEmptyGateways ?? true;
  const listeners = new Map<string, ir.Listener[]>(proxies.map((p) => [p, []]));
  const portOwners = new Map<string, string>();
  // The oldest Gateway keeps a contested port: a new one cannot take it from a working one.
  const gateways = byKind<GatewaySpec>(resources, 'Gateway').sort(
    (a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''),
  );
  // First find every conflict, since a VirtualService may sit on several Gateways.
  const selected = new Map(gateways.map((gw) => [gw, selectVirtualServices(gw, vss)]));
  for (const [gw, list] of selected) {
    report.saw(gw);
    // The same VirtualServices on the same Gateway: the same conflicts (usually none) as last time.
    const memo = cache.domainConflicts.get(gw);
    if (memo && memo.list.length === list.length && memo.list.every((vs, i) => vs === list[i])) report.replay(memo.entries);
    else cache.domainConflicts.set(gw, { list, entries: report.record(() => findDomainConflicts(gw, list, report))[1] });
  }
  for (const [gw, list] of selected) {
    if (gw.spec.httpGateway?.virtualServiceExpressions !== undefined) {
      report.warn(gw, 'spec.httpGateway.virtualServiceExpressions: not supported by meshgate yet; the Gateway selects no VirtualServices');
    }
    if (gw.spec.tcpGateway !== undefined || gw.spec.hybridGateway !== undefined) {
      report.warn(gw, 'spec: tcpGateway and hybridGateway are not supported by meshgate yet; no listener');
      continue;
    }
    if (gw.spec.options !== undefined) report.warn(gw, 'spec.options: listener options are not supported by meshgate yet; ignored');
    const http = translateHttpSettings(gw, report);
    if (gw.spec.routeOptions !== undefined) report.warn(gw, 'spec.routeOptions: not supported by meshgate yet; ignored');
    const ssl = gw.spec.ssl ?? false;
    let served = list.filter((vs) => !report.isRejected(vs) && (ssl ? vsTls.has(vs) : !vs.spec.sslConfig) && (vs.spec.virtualHost.routes?.length ?? 0) > 0);
    let tls: ir.ListenerTls | undefined;
    if (ssl) ({ served, tls } = listenerTls(gw, served, vsTls, report));
    // Gloo opens no listener for a Gateway without VirtualServices. meshgate keeps a plaintext one
    // open (answering 404) unless Settings say translateEmptyGateways: false; TLS needs a certificate.
    if (served.length === 0 && (ssl || !translateEmpty)) continue;
    for (const proxy of proxyNamesOf(gw)) {
      const portKey = `${proxy}:${gw.spec.bindPort}`;
      const owner = portOwners.get(portKey);
      if (owner) {
        report.error(gw, `spec.bindPort: port ${gw.spec.bindPort} of proxy ${proxy} is already used by gateway ${owner}`);
        continue;
      }
      portOwners.set(portKey, `${gw.metadata.namespace}.${gw.metadata.name}`);
      const list2 = listeners.get(proxy) ?? [];
      list2.push(translateListener(gw, served.map((vs) => vhosts.get(vs)!), http, tls));
      listeners.set(proxy, list2);
    }
  }

  const snapshots = new Map<string, ir.Snapshot>();
  const upstreamRecord = cache.upstreamRecord(upstreams);
  for (const [proxy, ls] of listeners) {
    const body = { proxy, listeners: ls, upstreams: upstreamRecord };
    snapshots.set(proxy, { version: ir.snapshotVersion(body, cache.versions), ...body });
  }
  let uniqueVirtualServices = true;
  for (let i = 1; i < vss.length; i++) {
    // vss is sorted by namespace and name: a duplicate sits next to its twin.
    if (vss[i]!.metadata.namespace === vss[i - 1]!.metadata.namespace && vss[i]!.metadata.name === vss[i - 1]!.metadata.name) uniqueVirtualServices = false;
  }
  return { snapshots, outcomes: report.result(cache.keyOrder), tlsSecrets: namedSecrets(listeners, secrets), hasUpstream, uniqueVirtualServices };
}

/**
 * virtualHostOf translates a VirtualService, or replays its cached translation when every question
 * it asked gets the same answer (cache.ts).
 */
function virtualHostOf(
  vs: Resource<VirtualServiceSpec>, cache: TranslateCache, report: Report,
  hasUpstream: (ns: string, n: string) => boolean, kubeUpstream: (d: KubeDestination) => string | undefined,
): VirtualHostMemo {
  let memo = cache.virtualHosts.get(vs);
  if (memo && sameAnswers(memo.queries, hasUpstream, kubeUpstream)) {
    report.replay(memo.entries);
    return memo;
  }
  const queries: VsQuery[] = [];
  const recording: VirtualServiceContext = {
    report,
    hasUpstream: (namespace, name) => {
      const answer = hasUpstream(namespace, name);
      queries.push({ t: 'has', namespace, name, answer });
      return answer;
    },
    kubeUpstream: (d) => {
      const answer = kubeUpstream(d);
      queries.push({ t: 'kube', d, answer });
      return answer;
    },
  };
  const [value, entries] = report.record(() => translateVirtualService(vs, recording));
  memo = { value, entries, queries };
  cache.virtualHosts.set(vs, memo);
  return memo;
}

/**
 * sameAnswers asks a cached VirtualService translation's questions again, in order, and tells
 * whether every answer is the one it got (asking registers kube destinations' upstreams, as the
 * translation did).
 */
function sameAnswers(
  queries: readonly VsQuery[], hasUpstream: (ns: string, n: string) => boolean, kubeUpstream: (d: KubeDestination) => string | undefined,
): boolean {
  for (const q of queries) {
    if (q.t === 'has' ? hasUpstream(q.namespace, q.name) !== q.answer : kubeUpstream(q.d) !== q.answer) return false;
  }
  return true;
}

/** namedSecrets collects the material of every Secret a listener names, for the proxy. */
function namedSecrets(listeners: ReadonlyMap<string, readonly ir.Listener[]>, secrets: ReadonlyMap<string, SecretInfo>): Map<string, TlsSecretMaterial> {
  const out = new Map<string, TlsSecretMaterial>();
  for (const ls of listeners.values()) {
    for (const l of ls) {
      const refs = [...(l.tls?.certificates.map((c) => c.secretRef) ?? []), l.tls?.clientCa && 'secretRef' in l.tls.clientCa ? l.tls.clientCa.secretRef : undefined];
      for (const ref of refs) {
        const tls = ref && secrets.get(secretKey(ref.namespace, ref.name))?.tls;
        if (ref && tls) out.set(secretKey(ref.namespace, ref.name), tls);
      }
    }
  }
  return out;
}

/** pickSettings returns gloo-system/default, or the only Settings; others are warned about. */
function pickSettings(all: Resource<SettingsSpec>[], report: Report): Resource<SettingsSpec> | undefined {
  const chosen = all.find((s) => s.metadata.namespace === GLOO_NAMESPACE && s.metadata.name === 'default') ?? (all.length === 1 ? all[0] : undefined);
  for (const s of all) {
    report.saw(s);
    if (s !== chosen) report.warn(s, `only ${GLOO_NAMESPACE}/default Settings are used; these are ignored`);
  }
  return chosen;
}
