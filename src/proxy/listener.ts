/**
 * ProxyListener owns one listening socket and the runtime it serves with. The runtime is one
 * reference, swapped whole by the proxy when a snapshot changes it. A sidecar's inbound listener
 * first looks at each connection's first bytes and applies its PeerAuthentication mode before
 * HTTP sees it: TLS goes through mesh mTLS, plaintext goes straight on, and a connection the
 * mode forbids is closed before any response, as Envoy does when no filter chain matches.
 */
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { checkSpiffe } from './upstream/mesh-tls.js';
import { handleRequest, type ListenerRuntime } from './request.js';
import type { ProxyStats } from './stats.js';

/** MAX_HEADER_BYTES is Envoy's default max_request_headers_kb (60 KiB); larger gets 431. */
export const MAX_HEADER_BYTES = 60 * 1024;
/** KEEP_ALIVE_MS is how long an idle client connection stays open. */
const KEEP_ALIVE_MS = 60_000;
/**
 * INBOUND_ALPN: Istio clients offer `istio-http/1.1` (or plain `istio`, as Gloo's enable-mtls
 * writes) only to pick a filter chain; the connection then carries HTTP/1.1.
 */
const INBOUND_ALPN = ['istio-http/1.1', 'istio', 'http/1.1'];

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
  readonly #server: Server;
  /** #front accepts connections for an inbound listener and hands them to #server. */
  readonly #front: NetServer | undefined;
  readonly #stats: ProxyStats;
  #port = 0;

  constructor(name: string, host: string, port: number, runtime: ListenerRuntime, stats: ProxyStats) {
    this.name = name;
    this.host = host;
    this.requestedPort = port;
    this.#runtime = runtime;
    this.inbound = runtime.inbound !== undefined;
    this.#stats = stats;
    this.#server = createServer(
      {
        maxHeaderSize: MAX_HEADER_BYTES,
        keepAliveTimeout: KEEP_ALIVE_MS,
        // Envoy has no whole-request timeout by default; slow clients are issue #4's hardening.
        requestTimeout: 0,
        headersTimeout: 60_000,
        insecureHTTPParser: false,
        requireHostHeader: true,
        noDelay: true,
      },
      (req: IncomingMessage, res: ServerResponse) => handleRequest(this.runtime, req, res),
    );
    const active = stats.activeConnections.labels(name);
    this.#server.on('connection', (socket: Socket) => {
      active.inc();
      socket.once('close', () => active.dec());
    });
    // Malformed HTTP: answer 400 (431 for oversized headers) and close; never crash.
    this.#server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
      const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
      this.#stats.downstreamErrors.labels(err.code ?? 'unknown').inc();
      const refuse = () => {
        const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
        // A broken request pipelined behind complete ones: answer those first (Envoy answers one
        // request at a time), then refuse it.
        if (inFlight?.req.complete) return void inFlight.once('finish', refuse);
        if (inFlight && !inFlight.headersSent) {
          // This request's body broke before any answer began: refuse it as Envoy does; closing
          // the response aborts the upstream request.
          inFlight.writeHead(tooLarge ? 431 : 400, { connection: 'close', 'content-length': 0 });
          return void inFlight.end();
        }
        if (socket.writable && !inFlight) {
          socket.end(
            tooLarge
              ? 'HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n'
              : 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n',
          );
        }
        socket.destroy();
      };
      refuse();
    });
    if (this.inbound) {
      // A connection the current mode no longer allows answers what it is serving, then closes.
      this.#server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        if (!this.#allowed(this.#meshConns.get(req.socket as Socket))) res.shouldKeepAlive = false;
      });
    }
    if (this.inbound) this.#front = createNetServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.#accept(socket));
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
    if (!this.inbound || before === rt.inbound?.mode) return;
    for (const [conn, isTls] of this.#meshConns) {
      if (this.#allowed(isTls)) continue;
      const busy = (conn as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
      if (busy) busy.shouldKeepAlive = false;
      else conn.destroy();
    }
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
    this.#server.emit('connection', tls);
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
        this.#server.emit('connection', socket);
        socket.resume();
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
    const target = this.#front ?? this.#server;
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
   * and after drainMs closes whatever is left.
   */
  close(drainMs: number): Promise<void> {
    return new Promise((resolve) => {
      const deadline = setTimeout(() => this.#server.closeAllConnections(), drainMs);
      // A keep-alive connection becomes idle when its request ends; close those as they appear.
      const sweep = setInterval(() => this.#server.closeIdleConnections(), 50);
      deadline.unref();
      sweep.unref();
      // An inbound listener's front owns the raw sockets: its close waits for all of them.
      (this.#front ?? this.#server).close(() => {
        clearTimeout(deadline);
        clearInterval(sweep);
        resolve();
      });
      this.#server.closeIdleConnections();
    });
  }
}
