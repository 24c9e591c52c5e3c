/**
 * Discovery turns Services into Upstreams the way Gloo's UDS does: one Upstream per Service port,
 * named `<namespace>-<service>-<port>`, written to gloo-system with `discovered_by: kubernetesplugin`.
 * Pure: the control plane persists what it returns; `validate` uses it in memory.
 */
import { createHash } from 'node:crypto';
import type { Resource } from '../api/meta.js';
import type { ServiceSpec, ServicePort } from '../api/core/service.js';
import type { UpstreamSpec } from '../api/gloo/upstream.js';
import { GLOO_NAMESPACE } from '../api/kinds.js';
import { byKind } from '../config/resource-set.js';

/** DISCOVERED_BY_LABEL marks Upstreams that discovery owns. */
export const DISCOVERED_BY_LABEL = 'discovered_by';
export const DISCOVERED_BY_KUBE = 'kubernetesplugin';

/** upstreamName is Gloo's discovered name, shortened with a hash past 63 characters (SanitizeNameV2). */
export function upstreamName(namespace: string, service: string, port: number): string {
  const name = `${namespace}-${service}-${port}`.toLowerCase().replace(/[^a-z0-9-.]/g, '-');
  if (name.length <= 63) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, 63 - 9)}-${hash}`;
}

/** isDiscovered tells an Upstream that discovery owns. */
export function isDiscovered(u: Resource): boolean {
  return u.metadata.labels?.[DISCOVERED_BY_LABEL] === DISCOVERED_BY_KUBE;
}

// Fields a user may set on a discovered Upstream that discovery must keep (Gloo's
// update_upstream_spec.go keeps user-set sslConfig and friends across resyncs).
const USER_FIELDS: readonly (keyof UpstreamSpec)[] = [
  'sslConfig', 'disableIstioAutoMtls', 'circuitBreakers', 'connectionConfig', 'useHttp2', 'loadBalancerConfig',
  'healthChecks', 'outlierDetection',
];

/** HTTP2_PORT_NAMES and HTTP2_APP_PROTOCOLS mark a Service port as HTTP/2, as Gloo's discovery reads them. */
const HTTP2_PORT_NAMES = ['grpc', 'h2', 'http2'];
const HTTP2_APP_PROTOCOLS = ['http2', 'grpc', 'grpc-web', 'kubernetes.io/h2c'];

/** impliesHttp2 tells a Service port whose name (by prefix) or appProtocol says it speaks HTTP/2 (gRPC). */
export function impliesHttp2(port: ServicePort): boolean {
  if (port.appProtocol !== undefined && HTTP2_APP_PROTOCOLS.includes(port.appProtocol)) return true;
  const name = port.name ?? '';
  return HTTP2_PORT_NAMES.some((p) => name.startsWith(p));
}

/**
 * discoverUpstreams returns the Upstreams discovery wants, given the Services and the Upstreams
 * that exist now (whose user-set fields are kept).
 */
export function discoverUpstreams(resources: readonly Resource[]): Resource<UpstreamSpec>[] {
  // A lookup by name: no need to sort (thousands of) Upstreams as byKind does.
  const existing = new Map<string, Resource<UpstreamSpec>>();
  for (const r of resources) if (r.kind === 'Upstream' && r.metadata.namespace === GLOO_NAMESPACE) existing.set(r.metadata.name, r as Resource<UpstreamSpec>);
  const out: Resource<UpstreamSpec>[] = [];
  for (const svc of byKind<ServiceSpec>(resources, 'Service')) {
    for (const port of svc.spec.ports) {
      const name = upstreamName(svc.metadata.namespace, svc.metadata.name, port.port);
      const spec: UpstreamSpec = {
        kube: {
          serviceName: svc.metadata.name,
          serviceNamespace: svc.metadata.namespace,
          servicePort: port.port,
          ...(svc.spec.selector ? { selector: svc.spec.selector } : {}),
        },
        ...(svc.metadata.labels ? { discoveryMetadata: { labels: svc.metadata.labels } } : {}),
        ...(impliesHttp2(port) ? { useHttp2: true } : {}),
      };
      const prev = existing.get(name);
      if (prev) for (const f of USER_FIELDS) if (prev.spec[f] !== undefined) (spec as Record<string, unknown>)[f] = prev.spec[f];
      out.push({
        apiVersion: 'gloo.solo.io/v1',
        kind: 'Upstream',
        metadata: {
          name,
          namespace: GLOO_NAMESPACE,
          labels: { ...(prev?.metadata.labels ?? {}), [DISCOVERED_BY_LABEL]: DISCOVERED_BY_KUBE },
          ...(prev?.metadata.annotations ? { annotations: prev.metadata.annotations } : {}),
        },
        spec,
      });
    }
  }
  return out;
}

/**
 * withDiscovered returns the resource set as the control plane would store it after discovery:
 * discovered Upstreams added or refreshed, and those whose Service port is gone removed.
 */
export function withDiscovered(resources: readonly Resource[]): Resource[] {
  const wanted = new Map(discoverUpstreams(resources).map((u) => [u.metadata.name, u]));
  const out: Resource[] = [];
  for (const r of resources) {
    if (r.kind === 'Upstream' && r.metadata.namespace === GLOO_NAMESPACE && (isDiscovered(r) || wanted.has(r.metadata.name))) {
      const w = wanted.get(r.metadata.name);
      if (w && isDiscovered(r)) out.push({ ...w, metadata: { ...r.metadata, labels: w.metadata.labels } });
      else if (w) out.push(r); // A user-written Upstream of that name wins; discovery leaves it alone.
      wanted.delete(r.metadata.name);
      continue;
    }
    out.push(r);
  }
  return [...out, ...wanted.values()];
}
