/**
 * VirtualService translation: one VirtualService → one ir.VirtualHost. Each matcher of a route
 * becomes its own ir.Route (as Gloo emits one Envoy route per matcher), in order.
 */
import type { Resource } from '../api/meta.js';
import type {
  VirtualServiceSpec, Route, Matcher, Destination, HeaderManipulation, RetryPolicy, RedirectAction,
} from '../api/gateway/virtual-service.js';
import { UNSUPPORTED_ROUTE_OPTIONS, UNSUPPORTED_VHOST_OPTIONS } from '../api/gateway/virtual-service.js';
import type * as ir from '../ir/index.js';
import { type Report, warnUnsupported } from './report.js';
import { invalidDestination } from './reasons.js';
import { durationMs } from './duration.js';
import { clusterName } from './upstream.js';

/** DEFAULT_ROUTE_TIMEOUT_MS is Envoy's route timeout, which Gloo keeps (15s). */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;

/** KubeDestination is a `kube` destination the translator must build an in-memory upstream for. */
export interface KubeDestination {
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
}

/** VirtualServiceContext is what a VirtualService's translation may look up. */
export interface VirtualServiceContext {
  readonly report: Report;
  /** hasUpstream tells whether an Upstream resource exists. */
  hasUpstream(namespace: string, name: string): boolean;
  /** kubeUpstream registers a `kube` destination and returns its cluster name, or undefined if the Service is missing. */
  kubeUpstream(d: KubeDestination): string | undefined;
}

/** UNSUPPORTED_RETRY_FIELDS are retry policy fields accepted but not acted on yet. */
const UNSUPPORTED_RETRY_FIELDS = ['retryBackOff', 'rateLimitedRetryBackOff', 'previousPriorities'];

const REDIRECT_CODES: Record<string, number> = {
  MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308,
};

/** translateVirtualService builds the virtual host; errors are reported on the resource. */
export function translateVirtualService(vs: Resource<VirtualServiceSpec>, ctx: VirtualServiceContext): ir.VirtualHost {
  const { report } = ctx;
  report.saw(vs);
  const vh = vs.spec.virtualHost;
  warnUnsupported(report, vs, vh.options, UNSUPPORTED_VHOST_OPTIONS, 'spec.virtualHost.options');
  warnUnsupported(report, vs, vh.options?.retries, UNSUPPORTED_RETRY_FIELDS, 'spec.virtualHost.options.retries');
  if (vh.optionsConfigRefs) report.warn(vs, 'spec.virtualHost.optionsConfigRefs: not supported by meshgate yet; ignored');
  const domains = (vh.domains?.length ? vh.domains : ['*']).map((d) => d.toLowerCase());
  const routes: ir.Route[] = [];
  const vhRetries = vh.options?.retries;
  (vh.routes ?? []).forEach((route, ri) => {
    const path = `spec.virtualHost.routes[${ri}]`;
    const action = translateAction(vs, route, path, vhRetries, ctx);
    if (!action) return;
    const headers = translateHeaders(route.options?.headerManipulation);
    const matchers = route.matchers?.length ? route.matchers : [{}];
    matchers.forEach((m, mi) => {
      const match = translateMatcher(vs, m, `${path}.matchers[${mi}]`, report);
      if (!match) return;
      const base = route.name ? `${vs.metadata.namespace}.${vs.metadata.name}.${route.name}` : `${vs.metadata.namespace}.${vs.metadata.name}.route-${ri}`;
      routes.push({ name: matchers.length > 1 ? `${base}-${mi}` : base, match, action, ...(headers ? { headers } : {}) });
    });
  });
  const headers = translateHeaders(vh.options?.headerManipulation);
  return { name: `${vs.metadata.namespace}.${vs.metadata.name}`, domains, routes, ...(headers ? { headers } : {}) };
}

function translateMatcher(vs: Resource, m: Matcher, path: string, report: Report): ir.RouteMatch | undefined {
  const caseSensitive = m.caseSensitive ?? true;
  let p: ir.PathMatch;
  if (m.exact !== undefined) p = { kind: 'exact', value: m.exact };
  else if (m.regex !== undefined) {
    if (!compiles(m.regex, caseSensitive ? '' : 'i')) {
      report.error(vs, `${path}.regex: invalid regular expression ${JSON.stringify(m.regex)}`);
      return undefined;
    }
    p = { kind: 'regex', value: m.regex };
  } else p = { kind: 'prefix', value: m.prefix ?? '/' };
  if (m.connectMatcher !== undefined) report.warn(vs, `${path}.connectMatcher: not supported by meshgate yet; ignored`);
  if (p.kind !== 'regex' && !p.value.startsWith('/')) {
    report.error(vs, `${path}.${p.kind}: must start with /`);
    return undefined;
  }
  const headers: ir.HeaderMatch[] = [];
  for (const [hi, h] of (m.headers ?? []).entries()) {
    if (h.regex && h.value !== undefined && !compiles(h.value, '')) {
      report.error(vs, `${path}.headers[${hi}].value: invalid regular expression ${JSON.stringify(h.value)}`);
      return undefined;
    }
    headers.push({ name: h.name.toLowerCase(), ...(h.value !== undefined ? { value: h.value } : {}), ...(h.regex ? { regex: true } : {}), invert: h.invertMatch ?? false });
  }
  const queryParameters: ir.QueryParameterMatch[] = [];
  for (const [qi, q] of (m.queryParameters ?? []).entries()) {
    if (q.regex && q.value !== undefined && !compiles(q.value, '')) {
      report.error(vs, `${path}.queryParameters[${qi}].value: invalid regular expression ${JSON.stringify(q.value)}`);
      return undefined;
    }
    queryParameters.push({ name: q.name, ...(q.value !== undefined ? { value: q.value } : {}), ...(q.regex ? { regex: true } : {}) });
  }
  const methods = (m.methods ?? []).map((x) => x.toUpperCase());
  return { path: p, caseSensitive, headers, queryParameters, methods };
}

function compiles(source: string, flags: string): boolean {
  try {
    // On its own first: `a)|(b` compiles only once wrapped, where it would match far more than meant.
    new RegExp(source, flags);
    new RegExp(`^(?:${source})$`, flags);
    return true;
  } catch {
    return false;
  }
}

function translateAction(
  vs: Resource<VirtualServiceSpec>, route: Route, path: string, vhRetries: RetryPolicy | undefined, ctx: VirtualServiceContext,
): ir.RouteAction | undefined {
  const { report } = ctx;
  warnUnsupported(report, vs, route.options, UNSUPPORTED_ROUTE_OPTIONS, `${path}.options`);
  if (route.inheritableMatchers !== undefined || route.inheritablePathMatchers !== undefined || route.optionsConfigRefs !== undefined) {
    report.warn(vs, `${path}: inheritableMatchers, inheritablePathMatchers and optionsConfigRefs apply to delegation, which meshgate does not support yet; ignored`);
  }
  if (route.directResponseAction) {
    const d = route.directResponseAction;
    return { type: 'direct-response', status: d.status, ...(d.body !== undefined ? { body: d.body } : {}) };
  }
  if (route.redirectAction) return translateRedirect(vs, route.redirectAction, `${path}.redirectAction`, report);
  if (route.delegateAction !== undefined) {
    report.error(vs, `${path}.delegateAction: delegation to RouteTables is not supported by meshgate yet`);
    return undefined;
  }
  const ra = route.routeAction!;
  let destinations: ir.WeightedDestination[];
  if (ra.single) {
    const upstream = resolveDestination(vs, ra.single, `${path}.routeAction.single`, ctx);
    if (!upstream) return undefined;
    destinations = [{ upstream, weight: 1 }];
  } else if (ra.multi) {
    destinations = [];
    for (const [di, d] of ra.multi.destinations.entries()) {
      const dpath = `${path}.routeAction.multi.destinations[${di}]`;
      if (d.options !== undefined) report.warn(vs, `${dpath}.options: not supported by meshgate yet; ignored`);
      const upstream = resolveDestination(vs, d.destination, `${dpath}.destination`, ctx);
      if (!upstream) return undefined;
      destinations.push({ upstream, weight: d.weight ?? 0 });
    }
    if (destinations.every((d) => d.weight === 0)) {
      report.error(vs, `${path}.routeAction.multi: at least one destination must have a weight greater than 0`);
      return undefined;
    }
  } else {
    const which = Object.keys(ra)[0];
    report.error(vs, `${path}.routeAction.${which}: not supported by meshgate yet`);
    return undefined;
  }
  const o = route.options;
  warnUnsupported(report, vs, o?.retries, UNSUPPORTED_RETRY_FIELDS, `${path}.options.retries`);
  const timeoutMs = durationMs(o?.timeout) ?? DEFAULT_ROUTE_TIMEOUT_MS;
  const retries = translateRetries(o?.retries ?? vhRetries);
  if (o?.prefixRewrite !== undefined && route.matchers?.some((m) => m.regex !== undefined)) {
    report.error(vs, `${path}.options.prefixRewrite: cannot be used with a regex matcher (Envoy allows it only with prefix or exact)`);
    return undefined;
  }
  return {
    type: 'forward',
    destinations,
    timeoutMs,
    ...(retries ? { retries } : {}),
    ...(o?.prefixRewrite !== undefined ? { prefixRewrite: o.prefixRewrite } : {}),
  };
}

function resolveDestination(vs: Resource, d: Destination, path: string, ctx: VirtualServiceContext): string | undefined {
  if (d.destinationSpec !== undefined) ctx.report.warn(vs, `${path}.destinationSpec: not supported by meshgate yet; ignored`);
  if (d.subset !== undefined) ctx.report.warn(vs, `${path}.subset: not supported by meshgate yet; ignored`);
  if (d.upstream) {
    const ns = d.upstream.namespace || vs.metadata.namespace;
    // A missing Upstream is a warning, not an error: the route stays and answers 503 (Gloo).
    if (!ctx.hasUpstream(ns, d.upstream.name)) ctx.report.warn(vs, invalidDestination(ns, d.upstream.name));
    return clusterName(d.upstream.name, ns);
  }
  if (d.kube) {
    const ns = d.kube.ref.namespace || vs.metadata.namespace;
    const name = ctx.kubeUpstream({ namespace: ns, name: d.kube.ref.name, port: d.kube.port });
    if (!name) {
      // Gloo's text: the in-memory `kube-svc:` upstream of that Service port is not found.
      ctx.report.warn(vs, invalidDestination(ns, `kube-svc:${ns}-${d.kube.ref.name}-${d.kube.port}`));
      return clusterName(`kube-svc:${ns}-${d.kube.ref.name}-${d.kube.port}`, ns);
    }
    return name;
  }
  ctx.report.error(vs, `${path}.consul: Consul destinations are not supported by meshgate`);
  return undefined;
}

function translateRetries(r: RetryPolicy | undefined): ir.RetryPolicy | undefined {
  if (!r) return undefined;
  const retryOn = (r.retryOn ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return {
    retryOn,
    numRetries: r.numRetries ?? 1,
    perTryTimeoutMs: durationMs(r.perTryTimeout) ?? 0,
    retriableStatusCodes: r.retriableStatusCodes ?? [],
  };
}

function translateRedirect(vs: Resource, r: RedirectAction, path: string, report: Report): ir.RedirectAction | undefined {
  if (r.regexRewrite !== undefined) {
    report.error(vs, `${path}.regexRewrite: not supported by meshgate yet`);
    return undefined;
  }
  return {
    type: 'redirect',
    status: REDIRECT_CODES[r.responseCode ?? 'MOVED_PERMANENTLY']!,
    httpsRedirect: r.httpsRedirect ?? false,
    stripQuery: r.stripQuery ?? false,
    ...(r.hostRedirect !== undefined ? { hostRedirect: r.hostRedirect } : {}),
    ...(r.pathRedirect !== undefined ? { pathRedirect: r.pathRedirect } : {}),
    ...(r.prefixRewrite !== undefined ? { prefixRewrite: r.prefixRewrite } : {}),
    ...(r.portRedirect !== undefined ? { portRedirect: r.portRedirect } : {}),
  };
}

function translateHeaders(h: HeaderManipulation | undefined): ir.HeaderManipulation | undefined {
  if (!h) return undefined;
  const add = (list: HeaderManipulation['requestHeadersToAdd']) =>
    (list ?? []).map((o) => ({ key: o.header.key.toLowerCase(), value: o.header.value, append: o.append ?? true }));
  return {
    requestHeadersToAdd: add(h.requestHeadersToAdd),
    requestHeadersToRemove: (h.requestHeadersToRemove ?? []).map((s) => s.toLowerCase()),
    responseHeadersToAdd: add(h.responseHeadersToAdd),
    responseHeadersToRemove: (h.responseHeadersToRemove ?? []).map((s) => s.toLowerCase()),
  };
}
