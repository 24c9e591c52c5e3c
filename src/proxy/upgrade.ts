/**
 * HTTP/1.1 Upgrade pass-through (WebSocket), as Envoy's connection manager does with Gloo's
 * default upgrade config (`websocket` enabled).
 *
 * Node hands a `Connection: upgrade` request over on 'upgrade' with the raw socket: no response
 * object, none of its own connection handling (its socket listeners, its Host check, its
 * timeouts). handleUpgrade gives the request a ServerResponse of its own bound to that socket,
 * so it passes exactly the checks and the routing a plain request does (checkRequest, then
 * request.ts's handleRequest, whose local replies are written on that response); only a forward
 * action differs: it goes to a Tunnel instead of forward.ts. Every answer that is not a 101
 * closes the connection.
 *
 * A Tunnel sends the request upstream through the endpoint's own undici Pool (so the same
 * connector: plain TCP, or mesh mTLS for an auto-mTLS endpoint) with forward.ts's header
 * processing, and undici's `upgrade` option, which writes `connection: upgrade` and `upgrade`.
 * The tunnel is only set up on the upstream's 101: bytes the client sent after its request
 * reach the upstream only then, so a client cannot smuggle a second request past the routing to
 * an upstream that refused the upgrade. Any other answer is relayed as a plain response and the
 * connection closed, as Envoy does (undici's own upgrade() would drop it: its handler throws on
 * a non-101 answer; a dispatch handler with onUpgrade gets both).
 *
 * Once upgraded, bytes are piped both ways until either side ends or closes; then the other side
 * is ended after what is already queued for it, and both are closed (no half-close). The route
 * timeout does not apply (Envoy starts it only once the request is complete, which an upgraded
 * stream never is); the listener's streamIdleTimeout does, as inactivity on either socket.
 *
 * `Upgrade: h2c` is not an upgrade to meshgate (nor to Envoy, which strips it): the upgrade
 * headers are removed and the request is served as a plain one. Any other protocol but
 * `websocket` gets Envoy's 403 (`upgrade_failed`). CONNECT never gets here: Node emits it as
 * 'connect', which no listener handles, so Node closes the connection.
 */
import { ServerResponse, STATUS_CODES, validateHeaderName, validateHeaderValue, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Cluster, ClusterEndpoint } from './upstream/cluster.js';
import type { CompiledRoute } from './router/route-table.js';
import { handleRequest, type ListenerRuntime } from './request.js';
import { isConnectFailure, pickDestination, rewritePrefix, upstreamHeaders } from './forward.js';
import { checkRequest, Refusals } from './edge.js';
import { LocalReply, sendLocalReply } from './local-reply.js';
import { applyHeaderManipulation, connectionTokens, isHopByHop } from './headers.js';
import { UpstreamTlsError } from './upstream/mesh-tls.js';

/** ALLOWED_UPGRADES are the upgrade protocols passed through (lower case): Gloo's default HCM config. */
export const ALLOWED_UPGRADES: ReadonlySet<string> = new Set(['websocket']);

/** UpgradeRefusals are the local replies specific to upgrade requests, with Envoy's details where it has them. */
export const UpgradeRefusals = {
  /** A protocol not in ALLOWED_UPGRADES: Envoy answers 403 with an empty body. */
  notAllowed: { status: 403, body: '', details: 'upgrade_failed' } satisfies LocalReply,
  /** HTTP/1.1 without Host: Node refuses it for a plain request, but not for an upgrade. */
  missingHost: { status: 400, body: 'Bad Request', details: 'missing_host_header' } satisfies LocalReply,
  /** A body on an upgrade request: Node would hand it over as tunnel bytes (see docs/security.md). */
  withBody: { status: 400, body: 'Bad Request', details: 'upgrade_with_body' } satisfies LocalReply,
};

/** UpgradeListener is what handleUpgrade needs of the listener a request came to. */
export interface UpgradeListener {
  /** runtime is the listener's runtime now: read when the request's turn comes. */
  readonly runtime: ListenerRuntime;
  /** admits tells whether the connection may still be served (a sidecar's mode may have changed). */
  admits(socket: Socket): boolean;
  /** onDropped counts headers dropped by headersWithUnderscoresAction DROP_HEADER. */
  onDropped(n: number): void;
  /** upgrades are the listener's pre-bound counters of upgraded connections. */
  readonly upgrades: { readonly total: { inc(): void }; readonly active: { inc(): void; dec(): void } };
}

/** HttpSocket is a server socket with the response Node is writing on it, if any. */
type HttpSocket = Socket & { _httpMessage?: ServerResponse | null };

/**
 * handleUpgrade serves a request Node emitted as 'upgrade'. It waits for the responses to
 * requests pipelined before it (one request at a time, as for plain requests), then checks,
 * routes and answers it or sets up the tunnel.
 */
export function handleUpgrade(l: UpgradeListener, req: IncomingMessage, socket: Socket, head: Buffer): void {
  // Node took its own listeners off the socket: without one, an error would be thrown, and a
  // response still in progress ahead of this request would hear no stream idle timeout.
  socket.on('error', () => socket.destroy());
  socket.on('timeout', () => onIdle(l.runtime, socket as HttpSocket));
  whenIdle(socket as HttpSocket, () => serve(l, req, socket, head));
}

/** whenIdle runs go once no response is in progress on the socket, unless it is closing by then. */
function whenIdle(socket: HttpSocket, go: () => void): void {
  const busy = socket._httpMessage;
  // Node emits 'close' on a response after its 'finish' (once the next one, if any, has the
  // socket), and when the connection is lost.
  if (busy) return void busy.once('close', () => whenIdle(socket, go));
  if (socket.destroyed || socket.writableEnded) return void socket.destroy();
  go();
}

function serve(l: UpgradeListener, req: IncomingMessage, socket: Socket, head: Buffer): void {
  if (!l.admits(socket)) return void socket.destroy();
  const rt = l.runtime;
  const res = new ServerResponse(req);
  // Nothing that follows a refused or answered upgrade can be framed: every reply closes.
  res.shouldKeepAlive = false;
  res.assignSocket(socket);
  res.once('finish', () => socket.destroySoon());
  // Node set the keep-alive timeout if a response came before: this request is a stream.
  socket.setTimeout(rt.edge.http.streamIdleTimeoutMs);
  const refused = checkRequest(req, rt.edge, (n) => l.onDropped(n)) ?? upgradeRefusal(req);
  if (refused) {
    rt.stats.downstreamErrors.labels(refused.details).inc();
    return refuse(rt, res, refused);
  }
  const protocol = req.headers.upgrade ?? '';
  const lower = protocol.trim().toLowerCase();
  if (lower === 'h2c') {
    stripH2c(req);
    return handleRequest(rt, req, res);
  }
  if (!ALLOWED_UPGRADES.has(lower)) return refuse(rt, res, UpgradeRefusals.notAllowed);
  handleRequest(rt, req, res, (req, res, route, action, path, ctx) => {
    const dest = pickDestination(action.destinations);
    const cluster = ctx.clusters.get(dest.upstream);
    if (!cluster) return refuse(rt, res, LocalReply.clusterNotFound);
    const ep = cluster.pick();
    if (!ep) return refuse(rt, res, LocalReply.noHealthyUpstream);
    const upstreamPath = action.prefixRewrite !== undefined ? rewritePrefix(path, req.url!, route.route.match, action.prefixRewrite) : req.url!;
    new Tunnel(l, rt, req, res, socket, head, route, cluster, ep).start(protocol, upstreamPath, upstreamHeaders(req, route, action, ctx));
  });
}

/**
 * onIdle: nothing moved on the client connection for streamIdleTimeout. A response in progress
 * with a 'timeout' listener (forward.ts's exchange for h2c, a Tunnel waiting for its 101) answers
 * for itself, as Node's own timeout handling lets it; otherwise 408 if no response began, else
 * the connection is closed.
 */
function onIdle(rt: ListenerRuntime, socket: HttpSocket): void {
  const res = socket._httpMessage;
  if (res && res.listenerCount('timeout') > 0) return void res.emit('timeout', socket);
  if (res && !res.headersSent) {
    rt.stats.downstreamErrors.labels(Refusals.streamIdleTimeout.details).inc();
    return refuse(rt, res, Refusals.streamIdleTimeout);
  }
  socket.destroy();
}

/** upgradeRefusal is what Node checks for a plain request and not for an upgrade, and a body. */
function upgradeRefusal(req: IncomingMessage): LocalReply | undefined {
  if (req.httpVersionMinor === 1 && req.headers.host === undefined) return UpgradeRefusals.missingHost;
  const cl = req.headers['content-length'];
  if (req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0')) return UpgradeRefusals.withBody;
  return undefined;
}

/** H2C_HEADERS are the h2c upgrade's headers, which Envoy removes, with their Connection tokens. */
const H2C_HEADERS = ['upgrade', 'http2-settings'];

/**
 * stripH2c removes `Upgrade: h2c`, `HTTP2-Settings` and their Connection tokens before routing,
 * as Envoy's HTTP/1 codec does: the request is then a plain one (it would lose them at
 * forwarding anyway, being hop-by-hop, but header matchers must not see them either).
 */
function stripH2c(req: IncomingMessage): void {
  const raw = req.rawHeaders;
  const kept: string[] = [];
  const connection: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (H2C_HEADERS.includes(lower)) continue;
    if (lower === 'connection') {
      const rest = raw[i + 1]!.split(',').map((t) => t.trim()).filter((t) => t && !H2C_HEADERS.includes(t.toLowerCase()));
      if (!rest.length) continue;
      connection.push(rest.join(', '));
      kept.push(raw[i]!, rest.join(', '));
      continue;
    }
    kept.push(raw[i]!, raw[i + 1]!);
  }
  req.rawHeaders = kept;
  for (const h of H2C_HEADERS) delete req.headers[h];
  if (connection.length) req.headers.connection = connection.join(', ');
  else delete req.headers.connection;
}

/** refuse answers on an upgrade's response (which closes the connection) and counts it. */
function refuse(rt: ListenerRuntime, res: ServerResponse, r: LocalReply): void {
  rt.stats.localReplies.labels(`${Math.floor(r.status / 100)}xx`, r.details).inc();
  sendLocalReply(res, r, { connection: 'close' });
}

/** DownstreamGone marks an abort caused by the client going away (or idling out). */
class DownstreamGone extends Error {}

/**
 * Tunnel is one upgrade request's trip upstream: undici's dispatch handler (the callback form,
 * as forward.ts's Exchange), then, on a 101, the pipe between the two connections.
 */
class Tunnel implements Dispatcher.DispatchHandler {
  readonly #l: UpgradeListener;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #socket: Socket;
  readonly #head: Buffer;
  readonly #route: CompiledRoute;
  readonly #cluster: Cluster;
  readonly #ep: ClusterEndpoint;
  readonly #rt: ListenerRuntime;
  readonly #started = performance.now();
  #abort: ((err?: Error) => void) | undefined;
  /** #settled: the upstream answered (or failed), or the client is gone; later events are ignored. */
  #settled = false;
  #status = 0;

  constructor(
    l: UpgradeListener, rt: ListenerRuntime, req: IncomingMessage, res: ServerResponse, socket: Socket, head: Buffer,
    route: CompiledRoute, cluster: Cluster, ep: ClusterEndpoint,
  ) {
    this.#l = l;
    this.#rt = rt;
    this.#req = req;
    this.#res = res;
    this.#socket = socket;
    this.#head = head;
    this.#route = route;
    this.#cluster = cluster;
    this.#ep = ep;
  }

  start(protocol: string, path: string, headers: string[]): void {
    this.#res.once('close', () => this.#gone(new DownstreamGone('downstream closed')));
    this.#res.on('timeout', () => this.#onStreamIdle());
    this.#ep.pool.dispatch(
      // undici writes `connection: upgrade` and `upgrade: <protocol>` itself (it refuses both in headers).
      { path, method: this.#req.method as Dispatcher.HttpMethod, headers, body: null, upgrade: protocol },
      this,
    );
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.#settled) return abort(new DownstreamGone('downstream closed'));
    this.#abort = abort;
  }

  /** onHeaders: the upstream answered without upgrading; relayed as a plain response, then closed. */
  onHeaders(status: number, raw: Buffer[] | string[] | null, resume: () => void): boolean {
    if (this.#settled) return false;
    if (status < 200) return true; // 1xx informational responses are not forwarded.
    this.#status = status;
    this.#res.writeHead(status, this.#responseHeaders(raw ?? [], false));
    this.#res.on('drain', resume);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#settled) return false;
    return this.#res.write(chunk);
  }

  onComplete(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#record(this.#status);
    this.#res.end();
  }

  onError(err: Error): void {
    if (this.#settled || err instanceof DownstreamGone) return;
    this.#settled = true;
    if (this.#res.headersSent) {
      // The relayed answer already began: the only honest signal left is a reset.
      this.#record(this.#status);
      this.#res.destroy();
      return;
    }
    const tls = err instanceof UpstreamTlsError;
    const failure = tls || isConnectFailure(err);
    if (failure) this.#cluster.stats.connectFailures.inc();
    this.#record(503);
    refuse(this.#rt, this.#res, LocalReply.upstreamReset(failure ? 'connection failure' : 'connection termination', tls ? err.message : undefined));
  }

  /** onUpgrade: the upstream switched protocols. Relay its 101, then splice the two connections. */
  onUpgrade(status: number, raw: Buffer[] | string[] | null, duplex: Duplex): void {
    const upstream = duplex as Socket;
    // undici took its listeners off the socket as it handed it over.
    upstream.on('error', () => upstream.destroy());
    const client = this.#socket;
    if (this.#settled || client.destroyed || !this.#l.admits(client)) {
      this.#settled = true;
      upstream.destroy();
      return;
    }
    this.#settled = true;
    this.#record(status);
    let head: string;
    try {
      head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${serialize(this.#responseHeaders(raw ?? [], true))}\r\n`;
    } catch {
      // A header value the route's manipulation made invalid: nothing sensible can be sent.
      upstream.destroy();
      client.destroy();
      return;
    }
    // The response object is done with: the connection is the tunnel's from now on.
    this.#res.detachSocket(client);
    client.write(head, 'latin1');
    if (this.#head.length) upstream.write(this.#head);
    const { total, active } = this.#l.upgrades;
    total.inc();
    active.inc();
    splice(client, upstream, this.#rt.edge.http.streamIdleTimeoutMs, () => active.dec());
  }

  /**
   * #responseHeaders filters an upstream answer's headers as forward.ts does (hop-by-hop and
   * those Connection names are dropped, the proxy's service time and the routes' header
   * manipulation added); a 101 keeps `Upgrade` and `Connection`, which carry the switch (Envoy
   * keeps them when both the request and the response are upgrades).
   */
  #responseHeaders(raw: Buffer[] | string[], upgraded: boolean): string[] {
    const out: string[] = [];
    let extra: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toString('latin1');
      const value = raw[i + 1]!.toString('latin1');
      const lower = name.toLowerCase();
      if (lower === 'connection') {
        extra = connectionTokens(value);
        // Only the upgrade token is relayed: the headers the others name are dropped here (and
        // clients such as browsers want `Connection: Upgrade` alone).
        if (upgraded) out.push(name, extra.find((t) => t === 'upgrade') ? 'Upgrade' : value);
        continue;
      }
      if (upgraded && lower === 'upgrade') {
        out.push(name, value);
        continue;
      }
      if (isHopByHop(lower) || lower === 'x-envoy-upstream-service-time') continue;
      out.push(name, value);
    }
    if (extra.length) {
      for (let i = out.length - 2; i >= 0; i -= 2) {
        const lower = out[i]!.toLowerCase();
        if (extra.includes(lower) && !(upgraded && (lower === 'upgrade' || lower === 'connection'))) out.splice(i, 2);
      }
    }
    out.push('x-envoy-upstream-service-time', String(Math.round(performance.now() - this.#started)));
    const rh = this.#route.route.headers;
    if (rh) applyHeaderManipulation(out, rh.responseHeadersToAdd, rh.responseHeadersToRemove);
    const vh = this.#route.vhost.vhost.headers;
    if (vh) applyHeaderManipulation(out, vh.responseHeadersToAdd, vh.responseHeadersToRemove);
    return out;
  }

  /** #gone: the client went away before the upstream answered; the upstream request is aborted. */
  #gone(err: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#abort?.(err);
  }

  /**
   * #onStreamIdle: nothing moved on the client connection for streamIdleTimeout while waiting
   * for the upstream's answer (or relaying a plain one). As Envoy: 408 before a response began,
   * else a reset.
   */
  #onStreamIdle(): void {
    this.#rt.stats.downstreamErrors.labels(Refusals.streamIdleTimeout.details).inc();
    if (this.#res.headersSent) {
      this.#settled = true;
      this.#abort?.(new DownstreamGone('stream idle timeout'));
      this.#res.destroy();
      return;
    }
    this.#gone(new DownstreamGone('stream idle timeout'));
    refuse(this.#rt, this.#res, Refusals.streamIdleTimeout);
  }

  #record(status: number): void {
    const s = this.#cluster.stats;
    const cls = Math.floor(status / 100);
    if (cls >= 1 && cls <= 5) s.byClass[cls]!.inc();
    s.latency.observe((performance.now() - this.#started) / 1000);
  }
}

/** serialize writes [name, value, ...] as header lines, checked as Node checks what it writes. */
function serialize(flat: readonly string[]): string {
  let s = '';
  for (let i = 0; i < flat.length; i += 2) {
    validateHeaderName(flat[i]!);
    validateHeaderValue(flat[i]!, flat[i + 1]!);
    s += `${flat[i]}: ${flat[i + 1]}\r\n`;
  }
  return s;
}

/**
 * splice pipes bytes both ways between the client and the upstream. When either side ends or
 * closes, the tunnel is over: piping stops, each side is ended once what is already queued for
 * it is written (Node's destroySoon), and closed. Inactivity on either side for idleMs (0: none)
 * closes both at once. onClose runs once.
 */
function splice(client: Socket, upstream: Socket, idleMs: number, onClose: () => void): void {
  let over = false;
  const end = () => {
    if (over) return;
    over = true;
    client.unpipe(upstream);
    upstream.unpipe(client);
    client.destroySoon();
    upstream.destroySoon();
    onClose();
  };
  const kill = () => {
    end();
    client.destroy();
    upstream.destroy();
  };
  for (const s of [client, upstream]) {
    s.on('end', end);
    s.on('close', end);
    s.on('error', kill);
    s.setTimeout(idleMs);
  }
  upstream.on('timeout', kill);
  client.on('timeout', kill);
  client.pipe(upstream, { end: false });
  upstream.pipe(client, { end: false });
}
