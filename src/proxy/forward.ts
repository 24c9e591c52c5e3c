/**
 * Forwarding: sends a routed request to an upstream endpoint over a pooled keep-alive
 * connection (undici's dispatch interface, without its convenience layers) and streams the
 * response back. Failures before the response begins become Envoy's local replies; after it
 * began, the client connection is reset, as Envoy does.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type * as ir from '../ir/index.js';
import type { Cluster, ClusterEndpoint } from './upstream/cluster.js';
import type { CompiledRoute } from './router/route-table.js';
import { LocalReply, sendLocalReply } from './local-reply.js';
import { isHopByHop, connectionTokens, applyHeaderManipulation } from './headers.js';
import type { ProxyStats } from './stats.js';
import { UpstreamTlsError, uriSans, type CredentialSource } from './upstream/mesh-tls.js';
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { Refusals, trustedClientAddress, type EdgeSettings } from './edge.js';
import { isHttp2, respondTrailersOnly } from './http2/server.js';

/** ForwardContext is what a forward needs from its listener. */
export interface ForwardContext {
  readonly clusters: ReadonlyMap<string, Cluster>;
  readonly scheme: 'http' | 'https';
  readonly stats: ProxyStats;
  /** xfcc: SANITIZE drops a client's x-forwarded-client-cert; APPEND_FORWARD adds the mTLS peer's. */
  readonly xfcc: 'SANITIZE' | 'APPEND_FORWARD';
  /** credentials give the proxy's own mesh identity (XFCC `By=`). */
  readonly credentials?: CredentialSource;
  /** inbound is set on a sidecar's inbound listener, where the caller is a mesh peer. */
  readonly inbound?: ir.InboundMtls;
  /** edge is the listener's HTTP settings, resolved once per snapshot (trust, limits, request id). */
  readonly edge: EdgeSettings;
}

/** Backoff between retries: Envoy's default base interval is 25 ms, with jitter. */
const RETRY_BASE_MS = 25;

/** UPSTREAM_TIMEOUT marks an abort caused by the route timeout. */
class UpstreamTimeout extends Error {}
/** DownstreamGone marks an abort caused by the client going away. */
class DownstreamGone extends Error {}

/** forward runs a forward action for one request. */
export function forward(
  req: IncomingMessage, res: ServerResponse, route: CompiledRoute, action: ir.ForwardAction, path: string, ctx: ForwardContext,
): void {
  const dest = pickDestination(action.destinations);
  const cluster = ctx.clusters.get(dest.upstream);
  if (!cluster) return localReply(res, LocalReply.clusterNotFound, ctx);
  const headers = upstreamHeaders(req, route, action, ctx);
  const upstreamPath = action.prefixRewrite !== undefined ? rewritePrefix(path, req.url!, route.route.match, action.prefixRewrite) : req.url!;
  new Exchange(req, res, route, action, cluster, headers, upstreamPath, ctx).start();
}

function localReply(res: ServerResponse, r: LocalReply, ctx: ForwardContext): void {
  ctx.stats.localReplies.labels(`${Math.floor(r.status / 100)}xx`, r.details).inc();
  sendLocalReply(res, r);
}

export function pickDestination(ds: readonly ir.WeightedDestination[]): ir.WeightedDestination {
  if (ds.length === 1) return ds[0]!;
  let total = 0;
  for (const d of ds) total += d.weight;
  let n = Math.random() * total;
  for (const d of ds) {
    n -= d.weight;
    if (n < 0) return d;
  }
  return ds[ds.length - 1]!;
}

/** rewritePrefix replaces the matched prefix of the path, keeping the query string. */
export function rewritePrefix(path: string, url: string, m: ir.RouteMatch, rewrite: string): string {
  const query = url.length > path.length ? url.slice(path.length) : '';
  const matched = m.path.kind === 'prefix' ? m.path.value.length : path.length;
  let out = rewrite + path.slice(matched);
  // Envoy keeps the path absolute; `/api` rewritten to `` becomes `/`.
  if (!out.startsWith('/')) out = `/${out}`;
  return out + query;
}

/**
 * upstreamHeaders builds the request headers for the upstream: the client's headers less
 * hop-by-hop ones, plus what Envoy adds (x-forwarded-for, x-forwarded-proto, x-request-id,
 * x-envoy-expected-rq-timeout-ms, x-envoy-external-address), then the route's and virtual
 * host's header manipulation. Trust follows Envoy's HCM (ConnectionManagerUtility::
 * mutateRequestHeaders), with every downstream treated as external (no internal addresses):
 * - useRemoteAddress: the peer address is appended to x-forwarded-for (unless skipXffAppend);
 *   the trusted client address (the peer, or with xffNumTrustedHops = n the nth entry from the
 *   right of what the client sent) goes in x-envoy-external-address; a client's
 *   x-forwarded-proto is kept only behind trusted hops.
 * - otherwise x-forwarded-for passes unchanged and x-forwarded-proto is set only if absent.
 * - an external listener strips every x-envoy-* header the client sent (Envoy strips its
 *   control headers: x-envoy-retry-on, -max-retries, -upstream-rq-timeout-ms, ...; meshgate
 *   the whole prefix), so a client cannot steer the proxy or the services behind it.
 * - x-forwarded-client-cert from the client is dropped unless APPEND_FORWARD on mTLS.
 */
export function upstreamHeaders(req: IncomingMessage, route: CompiledRoute, action: ir.ForwardAction, ctx: ForwardContext): string[] {
  const edge = ctx.edge;
  const raw = req.rawHeaders;
  const out: string[] = [];
  const extra = connectionTokens(req.headers.connection);
  const h2 = isHttp2(req);
  let requestId: string | undefined;
  let xff: string | undefined;
  let xfp: string | undefined;
  let xfcc: string | undefined;
  let cookie: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (h2) {
      // HTTP/2: pseudo-headers become the request line and Host (below); split cookies are
      // joined as HTTP/1 requires (RFC 9113 §8.2.3).
      const c = name.charCodeAt(0);
      if (c === 58 /* ':' */) continue;
      if (c === 99 /* 'c' */ && name === 'cookie') {
        cookie = cookie === undefined ? raw[i + 1] : `${cookie}; ${raw[i + 1]}`;
        continue;
      }
    }
    const lower = name.toLowerCase();
    // TE is hop-by-hop, but `te: trailers` says the client takes trailers, which gRPC needs
    // end to end: Envoy keeps that one value.
    if (lower === 'te') {
      if (hasTrailersToken(raw[i + 1]!)) out.push('te', 'trailers');
      continue;
    }
    if (isHopByHop(lower) || (extra.length && extra.includes(lower))) continue;
    // 120 is 'x': the headers the proxy sets or guards all start with it.
    if (lower.charCodeAt(0) === 120) {
      if (lower === 'x-forwarded-for') {
        xff = xff === undefined ? raw[i + 1] : `${xff},${raw[i + 1]}`;
        continue;
      }
      if (lower === 'x-forwarded-proto') {
        xfp ??= raw[i + 1];
        continue;
      }
      if (lower === 'x-forwarded-client-cert') {
        xfcc = xfcc === undefined ? raw[i + 1] : `${xfcc},${raw[i + 1]}`;
        continue;
      }
      // An edge listener sets its own x-envoy-* headers; a sidecar passes on the caller's (Istio).
      if (edge.external && lower.startsWith('x-envoy-')) continue;
      if (lower === 'x-request-id') requestId = raw[i + 1];
    }
    out.push(name, raw[i + 1]!);
  }
  if (h2) {
    // Envoy turns :authority into Host for an HTTP/1 upstream; undici turns it back for HTTP/2.
    const authority = req.headers[':authority'] as string | undefined;
    if (authority !== undefined && req.headers.host === undefined) out.push('host', authority);
    if (cookie !== undefined) out.push('cookie', cookie);
  }
  if (edge.useRemoteAddress) {
    const remote = req.socket.remoteAddress ?? '';
    if (edge.external) out.push('x-envoy-external-address', trustedClientAddress(xff, edge.xffNumTrustedHops, remote));
    if (!edge.skipXffAppend) xff = xff === undefined ? remote : `${xff},${remote}`;
  }
  if (xff !== undefined) out.push('x-forwarded-for', xff);
  // With useRemoteAddress and no trusted hop, the client's x-forwarded-proto is untrusted.
  out.push('x-forwarded-proto', xfp !== undefined && (!edge.useRemoteAddress || edge.xffNumTrustedHops > 0) ? xfp : ctx.scheme);
  if (ctx.xfcc === 'APPEND_FORWARD') {
    // Only an mTLS peer's details are added; on a plaintext connection a client's XFCC is dropped (Envoy).
    const own = peerDetails(req.socket as TLSSocket, ctx.credentials);
    if (own) out.push('x-forwarded-client-cert', xfcc ? `${xfcc},${own}` : own);
  }
  if (!requestId && edge.generateRequestId) out.push('x-request-id', randomUUID());
  const expected = expectedTimeout(action);
  if (expected > 0) out.push('x-envoy-expected-rq-timeout-ms', String(expected));
  const rh = route.route.headers;
  if (rh) applyHeaderManipulation(out, rh.requestHeadersToAdd, rh.requestHeadersToRemove);
  const vh = route.vhost.vhost.headers;
  if (vh) applyHeaderManipulation(out, vh.requestHeadersToAdd, vh.requestHeadersToRemove);
  return out;
}

const xfccCache = new WeakMap<object, string>();

/**
 * peerDetails is the XFCC element for an mTLS connection, as Istio's inbound sidecar writes it:
 * `By=<own id>;Hash=<sha256 hex of the peer certificate DER>;Subject="";URI=<peer id>`. It is
 * computed once per connection.
 */
function peerDetails(socket: TLSSocket, credentials: CredentialSource | undefined): string | undefined {
  if (!socket.encrypted) return undefined;
  const cached = xfccCache.get(socket);
  if (cached !== undefined) return cached;
  const peer = socket.getPeerX509Certificate?.();
  const own = credentials?.current()?.identity;
  if (!peer || !own) return undefined;
  const hash = createHash('sha256').update(peer.raw).digest('hex');
  const uri = uriSans(socket.getPeerCertificate()).join(',');
  const value = `By=${own};Hash=${hash};Subject="";URI=${uri}`;
  xfccCache.set(socket, value);
  return value;
}

/** expectedTimeout is what Envoy puts in x-envoy-expected-rq-timeout-ms: the per-try timeout if shorter. */
function expectedTimeout(a: ir.ForwardAction): number {
  const perTry = a.retries?.perTryTimeoutMs ?? 0;
  if (perTry > 0 && (a.timeoutMs === 0 || perTry < a.timeoutMs)) return perTry;
  return a.timeoutMs;
}

/** hasTrailersToken tells a TE value that lists `trailers`. */
function hasTrailersToken(te: string): boolean {
  return te.split(',').some((t) => t.trim().toLowerCase() === 'trailers');
}

/**
 * hasBody tells whether a request carries a body (RFC 9112 §6.3); an HTTP/2 one does unless
 * its HEADERS frame ended the stream.
 */
function hasBody(req: IncomingMessage): boolean {
  if (isHttp2(req)) return !(req as unknown as { stream: { endAfterHeaders: boolean } }).stream.endAfterHeaders;
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}

/**
 * Exchange is one client request's trip upstream, across retries. It implements undici's
 * dispatch handler (the callback form, which undici's pools call directly).
 */
class Exchange {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #route: CompiledRoute;
  readonly #action: ir.ForwardAction;
  readonly #cluster: Cluster;
  readonly #headers: string[];
  readonly #path: string;
  readonly #ctx: ForwardContext;
  readonly #withBody: boolean;
  readonly #started = performance.now();
  #endpoint: ClusterEndpoint | undefined;
  #abort: ((err?: Error) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #tryTimer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #done = false;
  /** #current guards callbacks: a retried attempt's late events are ignored. */
  #current = 0;

  constructor(
    req: IncomingMessage, res: ServerResponse, route: CompiledRoute, action: ir.ForwardAction, cluster: Cluster,
    headers: string[], path: string, ctx: ForwardContext,
  ) {
    this.#req = req;
    this.#res = res;
    this.#route = route;
    this.#action = action;
    this.#cluster = cluster;
    this.#headers = headers;
    this.#path = path;
    this.#ctx = ctx;
    this.#withBody = hasBody(req);
  }

  start(): void {
    if (this.#action.timeoutMs > 0) this.#timer = setTimeout(() => this.#onTimeout(), this.#action.timeoutMs);
    // A response emits 'close' once: on() spares once()'s wrapper.
    this.#res.on('close', () => {
      if (!this.#done) this.#finish(new DownstreamGone('downstream closed'));
    });
    // The client socket's inactivity timeout is the listener's streamIdleTimeout while a request
    // is open (Node's server.timeout). Node emits it on the response in progress before the
    // listener sees it; the listener leaves a response with a 'timeout' listener to its owner.
    this.#res.on('timeout', () => this.#onStreamIdle());
    this.#dispatch();
  }

  /**
   * #onStreamIdle: no byte moved either way on the client connection for streamIdleTimeout
   * (a client stalled mid-body, or an upstream silent with no route timeout). As Envoy: 408
   * before the response began (the connection closes after it: the body was not read), else a
   * reset.
   */
  #onStreamIdle(): void {
    // Done but still writing: the client stopped reading the response.
    if (this.#done) return void this.#res.destroy();
    this.#ctx.stats.downstreamErrors.labels(Refusals.streamIdleTimeout.details).inc();
    if (this.#res.headersSent) {
      this.#record(this.#status);
      this.#finish(new DownstreamGone('stream idle timeout'));
      this.#res.destroy();
      return;
    }
    this.#abort?.(new DownstreamGone('stream idle timeout'));
    this.#fail(Refusals.streamIdleTimeout);
  }

  #dispatch(): void {
    const ep = this.#cluster.pick();
    if (!ep) return this.#fail(LocalReply.noHealthyUpstream);
    this.#endpoint = ep;
    this.#current++;
    const perTry = this.#action.retries?.perTryTimeoutMs ?? 0;
    if (perTry > 0) {
      const attempt = this.#current;
      this.#tryTimer = setTimeout(() => this.#onTryTimeout(attempt), perTry);
    }
    // A USE_DOWNSTREAM_PROTOCOL upstream takes HTTP/2 requests over HTTP/2.
    const pool = ep.h2Pool !== undefined && isHttp2(this.#req) ? ep.h2Pool : ep.pool;
    pool.dispatch(
      {
        path: this.#path,
        method: this.#req.method as Dispatcher.HttpMethod,
        headers: this.#headers,
        // The body is read through an iterator that does not destroy the client's request when
        // undici gives up on it, so the client can still be told what went wrong.
        body: this.#withBody ? (this.#req.iterator({ destroyOnReturn: false }) as unknown as Readable) : null,
      },
      new Exchange.#Attempt(this, this.#current),
    );
  }

  /**
   * #Attempt binds undici's callbacks to one attempt, so a retried one falls silent. A class
   * (one small object per attempt) rather than an object of closures: this is per request.
   */
  static readonly #Attempt = class Attempt implements Dispatcher.DispatchHandler {
    constructor(
      readonly x: Exchange,
      readonly n: number,
    ) {}
    #live(): boolean {
      return this.n === this.x.#current && !this.x.#done;
    }
    onConnect(abort: (err?: Error) => void): void {
      if (!this.#live()) return abort(new DownstreamGone('superseded'));
      this.x.#abort = abort;
    }
    onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
      return this.#live() ? this.x.#onHeaders(status, raw, resume) : true;
    }
    onData(chunk: Buffer): boolean {
      return this.#live() ? this.x.#onData(chunk) : true;
    }
    onComplete(trailers: unknown): void {
      if (this.#live()) this.x.#onComplete(trailers as UpstreamTrailers);
    }
    onError(err: Error): void {
      if (this.#live()) this.x.#onError(err);
    }
  };

  #onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    if (status < 200) return true; // 1xx informational responses are not forwarded.
    if (this.#shouldRetryStatus(status)) {
      this.#abort?.(new DownstreamGone('retrying'));
      this.#retry();
      return false;
    }
    if (this.#tryTimer) clearTimeout(this.#tryTimer);
    const out: string[] = [];
    let extra: string[] | undefined;
    let grpcStatus = false;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toString('latin1');
      const lower = name.toLowerCase();
      if (lower === 'connection') extra = connectionTokens(raw[i + 1]!.toString('latin1'));
      else if (lower === 'grpc-status') grpcStatus = true;
      // The proxy sets its own service time, replacing one a sidecar behind it set (as Envoy does).
      if (isHopByHop(lower) || lower === 'x-envoy-upstream-service-time') continue;
      out.push(name, raw[i + 1]!.toString('latin1'));
    }
    if (extra?.length) {
      for (let i = out.length - 2; i >= 0; i -= 2) if (extra.includes(out[i]!.toLowerCase())) out.splice(i, 2);
    }
    out.push('x-envoy-upstream-service-time', String(Math.round(performance.now() - this.#started)));
    const rh = this.#route.route.headers;
    if (rh) applyHeaderManipulation(out, rh.responseHeadersToAdd, rh.responseHeadersToRemove);
    const vh = this.#route.vhost.vhost.headers;
    if (vh) applyHeaderManipulation(out, vh.responseHeadersToAdd, vh.responseHeadersToRemove);
    const res = this.#res;
    this.#status = status;
    if (grpcStatus && isHttp2(this.#req)) {
      // gRPC's trailers-only response (a status in the headers, nothing after): it must reach
      // an HTTP/2 client in that form, or the client finds no status.
      this.#trailersOnly = true;
      respondTrailersOnly(res, status, out);
      return true;
    }
    res.writeHead(status, out);
    this.#resume = resume;
    return true;
  }

  #status = 0;
  /** #trailersOnly: the response was sent whole with its headers; nothing more goes to the client. */
  #trailersOnly = false;
  /** #resume restarts the upstream socket paused by backpressure; hooked to 'drain' when first needed. */
  #resume: (() => void) | undefined;
  #drainHooked = false;

  #onData(chunk: Buffer): boolean {
    if (this.#trailersOnly) return true;
    // Returning false pauses the upstream socket until the client drains (backpressure).
    if (this.#res.write(chunk)) return true;
    if (!this.#drainHooked) {
      this.#drainHooked = true;
      this.#res.on('drain', this.#resume!);
    }
    return false;
  }

  /**
   * #onComplete ends the response. Trailers (gRPC's status) go on to an HTTP/2 client; an
   * HTTP/1 client gets none, as from Envoy by default.
   */
  #onComplete(trailers: UpstreamTrailers): void {
    this.#record(this.#status);
    this.#finish(undefined);
    if (this.#trailersOnly) return;
    if (trailers && isHttp2(this.#req)) {
      const t = forwardableTrailers(trailers);
      if (t) this.#res.addTrailers(t);
    }
    this.#res.end();
  }

  #onError(err: Error): void {
    if (err instanceof DownstreamGone || this.#done) return;
    if (this.#res.headersSent) {
      // The response already began: the only honest signal left is a reset.
      this.#record(this.#status);
      this.#finish(err);
      this.#res.destroy();
      return;
    }
    if (err instanceof UpstreamTimeout) return; // #onTimeout answered already.
    const tls = err instanceof UpstreamTlsError;
    const failure = tls || isConnectFailure(err);
    if (failure) this.#cluster.stats.connectFailures.inc();
    if (this.#shouldRetryError(failure)) return this.#retry();
    this.#fail(LocalReply.upstreamReset(failure ? 'connection failure' : 'connection termination', tls ? err.message : undefined));
  }

  #onTimeout(): void {
    if (this.#done) return;
    this.#abort?.(new UpstreamTimeout('route timeout'));
    if (this.#res.headersSent) {
      this.#finish(new UpstreamTimeout('route timeout'));
      this.#res.destroy();
    } else this.#fail(LocalReply.upstreamTimeout);
  }

  #onTryTimeout(attempt: number): void {
    if (this.#done || attempt !== this.#current || this.#res.headersSent) return;
    this.#abort?.(new DownstreamGone('per-try timeout'));
    if (this.#canRetry() && this.#retryOnAny(['5xx', 'gateway-error', 'reset'])) this.#retry();
    else this.#fail(LocalReply.upstreamTimeout);
  }

  #canRetry(): boolean {
    const r = this.#action.retries;
    // A streamed body cannot be sent twice; Envoy buffers it, meshgate retries only bodiless requests.
    return !!r && !this.#withBody && this.#attempt < r.numRetries;
  }

  #retryOnAny(conditions: readonly string[]): boolean {
    const on = this.#action.retries?.retryOn ?? [];
    return conditions.some((c) => on.includes(c));
  }

  #shouldRetryStatus(status: number): boolean {
    if (!this.#canRetry()) return false;
    const r = this.#action.retries!;
    if (status >= 500 && this.#retryOnAny(['5xx'])) return true;
    if ((status === 502 || status === 503 || status === 504) && this.#retryOnAny(['gateway-error'])) return true;
    if (status === 409 && this.#retryOnAny(['retriable-4xx'])) return true;
    return this.#retryOnAny(['retriable-status-codes']) && r.retriableStatusCodes.includes(status);
  }

  #shouldRetryError(connectFailure: boolean): boolean {
    if (!this.#canRetry()) return false;
    if (this.#retryOnAny(['5xx', 'gateway-error', 'reset'])) return true;
    return connectFailure && this.#retryOnAny(['connect-failure']);
  }

  #retry(): void {
    this.#attempt++;
    if (this.#tryTimer) clearTimeout(this.#tryTimer);
    this.#current++; // Silences the failed attempt before the next one starts.
    const delay = Math.random() * RETRY_BASE_MS * 2 ** (this.#attempt - 1);
    setTimeout(() => {
      if (!this.#done) this.#dispatch();
    }, delay).unref();
  }

  #fail(r: LocalReply): void {
    this.#record(r.status);
    this.#finish(undefined);
    this.#ctx.stats.localReplies.labels(`${Math.floor(r.status / 100)}xx`, r.details).inc();
    sendLocalReply(this.#res, r);
  }

  #record(status: number): void {
    const s = this.#cluster.stats;
    const cls = Math.floor(status / 100);
    if (cls >= 1 && cls <= 5) s.byClass[cls]!.inc();
    s.latency.observe((performance.now() - this.#started) / 1000);
  }

  #finish(err: Error | undefined): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#tryTimer) clearTimeout(this.#tryTimer);
    if (err instanceof DownstreamGone) this.#abort?.(err);
  }
}

/** UpstreamTrailers is what undici hands onComplete: raw pairs over HTTP/1, Node's object over HTTP/2. */
type UpstreamTrailers = readonly (Buffer | string)[] | Readonly<Record<string, string | string[] | undefined>> | null;

function isPairs(t: NonNullable<UpstreamTrailers>): t is readonly (Buffer | string)[] {
  return Array.isArray(t);
}

/**
 * forwardableTrailers turns undici's trailers (raw pairs from HTTP/1, an object from HTTP/2)
 * into the ones to send on: without pseudo-headers or hop-by-hop names; undefined if none.
 */
function forwardableTrailers(t: NonNullable<UpstreamTrailers>): Record<string, string | string[]> | undefined {
  const out: Record<string, string | string[]> = {};
  let any = false;
  const add = (name: string, value: string | string[] | undefined) => {
    const lower = name.toLowerCase();
    if (value === undefined || lower.charCodeAt(0) === 58 || isHopByHop(lower)) return;
    const prev = out[lower];
    out[lower] = prev === undefined ? value : ([] as string[]).concat(prev, value);
    any = true;
  };
  if (isPairs(t)) for (let i = 0; i + 1 < t.length; i += 2) add(t[i]!.toString('latin1'), t[i + 1]!.toString('latin1'));
  else for (const name of Object.keys(t)) add(name, t[name]);
  return any ? out : undefined;
}

/** isConnectFailure tells errors where no connection was made from ones where it broke. */
export function isConnectFailure(err: Error & { code?: string }): boolean {
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return true;
    default:
      return false;
  }
}
