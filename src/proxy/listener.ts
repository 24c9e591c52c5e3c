/**
 * ProxyListener owns one listening socket and the runtime it serves with. The runtime is one
 * reference, swapped whole by the proxy when a snapshot changes it. A front server owns the
 * port; each connection then goes, in plaintext or once TLS is terminated, to the HTTP/1.1
 * server or the HTTP/2 one (http2/), by ALPN or by its first bytes (http2/preface.ts).
 * A sidecar's inbound listener first looks at each connection's first bytes and applies its
 * PeerAuthentication mode before HTTP sees it: TLS goes through mesh mTLS, plaintext goes
 * straight on, and a connection the mode forbids is closed before any response, as Envoy does
 * when no filter chain matches. Every listener applies its HTTP settings (limits, timeouts,
 * connection limit) to its servers, runs the edge checks (edge.ts) before routing, serves one
 * request at a time per HTTP/1 connection, hands `Connection: upgrade` requests to upgrade.ts
 * (WebSocket), and drains on close; docs/security.md says what is refused and why.
 *
 * HTTP/2 requests reach the same request path as HTTP/1 ones: Node's compatibility objects
 * (Http2ServerRequest, Http2ServerResponse) are read through the members the two share; where
 * the path must tell them apart it asks isHttp2 (edge.ts, request.ts, forward.ts, local-reply.ts).
 */
import { createServer, ServerResponse, STATUS_CODES, type Server, type ServerOptions, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type * as ir from '../ir/index.js';
import { checkSpiffe } from './upstream/mesh-tls.js';
import { handleRequest, type ListenerRuntime } from './request.js';
import { checkRequest, Refusals } from './edge.js';
import { sendLocalReply, type LocalReply } from './local-reply.js';
import { handleUpgrade, type UpgradeListener } from './upgrade.js';
import type { ProxyStats } from './stats.js';
import { createTlsTerminator, tlsFront } from './tls/server.js';
import { H2Downstream } from './http2/server.js';
import { detectProtocol } from './http2/preface.js';

/**
 * INBOUND_ALPN, in the server's preference: `h2` for a client that offers it (Istio's HTTP/2
 * clients offer `istio-h2` and `h2`), then what Istio's HTTP/1.1 clients offer
 * (`istio-http/1.1`, or plain `istio` as Gloo's enable-mtls writes) only to pick a filter chain.
 * Whatever settles, a connection that starts with the HTTP/2 preface is served as HTTP/2.
 */
const INBOUND_ALPN = ['h2', 'istio-http/1.1', 'istio', 'http/1.1'];

/** HttpMessageSocket is a server socket with the response Node is writing on it, if any. */
type HttpMessageSocket = Socket & { _httpMessage?: ServerResponse | null; [kBroken]?: true };

/** kBroken marks a connection whose input llhttp refused: its incomplete request is never served. */
const kBroken = Symbol('meshgate.brokenConnection');

/**
 * checkInterval is how often Node sweeps connections for requestHeadersTimeout
 * (connectionsCheckingInterval, 30 s by default, which would let a 10 s timeout fire at 40 s):
 * a quarter of the timeout, between 25 ms and 1 s. Fixed when the server is built; a later
 * snapshot's timeout applies at once, at this precision.
 */
function checkInterval(headersTimeoutMs: number): number {
  if (headersTimeoutMs <= 0) return 1000;
  return Math.min(1000, Math.max(25, Math.floor(headersTimeoutMs / 4)));
}

/**
 * serverOptions are the node:http options a listener's server is built with, from its HTTP
 * settings: Envoy's limits and timeouts, llhttp strict, and the response class that closes a
 * connection whose request was not read in full. The settings that can change later are applied
 * again by applySettings on every snapshot.
 */
function serverOptions(h: ir.HttpSettings, Response: typeof ServerResponse): ServerOptions {
  return {
    // Counted by llhttp over the request line and the headers: a URI is bounded by this too.
    maxHeaderSize: h.maxRequestHeadersBytes,
    keepAliveTimeout: h.idleTimeoutMs,
    // Envoy has no whole-request timeout by default; slow clients meet the timeouts below.
    requestTimeout: 0,
    headersTimeout: h.requestHeadersTimeoutMs,
    connectionsCheckingInterval: checkInterval(h.requestHeadersTimeoutMs),
    insecureHTTPParser: false,
    requireHostHeader: true,
    noDelay: true,
    ServerResponse: Response,
  };
}

/**
 * bodyPending tells whether a request still has body bytes to come: Envoy closes an HTTP/1
 * connection whose response began before the request was complete, since what follows on it
 * can no longer be framed with certainty.
 */
function bodyPending(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}

/** rawReply is a local reply as bytes, for a connection no HTTP server has taken (or that llhttp gave up on). */
function rawReply(r: LocalReply): string {
  return (
    `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status]}\r\nconnection: close\r\ncontent-type: text/plain\r\n` +
    `content-length: ${Buffer.byteLength(r.body)}\r\n\r\n${r.body}`
  );
}

export class ProxyListener {
  readonly name: string;
  readonly host: string;
  readonly requestedPort: number;
  #runtime: ListenerRuntime;
  /** #meshConns are an inbound listener's open connections, true for mTLS ones. */
  readonly #meshConns = new Map<Socket, boolean>();
  #tls: TlsServer | undefined;
  #tlsRoot: string | undefined;
  /** inbound is fixed for a listener's life: the proxy rebinds when a snapshot flips it. */
  readonly inbound: boolean;
  /** #server serves HTTP/1.1; it never binds. */
  readonly #server: Server;
  /** #h2 serves HTTP/2; it never binds. */
  readonly #h2: H2Downstream;
  /** #terminator terminates TLS on an HTTPS listener. */
  readonly #terminator: TlsServer | undefined;
  /** #front owns the port and hands each connection on. */
  readonly #front: NetServer;
  readonly #stats: ProxyStats;
  #port = 0;
  /** #onDropped counts headers dropped for an underscore (bound once, not per request). */
  readonly #onDropped = (n: number) => this.#stats.droppedUnderscoreHeaders.inc(n);
  /** #draining: close() began; every response from now on carries `connection: close`. */
  #draining = false;
  /** #settings are the HTTP settings last applied to the server. */
  #settings: ir.HttpSettings;
  /**
   * #upgrades are connections Node handed over on 'upgrade' (upgrade.ts), from the request to
   * the end of the tunnel. Node no longer tracks them (its idle and close-all sweeps miss them),
   * so close() ends them itself.
   */
  readonly #upgrades = new Set<Socket>();

  constructor(name: string, host: string, port: number, runtime: ListenerRuntime, stats: ProxyStats) {
    this.name = name;
    this.host = host;
    this.requestedPort = port;
    this.#runtime = runtime;
    this.inbound = runtime.inbound !== undefined;
    this.#stats = stats;
    this.#settings = runtime.edge.http;
    if (this.inbound) this.#front = createNetServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.#accept(socket));
    else if (runtime.tls) this.#front = tlsFront(() => this.#terminator!, () => this.#runtime.tls, stats);
    else this.#front = createNetServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.#dispatch(socket));
    this.#terminator = runtime.tls ? createTlsTerminator(runtime.tls, () => this.#runtime.tls, stats, (tls) => this.#dispatch(tls)) : undefined;
    const listener = this;
    /** EdgeResponse decides, as each response begins, whether its connection may be reused. */
    class EdgeResponse extends ServerResponse {
      override writeHead(status: number, reasonOrHeaders?: string | OutgoingHttpHeaders | OutgoingHttpHeader[], headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this {
        if (listener.#draining) this.shouldKeepAlive = false;
        else if (this.shouldKeepAlive && bodyPending(this.req)) {
          this.shouldKeepAlive = false;
          stats.responseBeforeRequestComplete.inc();
        }
        // Node tells the (status, headers) form from (status, reason, headers) itself.
        return super.writeHead(status, reasonOrHeaders as string | undefined, headers);
      }
    }
    const options = serverOptions(this.#settings, EdgeResponse as typeof ServerResponse);
    this.#server = createServer(options, (req, res) => this.#onRequest(req, res));
    // HTTP/2 streams are independent: each is served as it arrives.
    this.#h2 = new H2Downstream(this.#settings, name, stats, (req, res) => this.#serve(req, res));
    const active = stats.activeConnections.labels(name);
    this.#server.on('connection', (socket: Socket) => {
      active.inc();
      socket.once('close', () => active.dec());
    });
    // Malformed HTTP: answer 400 (431 for oversized headers, 408 for headers too slow) and close; never crash.
    this.#server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
      const r =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? Refusals.headersTooLarge
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? Refusals.requestHeadersTimeout
            : Refusals.codecError;
      this.#stats.downstreamErrors.labels(err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? r.details : (err.code ?? 'unknown')).inc();
      // A request whose body broke while it was queued behind the one in flight must not be
      // served when its turn comes: the refusal below takes its place. (Requests queued before
      // it are complete and valid: they are served first, as Envoy would.)
      (socket as HttpMessageSocket)[kBroken] = true;
      const refuse = () => {
        const inFlight = (socket as HttpMessageSocket)._httpMessage;
        // A broken request pipelined behind complete ones: answer those first (Envoy answers one
        // request at a time), then refuse it.
        if (inFlight?.req.complete) return void inFlight.once('finish', refuse);
        if (inFlight && !inFlight.headersSent) {
          // This request's body broke before any answer began: refuse it as Envoy does; closing
          // the response aborts the upstream request.
          return this.#refuse(inFlight, r);
        }
        if (socket.writable && !inFlight) socket.end(rawReply(r));
        socket.destroy();
      };
      refuse();
    });
    // A client socket idle for the server's timeout: the keep-alive idleTimeout between requests
    // (Node arms it after each response), streamIdleTimeout while one is open. Node emits it on
    // the response first: an upstream exchange listens there and answers its own (forward.ts).
    // Otherwise a response not begun gets 408; anything else closes.
    this.#server.on('timeout', (socket: Socket) => {
      const res = (socket as HttpMessageSocket)._httpMessage;
      if (res && res.listenerCount('timeout') > 0) return;
      if (res && !res.headersSent) {
        this.#stats.downstreamErrors.labels(Refusals.streamIdleTimeout.details).inc();
        return this.#refuse(res, Refusals.streamIdleTimeout);
      }
      socket.destroy();
    });
    // Connection: upgrade requests (WebSocket), checked and routed as any request (upgrade.ts).
    // Node emits 'upgrade' only when someone listens; CONNECT goes to 'connect', which no one
    // does, so Node closes those connections.
    const upgradeListener: UpgradeListener = {
      get runtime() {
        return listener.#runtime;
      },
      admits: (socket) => this.#allowed(this.#meshConns.get(socket)),
      onDropped: this.#onDropped,
      upgrades: { total: stats.upgrades.labels(name), active: stats.upgradesActive.labels(name) },
    };
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      this.#upgrades.add(socket);
      socket.once('close', () => this.#upgrades.delete(socket));
      handleUpgrade(upgradeListener, req, socket, head);
    });
    const overflow = stats.downstreamCxOverflow.labels(name);
    // Node closes a connection over maxConnections as it is accepted and tells us here.
    this.#front.on('drop', () => overflow.inc());
    this.#applySettings(this.#settings);
    // The HTTP server behind the front never binds: it must still hear 'listening' to start
    // Node's connection tracking (requestHeadersTimeout, and the idle and drain sweeps close()
    // relies on), and 'close' to stop it.
    this.#front.on('listening', () => this.#server.emit('listening'));
    this.#front.on('close', () => this.#server.close());
    if (this.inbound) {
      // A connection the current mode no longer allows answers what it is serving, then closes.
      this.#server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        if (!this.#allowed(this.#meshConns.get(req.socket as Socket))) res.shouldKeepAlive = false;
      });
    }
  }

  get runtime(): ListenerRuntime {
    return this.#runtime;
  }

  /**
   * runtime swaps in a new runtime. On an inbound listener whose mode changed, open connections
   * the new mode forbids are drained, as Envoy drains the connections of a removed filter chain:
   * idle ones close now, busy ones after their response.
   */
  set runtime(rt: ListenerRuntime) {
    const before = this.#runtime.inbound?.mode;
    this.#runtime = rt;
    if (rt.edge.http !== this.#settings) this.#applySettings(rt.edge.http);
    if (!this.inbound || before === rt.inbound?.mode) return;
    for (const [conn, isTls] of this.#meshConns) {
      if (this.#allowed(isTls)) continue;
      if (this.#h2.drainConnection(conn)) continue;
      const busy = (conn as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
      if (busy) busy.shouldKeepAlive = false;
      else conn.destroy();
    }
  }

  /**
   * #applySettings applies the settings Node reads live from the server: a new snapshot's
   * values take effect without rebinding the port. Timeouts apply at once (the socket inactivity
   * timeout from the next request on a connection); maxHeaderSize, which Node reads as it sets
   * up each connection's parser, applies to new connections, as Envoy applies a listener update
   * to new connections.
   */
  #applySettings(h: ir.HttpSettings): void {
    const s = this.#server;
    this.#settings = h;
    // Node stores the maxHeaderSize option on the server and reads it there for each new
    // connection (test/integration/edge/limits.test.ts proves a change applies).
    (s as Server & { maxHeaderSize?: number }).maxHeaderSize = h.maxRequestHeadersBytes;
    // Node builds req.headers from at most maxHeadersCount headers, silently dropping the rest;
    // checkRequest refuses a request with more, counting rawHeaders (which always holds them all).
    s.maxHeadersCount = h.maxHeadersCount;
    s.headersTimeout = h.requestHeadersTimeoutMs;
    s.keepAliveTimeout = h.idleTimeoutMs;
    s.timeout = h.streamIdleTimeoutMs;
    // 0 is no limit for Node too; the front counts HTTP/1 and HTTP/2 connections alike.
    this.#front.maxConnections = h.maxConnections;
    this.#h2.apply(h);
  }

  /**
   * #dispatch hands a connection, in plaintext or with TLS terminated, to the server for its
   * protocol. Its first bytes are read back to that server, which resumes it.
   */
  #dispatch(socket: Socket): void {
    detectProtocol(
      socket,
      this.#settings.requestHeadersTimeoutMs,
      (h2) => {
        if (h2) return this.#h2.accept(socket);
        this.#server.emit('connection', socket);
        socket.resume();
      },
      () => {
        // Nothing (or too little to tell) within requestHeadersTimeout: as Node answers a silent HTTP/1 client.
        const r = Refusals.requestHeadersTimeout;
        this.#stats.downstreamErrors.labels(r.details).inc();
        socket.end(rawReply(r), () => socket.destroy());
      },
    );
  }

  /**
   * #onRequest serves one request at a time per connection, as Envoy's HTTP/1 codec does: Node
   * parses pipelined requests as they arrive, but one queued behind a response in progress (it
   * has no socket yet) waits for its turn. So pipelined requests reach the upstream in order,
   * and none that follows a response closing the connection (a refusal, HTTP/1.0, a body left
   * unread) is ever forwarded: its turn never comes.
   */
  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (res.socket === null) return void res.once('socket', () => this.#serve(req, res));
    this.#serve(req, res);
  }

  /** #serve runs the edge checks, then routes. */
  #serve(req: IncomingMessage, res: ServerResponse): void {
    // The connection is closing (a response closed it, or the client half-closed) or its input
    // broke: Node keeps parsing what was already sent until the socket is gone, and would hand
    // such a request the socket once the response before it finished. It is never served.
    const socket = req.socket as HttpMessageSocket;
    if (socket.writableEnded || (socket[kBroken] && !req.complete)) return;
    const rt = this.#runtime;
    const refused = checkRequest(req, rt.edge, this.#onDropped);
    if (refused) {
      this.#stats.downstreamErrors.labels(refused.details).inc();
      return this.#refuse(res, refused);
    }
    handleRequest(rt, req, res);
  }

  /** #refuse answers a refused request and closes the connection after the answer. */
  #refuse(res: ServerResponse, r: LocalReply): void {
    this.#stats.localReplies.labels(`${Math.floor(r.status / 100)}xx`, r.details).inc();
    sendLocalReply(res, r, { connection: 'close' });
  }

  /** #allowed tells whether the current inbound mode admits a connection of this kind. */
  #allowed(isTls: boolean | undefined): boolean {
    const mode = this.#runtime.inbound?.mode;
    if (isTls === undefined || !mode) return true;
    return isTls ? mode !== 'DISABLE' : mode !== 'STRICT';
  }

  /**
   * #tlsServer terminates mesh mTLS. It is a real tls.Server because Node verifies a client's
   * chain only there (a bare TLSSocket accepts any certificate): the server's own context holds
   * the mesh root, so a certificate from another root, an expired one or none at all fails the
   * handshake; SNICallback hands out the current credential, so renewals apply to new
   * connections. Every Istio client sends SNI. Rebuilt only if the mesh root changes.
   */
  #tlsServer(rootPem: string): TlsServer {
    if (this.#tls && this.#tlsRoot === rootPem) return this.#tls;
    const server = createTlsServer(
      {
        ca: rootPem,
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: INBOUND_ALPN,
        SNICallback: (_name, cb) => {
          const cred = this.#runtime.credentials?.current();
          if (cred) cb(null, cred.secureContext);
          else cb(new Error('no mesh identity'), undefined);
        },
      },
      (tls) => this.#onSecure(tls),
    );
    server.on('tlsClientError', (err: Error & { code?: string }, tls) => {
      this.#stats.downstreamErrors.labels(`tls_${err.code ?? 'handshake'}`).inc();
      tls.destroy();
    });
    this.#tls = server;
    this.#tlsRoot = rootPem;
    return server;
  }

  /** #onSecure admits an mTLS connection whose peer is in the trust domain and still allowed. */
  #onSecure(tls: TLSSocket): void {
    const inbound = this.#runtime.inbound;
    const why = inbound ? checkSpiffe(tls.getPeerCertificate(), [], inbound.trustDomain) : 'not an inbound listener';
    // The mode may have changed during the handshake.
    if (why || !this.#allowed(true)) {
      this.#stats.downstreamErrors.labels(why ? 'peer_identity_refused' : 'tls_refused_by_mode').inc();
      tls.destroy();
      return;
    }
    this.#track(tls, true);
    this.#dispatch(tls);
  }

  #track(conn: Socket, isTls: boolean): void {
    this.#meshConns.set(conn, isTls);
    conn.once('close', () => this.#meshConns.delete(conn));
  }

  /**
   * #accept applies the inbound mode to a new connection, reading its first bytes: a TLS
   * ClientHello starts with 0x16. The mode is read now, so a policy change applies to new
   * connections while open ones keep theirs.
   */
  #accept(socket: Socket): void {
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      socket.unshift(chunk);
      const inbound = this.runtime.inbound;
      const isTls = chunk[0] === 0x16;
      if (!inbound || (isTls ? inbound.mode === 'DISABLE' : inbound.mode === 'STRICT')) {
        this.#stats.downstreamErrors.labels(isTls ? 'tls_refused_by_mode' : 'plaintext_refused_by_mode').inc();
        socket.destroy();
        return;
      }
      if (!isTls) {
        this.#track(socket, false);
        this.#dispatch(socket);
        return;
      }
      const cred = this.runtime.credentials?.current();
      if (!cred) {
        this.#stats.downstreamErrors.labels('no_mesh_identity').inc();
        socket.destroy();
        return;
      }
      this.#tlsServer(cred.rootPem).emit('connection', socket);
    });
    socket.once('error', () => socket.destroy());
  }

  /** port is the port actually bound (differs from the requested one when that was 0). */
  get port(): number {
    return this.#port;
  }

  listen(): Promise<void> {
    const target = this.#front;
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      target.once('error', onError);
      target.listen({ host: this.host, port: this.requestedPort }, () => {
        target.off('error', onError);
        const addr = target.address();
        this.#port = typeof addr === 'object' && addr ? addr.port : this.requestedPort;
        resolve();
      });
    });
  }

  /**
   * close stops accepting, lets in-flight requests finish, closes idle keep-alive connections,
   * and after drainMs closes whatever is left, upgraded connections (tunnels) included.
   */
  close(drainMs: number): Promise<void> {
    // Responses from now on close their connection, so no client reuses one that is going away.
    this.#draining = true;
    // HTTP/2 clients are told with GOAWAY: no new streams, those in flight finish.
    this.#h2.drain();
    return new Promise((resolve) => {
      const deadline = setTimeout(() => {
        this.#server.closeAllConnections();
        this.#h2.destroy();
        for (const socket of this.#upgrades) socket.destroy();
      }, drainMs);
      // A keep-alive connection becomes idle when its request ends; close those as they appear.
      const sweep = setInterval(() => this.#server.closeIdleConnections(), 50);
      deadline.unref();
      sweep.unref();
      // The front owns the raw sockets: its close waits for all of them.
      this.#front.close(() => {
        clearTimeout(deadline);
        clearInterval(sweep);
        resolve();
      });
      this.#server.closeIdleConnections();
    });
  }
}
