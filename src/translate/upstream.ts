/** Upstream translation: an Upstream resource (static or kube) → ir.Upstream with endpoints. */
import type { Resource } from '../api/meta.js';
import type { UpstreamSpec } from '../api/gloo/upstream.js';
import { UNSUPPORTED_UPSTREAM_FIELDS } from '../api/gloo/upstream.js';
import type { ServiceSpec, ServicePort } from '../api/core/service.js';
import type { WorkloadEntrySpec } from '../api/istio/workload-entry.js';
import type * as ir from '../ir/index.js';
import { type Report, warnUnsupported } from './report.js';
import { durationMs } from './duration.js';
import { applyIstioMtls, type IstioOptions } from './istio-mtls.js';

/** DEFAULT_CONNECT_TIMEOUT_MS is Gloo's cluster connect timeout (translator/defaults.go). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/** clusterName is Gloo's Envoy cluster name for an Upstream: `<name>_<namespace>`. */
export function clusterName(name: string, namespace: string): string {
  return `${name}_${namespace}`;
}

/** Endpoints indexes Services and WorkloadEntries for endpoint lookups. */
export class EndpointIndex {
  readonly #services = new Map<string, Resource<ServiceSpec>>();
  readonly #workloads = new Map<string, Resource<WorkloadEntrySpec>[]>();

  constructor(services: readonly Resource<ServiceSpec>[], workloads: readonly Resource<WorkloadEntrySpec>[]) {
    for (const s of services) this.#services.set(`${s.metadata.namespace}/${s.metadata.name}`, s);
    for (const w of workloads) {
      const list = this.#workloads.get(w.metadata.namespace) ?? [];
      list.push(w);
      this.#workloads.set(w.metadata.namespace, list);
    }
  }

  service(namespace: string, name: string): Resource<ServiceSpec> | undefined {
    return this.#services.get(`${namespace}/${name}`);
  }

  /**
   * endpoints of a Service port: the WorkloadEntries in the Service's namespace whose labels
   * include the selector; the port is the entry's port named like the Service port, else the
   * targetPort (a number, or the name of an entry port), else the Service port itself.
   */
  endpoints(namespace: string, selector: Record<string, string> | undefined, port: ServicePort): ir.Endpoint[] {
    // A Service without a selector selects nothing (Kubernetes: its endpoints are managed by hand).
    if (!selector || Object.keys(selector).length === 0) return [];
    const out: ir.Endpoint[] = [];
    for (const w of this.#workloads.get(namespace) ?? []) {
      // Istio merges the entry's metadata labels over its spec labels, metadata winning.
      const labels = { ...(w.spec.labels ?? {}), ...(w.metadata.labels ?? {}) };
      if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) continue;
      const p = resolvePort(w.spec, port);
      if (p === undefined) continue;
      out.push({
        address: w.spec.address,
        port: p,
        labels,
        ...(w.spec.serviceAccount ? { serviceAccount: w.spec.serviceAccount } : {}),
      });
    }
    return out.sort((a, b) => a.address.localeCompare(b.address) || a.port - b.port);
  }
}

function resolvePort(w: WorkloadEntrySpec, port: ServicePort): number | undefined {
  if (port.name && w.ports?.[port.name] !== undefined) return w.ports[port.name];
  if (typeof port.targetPort === 'number') return port.targetPort;
  if (typeof port.targetPort === 'string') return w.ports?.[port.targetPort];
  return port.port;
}

/** translateUpstream builds the ir.Upstream of one Upstream resource. */
export function translateUpstream(u: Resource<UpstreamSpec>, index: EndpointIndex, istio: IstioOptions, report: Report): ir.Upstream {
  report.saw(u);
  warnUnsupported(report, u, u.spec, UNSUPPORTED_UPSTREAM_FIELDS, 'spec');
  const connectTimeoutMs = durationMs(u.spec.connectionConfig?.connectTimeout) ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const name = clusterName(u.metadata.name, u.metadata.namespace);
  let endpoints: ir.Endpoint[] = [];
  if (u.spec.static) {
    endpoints = u.spec.static.hosts.map((h) => ({ address: h.addr, port: h.port, labels: {} }));
    if (!u.spec.sslConfig && (u.spec.static.useTls || (u.spec.static.useTls === undefined && u.spec.static.hosts.some((h) => h.port === 443)))) {
      report.warn(u, 'spec.static.useTls: TLS origination to static hosts is not supported by meshgate yet; connections are plaintext');
    }
  } else if (u.spec.kube) {
    const k = u.spec.kube;
    const svc = index.service(k.serviceNamespace, k.serviceName);
    if (!svc) {
      report.warn(u, `spec.kube: Service ${k.serviceNamespace}/${k.serviceName} not found; the upstream has no endpoints`);
    } else {
      const port = svc.spec.ports.find((p) => p.port === k.servicePort);
      if (!port) report.warn(u, `spec.kube.servicePort: Service ${k.serviceNamespace}/${k.serviceName} has no port ${k.servicePort}`);
      else endpoints = index.endpoints(k.serviceNamespace, k.selector ?? svc.spec.selector, port);
    }
  } else {
    report.warn(u, 'spec: no static or kube upstream type set; the upstream has no endpoints');
  }
  const protocol = upstreamProtocol(u.spec);
  return { name, connectTimeoutMs, protocol, endpoints: applyIstioMtls(u, endpoints, protocol, istio, report) };
}

/** upstreamProtocol reads useHttp2 and protocolSelection (Gloo's USE_CONFIGURED_PROTOCOL by default). */
export function upstreamProtocol(spec: UpstreamSpec): ir.UpstreamProtocol {
  if (spec.protocolSelection === 'USE_DOWNSTREAM_PROTOCOL') return 'downstream';
  return spec.useHttp2 ? 'http2' : 'http1';
}
