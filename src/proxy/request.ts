/**
 * handleRequest is the proxy's per-request entry point: bring the target to a normalized
 * origin-form path (or refuse it), find the route, then answer locally (direct response,
 * redirect, 404) or forward. It reads the listener's runtime once, so a
 * snapshot swapped in mid-request never changes a request already routed. An Upgrade request
 * (upgrade.ts) goes through the same function with its own forwarder, so both are refused,
 * normalized and routed by the same code.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as ir from '../ir/index.js';
import type { CompiledRoute, RouteTable } from './router/route-table.js';
import type { RequestView } from './router/match.js';
import { forward, type ForwardContext } from './forward.js';
import { LocalReply, sendLocalReply } from './local-reply.js';
import type { ListenerTlsRuntime } from './tls/contexts.js';
import { isHttp2 } from './http2/server.js';

/**
 * Forwarder runs a route's forward action once the request is routed: forward.ts's for a plain
 * request, upgrade.ts's for a WebSocket upgrade. path is the normalized path (without query).
 */
export type Forwarder = (
  req: IncomingMessage, res: ServerResponse, route: CompiledRoute, action: ir.ForwardAction, path: string, ctx: ForwardContext,
) => void;

/** ListenerRuntime is what a listener serves with; replaced whole on each snapshot. */
export interface ListenerRuntime extends ForwardContext {
  readonly table: RouteTable;
  /** tls is an HTTPS listener's certificates and settings (tls/contexts.ts). */
  readonly tls?: ListenerTlsRuntime;
}

/**
 * hostOf is the authority a request names: HTTP/2's :authority, else the Host header (HTTP/1
 * has no :authority: llhttp refuses a header name with a colon).
 */
export function hostOf(req: IncomingMessage): string | undefined {
  return (req.headers[':authority'] as string | undefined) ?? req.headers.host;
}

/** NodeRequestView adapts a Node request for route matching without copying headers. */
class NodeRequestView implements RequestView {
  constructor(
    readonly req: IncomingMessage,
    readonly path: string,
    readonly query: string,
  ) {}
  get host(): string | undefined {
    return hostOf(this.req);
  }
  get method(): string {
    return this.req.method!;
  }
  header(name: string): string | string[] | undefined {
    return this.req.headers[name];
  }
}

/**
 * handleRequest routes and answers one request. The request target is first brought to origin
 * form (absolute-form is accepted when its authority agrees with Host), then its path is
 * normalized by the listener's settings; the normalized path is what routes match and what the
 * upstream receives (`req.url` is rewritten; the query string is passed on untouched).
 * Every local reply is written on res; only a forward action goes to `forwarder`.
 */
export function handleRequest(rt: ListenerRuntime, req: IncomingMessage, res: ServerResponse, forwarder: Forwarder = forward): void {
  // A request pipelined behind a refused one is never acted on: the connection is closing (the
  // refusal is already written; end() flushes it first), and Envoy reads nothing more from it.
  if (refusedConnections.has(req.socket)) return void req.socket.end();
  let target = req.url;
  // Envoy routes only paths: `OPTIONS *` and an HTTP/2 CONNECT (which has no :path) are answered
  // 404 (absolute_path_rejected).
  if (target === undefined) return reply(rt, res, NOT_A_PATH);
  if (target.charCodeAt(0) !== 47 /* '/' */) {
    if (target === '*' && req.method === 'OPTIONS') return reply(rt, res, NOT_A_PATH);
    const t = originForm(target, hostOf(req));
    if (typeof t !== 'string') return refuse(rt, req, res, t);
    target = t;
  }
  // A fragment is never part of a request target (RFC 9112 §3.2); Envoy refuses it.
  if (target.includes('#')) return refuse(rt, req, res, PATH_REFUSED);
  const q = target.indexOf('?');
  const raw = q < 0 ? target : target.slice(0, q);
  const n = rt.table.normalizePath(raw);
  if (typeof n !== 'string') {
    if ('reject' in n) return refuse(rt, req, res, PATH_REFUSED);
    return redirectNormalized(rt, res, q < 0 ? n.redirect : n.redirect + target.slice(q));
  }
  const path = n;
  if (path !== raw) target = q < 0 ? path : path + target.slice(q);
  if (target !== req.url) req.url = target;
  const query = q < 0 ? '' : target.slice(path.length + 1);
  const view = new NodeRequestView(req, path, query);
  const route = rt.table.route(view);
  if (!route) return reply(rt, res, LocalReply.notFound);
  const action = route.route.action;
  switch (action.type) {
    case 'forward':
      return forwarder(req, res, route, action, path, rt);
    case 'direct-response':
      return reply(rt, res, LocalReply.direct(action.status, action.body));
    case 'redirect':
      return redirect(rt, req, res, action, path, query, route.route.match);
  }
}

/** Local replies of request-target handling, with Envoy's response code details. */
const NOT_A_PATH: LocalReply = { status: 404, body: '', details: 'absolute_path_rejected' };
const PATH_REFUSED: LocalReply = { status: 400, body: '', details: 'path_normalization_failed' };
const INVALID_URL: LocalReply = { status: 400, body: 'Bad Request', details: 'http1.invalid_url' };
const HOST_MISMATCH: LocalReply = { status: 400, body: 'Bad Request', details: 'absolute_url_host_mismatch' };

/** ABSOLUTE_FORM is `http(s)://authority`; the rest of the target follows it. */
const ABSOLUTE_FORM = /^(https?):\/\/([^/?#]*)/i;
/** AUTHORITY is a host (name, IPv4, or bracketed IPv6) and an optional port: no userinfo. */
const AUTHORITY = /^(?:\[[0-9a-f:.]+\]|[a-z0-9\-._~]+)(?::[0-9]*)?$/i;

/**
 * originForm turns an absolute-form target (`http://host/path?q`) into origin form (`/path?q`),
 * without normalizing anything (that is the listener's job, as for any target). The authority
 * must name the same host as the Host header: Envoy would replace Host with it (RFC 9112 §3.2.2),
 * but meshgate forwards the client's Host, so a disagreement would route on one host and reach
 * the upstream under another; it is refused instead.
 */
function originForm(target: string, host: string | undefined): string | LocalReply {
  const m = ABSOLUTE_FORM.exec(target);
  if (!m || !AUTHORITY.test(m[2]!)) return INVALID_URL;
  const scheme = m[1]!.toLowerCase();
  if (host === undefined || hostKey(m[2]!, scheme) !== hostKey(host, scheme)) return HOST_MISMATCH;
  const rest = target.slice(m[0].length);
  return rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
}

/** hostKey is a host for comparison: lower case, without the scheme's default port. */
function hostKey(h: string, scheme: string): string {
  let k = h.toLowerCase();
  if (k.endsWith(':')) k = k.slice(0, -1);
  const dflt = scheme === 'https' ? ':443' : ':80';
  if (k.endsWith(dflt) && k.indexOf(']') < k.length - dflt.length) k = k.slice(0, -dflt.length);
  return k;
}

/** refusedConnections are connections closing after a refusal (see handleRequest). */
const refusedConnections = new WeakSet<object>();

/** refuse answers a request the proxy will not route, and closes the connection (Envoy). */
function refuse(rt: ListenerRuntime, req: IncomingMessage, res: ServerResponse, r: LocalReply): void {
  // An HTTP/2 refusal ends its stream only; the connection's other streams go on.
  if (!isHttp2(req)) refusedConnections.add(req.socket);
  rt.stats.localReplies.labels(`${Math.floor(r.status / 100)}xx`, r.details).inc();
  sendLocalReply(res, r, { connection: 'close' });
}

/** redirectNormalized is UNESCAPE_AND_REDIRECT's 307 to the unescaped, normalized path (Envoy). */
function redirectNormalized(rt: ListenerRuntime, res: ServerResponse, location: string): void {
  rt.stats.localReplies.labels('3xx', 'path_normalization_failed').inc();
  res.writeHead(307, { location, 'content-length': 0 });
  res.end();
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
  const reqHost = hostOf(req) ?? '';
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
