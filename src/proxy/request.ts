/**
 * handleRequest is the proxy's per-request entry point: find the route, then answer locally
 * (direct response, redirect, 404) or forward. It reads the listener's runtime once, so a
 * snapshot swapped in mid-request never changes a request already routed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as ir from '../ir/index.js';
import type { RouteTable } from './router/route-table.js';
import type { RequestView } from './router/match.js';
import { forward, type ForwardContext } from './forward.js';
import { LocalReply, sendLocalReply } from './local-reply.js';

/** ListenerRuntime is what a listener serves with; replaced whole on each snapshot. */
export interface ListenerRuntime extends ForwardContext {
  readonly table: RouteTable;
}

/** NodeRequestView adapts a Node request for route matching without copying headers. */
class NodeRequestView implements RequestView {
  constructor(
    readonly req: IncomingMessage,
    readonly path: string,
    readonly query: string,
  ) {}
  get host(): string | undefined {
    return this.req.headers.host;
  }
  get method(): string {
    return this.req.method!;
  }
  header(name: string): string | string[] | undefined {
    return this.req.headers[name];
  }
}

/** handleRequest routes and answers one request. */
export function handleRequest(rt: ListenerRuntime, req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  let path: string;
  let query: string;
  if (url.charCodeAt(0) === 47 /* '/' */) {
    const q = url.indexOf('?');
    path = q < 0 ? url : url.slice(0, q);
    query = q < 0 ? '' : url.slice(q + 1);
  } else {
    // Absolute-form (`GET http://host/path`) is legal from clients talking to a proxy.
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return reply(rt, res, LocalReply.badRequest);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return reply(rt, res, LocalReply.badRequest);
    path = parsed.pathname;
    query = parsed.search.slice(1);
    req.url = path + parsed.search;
  }
  const view = new NodeRequestView(req, path, query);
  const route = rt.table.route(view);
  if (!route) return reply(rt, res, LocalReply.notFound);
  const action = route.route.action;
  switch (action.type) {
    case 'forward':
      return forward(req, res, route, action, path, rt);
    case 'direct-response':
      return reply(rt, res, LocalReply.direct(action.status, action.body));
    case 'redirect':
      return redirect(rt, req, res, action, path, query, route.route.match);
  }
}

function reply(rt: ListenerRuntime, res: ServerResponse, r: LocalReply): void {
  rt.stats.localReplies.labels(`${Math.floor(r.status / 100)}xx`, r.details).inc();
  sendLocalReply(res, r);
}

/** redirect answers with a Location built as Envoy's redirect action builds it. */
function redirect(
  rt: ListenerRuntime, req: IncomingMessage, res: ServerResponse, a: ir.RedirectAction, path: string, query: string, m: ir.RouteMatch,
): void {
  const scheme = a.httpsRedirect ? 'https' : rt.scheme;
  const reqHost = req.headers.host ?? '';
  const colon = reqHost.lastIndexOf(':');
  const hasPort = colon > 0 && reqHost.indexOf(']') < colon;
  let host = a.hostRedirect ?? (hasPort ? reqHost.slice(0, colon) : reqHost);
  // Envoy (processRequestHost) keeps the request's port unless a port is given, or the scheme
  // changes and the port is the old scheme's default (`http://x:80` → `https://x`).
  if (a.portRedirect !== undefined) host += `:${a.portRedirect}`;
  else if (!a.hostRedirect && hasPort) {
    const oldDefault = rt.scheme === 'https' ? ':443' : ':80';
    if (scheme === rt.scheme || reqHost.slice(colon) !== oldDefault) host = reqHost;
  }
  let newPath = path;
  if (a.pathRedirect !== undefined) newPath = a.pathRedirect;
  else if (a.prefixRewrite !== undefined) newPath = a.prefixRewrite + path.slice(m.path.kind === 'prefix' ? m.path.value.length : path.length);
  let q = a.stripQuery ? '' : query;
  if (a.pathRedirect?.includes('?')) q = '';
  const location = `${scheme}://${host}${newPath}${q ? `?${q}` : ''}`;
  rt.stats.localReplies.labels('3xx', 'redirect').inc();
  res.writeHead(a.status, { location, 'content-length': 0 });
  res.end();
}
