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
import { translateVirtualService, type KubeDestination } from './virtual-service.js';
import { impliesHttp2 } from './discovery.js';
import { selectVirtualServices, findDomainConflicts, translateListener, proxyNamesOf } from './gateway.js';
import { GLOO_NAMESPACE } from '../api/kinds.js';
import type { PeerAuthenticationSpec } from '../api/security/peer-authentication.js';
import { validatePeerAuthentication } from './peer-authentication.js';
import { istioOptionsOf } from './istio-mtls.js';
import { translateHttpSettings } from './http-settings.js';
import { isSecret } from '../api/core/secret.js';
import { secretKey, translateSecrets, type SecretInfo, type TlsSecretMaterial } from './secret.js';
import { listenerTls, translateSslConfig, warnMissingTlsSecretOf, type VirtualServiceTls } from './tls.js';

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
}

/** translate runs the whole pipeline; see the module comment for the steps. */
export function translate(resources: readonly Resource[], opts: TranslateOptions = {}): TranslateResult {
  const first = translateOnce(resources, opts.proxies ?? []);
  const rejected = new Set([...first.outcomes].filter(([, o]) => o.state === 'Rejected').map(([k]) => k));
  const accepted = resources.filter((r) => !rejected.has(keyString(keyOf(r))));
  if (rejected.size === 0) return { snapshots: first.snapshots, outcomes: first.outcomes, accepted, tlsSecrets: first.tlsSecrets };

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
  let second = translateOnce(set, opts.proxies ?? []);
  for (let round = 0; round < MAX_FALLBACK_ROUNDS; round++) {
    const broken = new Set([...serving].filter((k) => second.outcomes.get(k)?.state === 'Rejected'));
    if (broken.size === 0) break;
    for (const k of broken) serving.delete(k);
    set = set.filter((r) => !broken.has(keyString(keyOf(r))));
    second = translateOnce(set, opts.proxies ?? []);
  }
  const outcomes = new Map(first.outcomes);
  for (const k of serving) {
    if (second.outcomes.get(k)?.state === 'Rejected') continue;
    const o = outcomes.get(k)!;
    outcomes.set(k, { ...o, reason: `${o.reason}; serving its last accepted form`, servingLastAccepted: true });
  }
  return { snapshots: second.snapshots, outcomes, accepted, tlsSecrets: second.tlsSecrets };
}

/** MAX_FALLBACK_ROUNDS bounds the re-translations that drop broken fallback forms. */
const MAX_FALLBACK_ROUNDS = 3;

interface OnceResult {
  snapshots: Map<string, ir.Snapshot>;
  outcomes: Map<string, ResourceOutcome>;
  tlsSecrets: Map<string, TlsSecretMaterial>;
}

function translateOnce(resources: readonly Resource[], proxies: readonly string[]): OnceResult {
  const report = new Report();
  const settings = pickSettings(byKind<SettingsSpec>(resources, 'Settings'), report);
  const index = new EndpointIndex(byKind<ServiceSpec>(resources, 'Service'), byKind<WorkloadEntrySpec>(resources, 'WorkloadEntry'));
  for (const r of resources) if (r.kind === 'Service' || r.kind === 'WorkloadEntry') report.saw(r);
  const istio = istioOptionsOf(settings, report);
  for (const pa of byKind<PeerAuthenticationSpec>(resources, 'PeerAuthentication')) {
    const { errors, warnings } = validatePeerAuthentication(pa);
    report.saw(pa);
    for (const e of errors) report.error(pa, e);
    for (const w of warnings) report.warn(pa, w);
  }

  // 1. Upstreams.
  const upstreams: Record<string, ir.Upstream> = {};
  const upstreamRefs = new Set<string>();
  for (const u of byKind<UpstreamSpec>(resources, 'Upstream')) {
    const iu = translateUpstream(u, index, istio, report);
    upstreams[iu.name] = iu;
    upstreamRefs.add(`${u.metadata.namespace}/${u.metadata.name}`);
  }
  const kubeUpstream = (d: KubeDestination): string | undefined => {
    const svc = index.service(d.namespace, d.name);
    const port = svc?.spec.ports.find((p) => p.port === d.port);
    if (!svc || !port) return undefined;
    // Gloo names these in-memory upstreams `kube-svc:<ns>-<svc>-<port>` in the Service's namespace.
    const name = clusterName(`kube-svc:${d.namespace}-${d.name}-${d.port}`, d.namespace);
    upstreams[name] ??= {
      name,
      connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
      protocol: impliesHttp2(port) ? 'http2' : 'http1',
      endpoints: index.endpoints(d.namespace, svc.spec.selector, port),
    };
    return name;
  };

  // 2. Secrets, then VirtualServices: translated once each, whichever Gateways select them.
  const secrets = translateSecrets(resources.filter(isSecret).sort(compareResources), report);
  const tlsContext = { report, secrets, warnMissingTlsSecret: warnMissingTlsSecretOf(settings) };
  const vss = byKind<VirtualServiceSpec>(resources, 'VirtualService');
  const vhosts = new Map<Resource<VirtualServiceSpec>, ir.VirtualHost>();
  const vsTls = new Map<Resource<VirtualServiceSpec>, VirtualServiceTls>();
  for (const vs of vss) {
    const vh = translateVirtualService(vs, { report, hasUpstream: (ns, n) => upstreamRefs.has(`${ns}/${n}`), kubeUpstream });
    if (vs.spec.sslConfig) {
      const t = translateSslConfig(vs, vs.spec.sslConfig, tlsContext);
      if (t) vsTls.set(vs, t);
    }
    vhosts.set(vs, vh);
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
    findDomainConflicts(gw, list, report);
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
  for (const [proxy, ls] of listeners) {
    const body = { proxy, listeners: ls, upstreams };
    snapshots.set(proxy, { version: ir.contentVersion(body), ...body });
  }
  return { snapshots, outcomes: report.result(), tlsSecrets: namedSecrets(listeners, secrets) };
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
