/**
 * Small builders for hand-made ir.Snapshots, so proxy tests say only what matters to them.
 * Defaults follow what the translator emits for a plain VirtualService: listener `gloo-system.gw`
 * on `::` port 8080, virtual host `*`, prefix `/` match, 15 s route timeout.
 */
import type * as ir from '../../src/ir/index.js';
import { contentVersion } from '../../src/ir/version.js';
import { DEFAULT_HTTP_SETTINGS } from '../../src/ir/snapshot.js';

/** HTTP_PORT is the bindPort builders use unless told otherwise. */
export const HTTP_PORT = 8080;

/** EndpointSpec is a port on 127.0.0.1, or an endpoint spelled out. */
export type EndpointSpec = number | { readonly address?: string; readonly port: number; readonly labels?: Record<string, string> };

/** upstream builds an ir.Upstream (cluster name `name`). */
export function upstream(
  name: string, endpoints: readonly EndpointSpec[], opts: { connectTimeoutMs?: number; protocol?: ir.UpstreamProtocol } = {},
): ir.Upstream {
  return {
    name,
    connectTimeoutMs: opts.connectTimeoutMs ?? 5000,
    protocol: opts.protocol ?? 'http1',
    endpoints: endpoints.map((e) =>
      typeof e === 'number'
        ? { address: '127.0.0.1', port: e, labels: {} }
        : { address: e.address ?? '127.0.0.1', port: e.port, labels: e.labels ?? {} },
    ),
  };
}

/** match builds an ir.RouteMatch; the default is prefix `/`, any method. */
export function match(m: Partial<ir.RouteMatch> & { prefix?: string; exact?: string; regex?: string } = {}): ir.RouteMatch {
  const path: ir.PathMatch =
    m.path ??
    (m.exact !== undefined
      ? { kind: 'exact', value: m.exact }
      : m.regex !== undefined
        ? { kind: 'regex', value: m.regex }
        : { kind: 'prefix', value: m.prefix ?? '/' });
  return { path, caseSensitive: m.caseSensitive ?? true, headers: m.headers ?? [], queryParameters: m.queryParameters ?? [], methods: m.methods ?? [] };
}

/** Destinations: one upstream name, or [name, weight] pairs. */
export type Destinations = string | readonly (readonly [string, number])[];

/** forward builds a forward action; timeoutMs defaults to Envoy's 15000. */
export function forward(to: Destinations, opts: Partial<Omit<ir.ForwardAction, 'type' | 'destinations'>> = {}): ir.ForwardAction {
  const destinations = typeof to === 'string' ? [{ upstream: to, weight: 1 }] : to.map(([upstream, weight]) => ({ upstream, weight }));
  return { type: 'forward', destinations, timeoutMs: 15_000, ...opts };
}

/** retries builds a retry policy. */
export function retries(retryOn: readonly string[], numRetries: number, opts: Partial<ir.RetryPolicy> = {}): ir.RetryPolicy {
  return { retryOn, numRetries, perTryTimeoutMs: 0, retriableStatusCodes: [], ...opts };
}

/** direct builds a direct-response action. */
export function direct(status: number, body?: string): ir.DirectResponseAction {
  return { type: 'direct-response', status, ...(body !== undefined ? { body } : {}) };
}

/** redirect builds a redirect action; status defaults to 301 (Gloo's MOVED_PERMANENTLY). */
export function redirect(r: Partial<Omit<ir.RedirectAction, 'type'>> = {}): ir.RedirectAction {
  return { type: 'redirect', status: 301, httpsRedirect: false, stripQuery: false, ...r };
}

/** headerOps builds an ir.HeaderManipulation; add entries default to append true, as in Gloo. */
export function headerOps(h: {
  requestAdd?: readonly (readonly [string, string, boolean?])[];
  requestRemove?: readonly string[];
  responseAdd?: readonly (readonly [string, string, boolean?])[];
  responseRemove?: readonly string[];
}): ir.HeaderManipulation {
  const add = (l: readonly (readonly [string, string, boolean?])[] = []) => l.map(([key, value, append]) => ({ key, value, append: append ?? true }));
  return {
    requestHeadersToAdd: add(h.requestAdd),
    requestHeadersToRemove: h.requestRemove ?? [],
    responseHeadersToAdd: add(h.responseAdd),
    responseHeadersToRemove: h.responseRemove ?? [],
  };
}

/** route builds an ir.Route; match defaults to prefix `/`. */
export function route(action: ir.RouteAction, opts: { name?: string; match?: ir.RouteMatch; headers?: ir.HeaderManipulation } = {}): ir.Route {
  return {
    name: opts.name ?? 'default.vs.route',
    match: opts.match ?? match(),
    action,
    ...(opts.headers ? { headers: opts.headers } : {}),
  };
}

/** vhost builds an ir.VirtualHost; domains default to `*`. */
export function vhost(routes: readonly ir.Route[], opts: { name?: string; domains?: readonly string[]; headers?: ir.HeaderManipulation } = {}): ir.VirtualHost {
  return { name: opts.name ?? 'default.vs', domains: opts.domains ?? ['*'], routes, ...(opts.headers ? { headers: opts.headers } : {}) };
}

/** listener builds an ir.Listener on `::` (the proxy maps it to its bindAddress). */
export function listener(
  virtualHosts: readonly ir.VirtualHost[],
  opts: { name?: string; bindPort?: number; bindAddress?: string; ssl?: boolean; http?: Partial<ir.HttpSettings> } = {},
): ir.Listener {
  return {
    http: { ...DEFAULT_HTTP_SETTINGS, ...opts.http },
    name: opts.name ?? 'gloo-system.gateway-proxy',
    bindAddress: opts.bindAddress ?? '::',
    bindPort: opts.bindPort ?? HTTP_PORT,
    ssl: opts.ssl ?? false,
    virtualHosts,
  };
}

/** snapshot assembles listeners and upstreams and stamps the content version. */
export function snapshot(listeners: ir.Listener | readonly ir.Listener[], upstreams: readonly ir.Upstream[] = [], proxy = 'gateway-proxy'): ir.Snapshot {
  const body = {
    proxy,
    listeners: Array.isArray(listeners) ? listeners : [listeners as ir.Listener],
    upstreams: Object.fromEntries(upstreams.map((u) => [u.name, u])),
  };
  return { version: contentVersion(body), ...body };
}

/** simple is the common case: one listener, one `*` virtual host with these routes. */
export function simple(routes: ir.Route | readonly ir.Route[], upstreams: readonly ir.Upstream[] = []): ir.Snapshot {
  return snapshot(listener([vhost(Array.isArray(routes) ? routes : [routes as ir.Route])]), upstreams);
}
