/**
 * Gateway translation: which VirtualServices a Gateway serves, domain conflicts between them,
 * and the resulting ir.Listener.
 */
import type { Resource } from '../api/meta.js';
import type { GatewaySpec } from '../api/gateway/gateway.js';
import type { VirtualServiceSpec } from '../api/gateway/virtual-service.js';
import type * as ir from '../ir/index.js';
import type { Report } from './report.js';
import { domainConflict } from './reasons.js';
import { refString } from '../config/resource-set.js';

/** DEFAULT_PROXY_NAME is the proxy a Gateway feeds when it names none. */
export const DEFAULT_PROXY_NAME = 'gateway-proxy';

/** proxyNamesOf returns the proxies a Gateway belongs to. */
export function proxyNamesOf(gw: Resource<GatewaySpec>): readonly string[] {
  return gw.spec.proxyNames?.length ? gw.spec.proxyNames : [DEFAULT_PROXY_NAME];
}

/** selectVirtualServices returns the VirtualServices a Gateway serves, in name order. */
export function selectVirtualServices(
  gw: Resource<GatewaySpec>, all: readonly Resource<VirtualServiceSpec>[],
): Resource<VirtualServiceSpec>[] {
  const ssl = gw.spec.ssl ?? false;
  // ssl: false selects only VirtualServices without sslConfig, ssl: true only those with it.
  const candidates = all.filter((vs) => (vs.spec.sslConfig !== undefined) === ssl);
  const hg = gw.spec.httpGateway;
  const namespaces = hg?.virtualServiceNamespaces;
  const inNamespaces = (vs: Resource<VirtualServiceSpec>) => !namespaces?.length || namespaces.includes('*') || namespaces.includes(vs.metadata.namespace);
  // Gloo gives expressions priority over everything else; meshgate does not evaluate them yet,
  // and selecting nothing is safer than exposing every VirtualService (the Gateway is warned).
  if (hg?.virtualServiceExpressions !== undefined) return [];
  // Gloo (HttpGatewayContainsVirtualService): a selector wins over refs and is limited to
  // virtualServiceNamespaces; refs ignore virtualServiceNamespaces.
  if (hg?.virtualServiceSelector && Object.keys(hg.virtualServiceSelector).length) {
    const sel = hg.virtualServiceSelector;
    return candidates.filter((vs) => inNamespaces(vs) && Object.entries(sel).every(([k, v]) => vs.metadata.labels?.[k] === v));
  }
  if (hg?.virtualServices?.length) {
    const wanted = new Set(hg.virtualServices.map((r) => `${r.namespace || gw.metadata.namespace}.${r.name}`));
    return candidates.filter((vs) => wanted.has(refString(vs)));
  }
  return candidates.filter(inNamespaces);
}

/**
 * findDomainConflicts reports every VirtualService that shares a domain with another on the
 * same Gateway. Gloo rejects all of them; meshgate does too, but warns (not rejects) the
 * Gateway, so one bad pair cannot take the whole listener down.
 */
export function findDomainConflicts(
  gw: Resource<GatewaySpec>, vss: readonly Resource<VirtualServiceSpec>[], report: Report,
): Set<Resource<VirtualServiceSpec>> {
  const owners = new Map<string, Resource<VirtualServiceSpec>[]>();
  /** shared lists each domain with more than one owner, once. */
  const shared: string[] = [];
  const add = (d: string, vs: Resource<VirtualServiceSpec>) => {
    const list = owners.get(d);
    if (!list) owners.set(d, [vs]);
    else if (list.push(vs) === 2) shared.push(d);
  };
  for (const vs of vss) {
    const given = vs.spec.virtualHost.domains;
    if (!given?.length) add('*', vs);
    else if (given.length === 1) add(given[0]!.toLowerCase(), vs);
    else for (const d of new Set(given.map((x) => x.toLowerCase()))) add(d, vs);
  }
  const conflicted = new Set<Resource<VirtualServiceSpec>>();
  // As Gloo: one error per conflicting domain, naming the other VirtualServices with that domain.
  for (const domain of shared.sort()) {
    const list = owners.get(domain)!;
    for (const vs of list) {
      conflicted.add(vs);
      report.error(vs, domainConflict([domain], list.filter((o) => o !== vs).map(refString).sort()));
    }
  }
  if (conflicted.size) {
    report.warn(gw, `virtual services ${[...conflicted].map(refString).sort().join(', ')} are rejected for domain conflicts`);
  }
  return conflicted;
}

/** translateListener builds the listener of one Gateway from its accepted virtual hosts. */
export function translateListener(gw: Resource<GatewaySpec>, virtualHosts: ir.VirtualHost[], http: ir.HttpSettings, tls?: ir.ListenerTls): ir.Listener {
  return {
    http,
    name: refString(gw),
    bindAddress: gw.spec.bindAddress ?? '::',
    bindPort: gw.spec.bindPort,
    ssl: gw.spec.ssl ?? false,
    virtualHosts,
    ...(tls ? { tls } : {}),
  };
}
