/**
 * Tables for `meshgate get`: Upstreams and VirtualServices as glooctl prints them
 * (gloo-compat.md §3), other kinds as kubectl-style NAME/NAMESPACE/STATUS rows.
 */
import type { Resource, ResourceStatus } from '../../api/meta.js';
import type { UpstreamSpec } from '../../api/gloo/upstream.js';
import type { VirtualServiceSpec, Route } from '../../api/gateway/virtual-service.js';
import type { GatewaySpec } from '../../api/gateway/gateway.js';
import { renderTable } from './table.js';
import type { SecretResource } from '../../api/core/secret.js';

function state(r: Resource): string {
  const s = (r.status as ResourceStatus | undefined)?.statuses;
  if (!s) return 'Pending';
  return Object.values(s)[0]?.state ?? 'Pending';
}

function upstreamRow(u: Resource<UpstreamSpec>): string[] {
  const s = u.spec;
  let type = 'Unknown';
  let details = '';
  if (s.kube) {
    type = 'Kubernetes';
    details = `svc name:      ${s.kube.serviceName}\nsvc namespace: ${s.kube.serviceNamespace}\nport:          ${s.kube.servicePort}`;
  } else if (s.static) {
    type = 'Static';
    details = `hosts:\n${s.static.hosts.map((h) => `- ${h.addr}:${h.port}`).join('\n')}`;
  } else if (s.consul) type = 'Consul';
  else if (s.aws) type = 'AWS Lambda';
  else if (s.azure) type = 'Azure';
  else if (s.awsEc2) type = 'AWS EC2';
  else if (s.gcp) type = 'GCP';
  return [u.metadata.name, type, state(u), details];
}

function routeLine(r: Route): string {
  const m = r.matchers?.[0];
  const path = m?.prefix ?? m?.exact ?? m?.regex ?? '/';
  const a = r.routeAction;
  if (a?.single?.upstream) return `${path} -> ${a.single.upstream.namespace ?? ''}.${a.single.upstream.name} (upstream)`;
  if (a?.single?.kube) return `${path} -> ${a.single.kube.ref.namespace ?? ''}.${a.single.kube.ref.name} (service)`;
  if (a?.multi) return `${path} -> ${a.multi.destinations.length} destinations`;
  if (r.directResponseAction) return `${path} -> direct response ${r.directResponseAction.status}`;
  if (r.redirectAction) return `${path} -> redirect`;
  return `${path} -> ?`;
}

function virtualServiceRow(vs: Resource<VirtualServiceSpec>): string[] {
  const vh = vs.spec.virtualHost;
  return [
    vs.metadata.name,
    vs.spec.displayName ?? '',
    (vh.domains?.length ? vh.domains : ['*']).join(', '),
    vs.spec.sslConfig ? 'secret' : 'none',
    state(vs),
    '',
    (vh.routes ?? []).map(routeLine).join('\n'),
  ];
}

function gatewayRow(gw: Resource<GatewaySpec>): string[] {
  return [gw.metadata.name, String(gw.spec.ssl ?? false), `${gw.spec.bindAddress ?? '::'}:${gw.spec.bindPort}`, (gw.spec.proxyNames ?? ['gateway-proxy']).join(', '), state(gw)];
}

/** printTable renders a list of resources of one kind. */
export function printTable(kind: string, items: readonly Resource[], allNamespaces: boolean): string {
  switch (kind) {
    case 'Upstream':
      return renderTable(['UPSTREAM', 'TYPE', 'STATUS', 'DETAILS'], items.map((u) => upstreamRow(u as Resource<UpstreamSpec>)));
    case 'VirtualService':
      return renderTable(
        ['VIRTUAL SERVICE', 'DISPLAY NAME', 'DOMAINS', 'SSL', 'STATUS', 'LISTENERPLUGINS', 'ROUTES'],
        items.map((v) => virtualServiceRow(v as Resource<VirtualServiceSpec>)),
      );
    case 'Gateway':
      return renderTable(['GATEWAY', 'SSL', 'BIND', 'PROXIES', 'STATUS'], items.map((g) => gatewayRow(g as Resource<GatewaySpec>)));
    case 'Secret': {
      // kubectl's columns (DATA counts the keys), never a value.
      const row = (r: SecretResource) => [r.metadata.name, r.type, String(Object.keys(r.data ?? {}).length), state(r)];
      const headers = ['NAME', 'TYPE', 'DATA', 'STATUS'];
      return renderTable(
        allNamespaces ? ['NAMESPACE', ...headers] : headers,
        items.map((r) => (allNamespaces ? [r.metadata.namespace, ...row(r as SecretResource)] : row(r as SecretResource))),
      );
    }
    default: {
      const headers = allNamespaces ? ['NAMESPACE', 'NAME', 'STATUS'] : ['NAME', 'STATUS'];
      return renderTable(headers, items.map((r) => (allNamespaces ? [r.metadata.namespace, r.metadata.name, state(r)] : [r.metadata.name, state(r)])));
    }
  }
}
