/**
 * HTTP/2 on a listener: Node's HTTP/2 server (nghttp2), fed the connections the listener has
 * told to be HTTP/2 (preface.ts), never bound itself. Requests arrive through Node's
 * compatibility API, whose request and response objects the request path reads as it reads
 * HTTP/1 ones (listener.ts says where they differ).
 *
 * Settings are Envoy's for an edge proxy (its edge best-practices page): 100 concurrent streams
 * per connection, a header list bounded by the listener's maxRequestHeadersKb, no server push.
 * nghttp2 refuses malformed frames, connection-specific headers, bad pseudo-headers and
 * upper-case names with a stream or connection error, and Node bounds the resets a client may
 * cause (rapid reset) and the memory a session may hold.
 *
 * Timeouts: a connection that opens no stream within requestHeadersTimeout is closed; a
 * connection idle for idleTimeout is closed gracefully (GOAWAY); a stream with no activity for
 * streamIdleTimeout is answered 408 if its response has not begun, else reset, unless the
 * upstream exchange handling it answers first (forward.ts).
 */
import { createServer, Http2ServerRequest, type Http2Server, type Http2ServerResponse, type OutgoingHttpHeaders, type ServerHttp2Session, type Settings } from 'node:http2';
import type { Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as ir from '../../ir/index.js';
import type { ProxyStats } from '../stats.js';

/**
 * isHttp2 tells a request that came over HTTP/2. Not httpVersionMajor alone: llhttp parses an
 * HTTP/1 request line that claims `HTTP/2.0` into the same number (and the edge refuses it).
 */
export function isHttp2(req: IncomingMessage): boolean {
  return (req as unknown) instanceof Http2ServerRequest;
}

/**
 * respondTrailersOnly answers an HTTP/2 request with headers alone, END_STREAM on the HEADERS
 * frame: gRPC's "trailers-only" response, whose status a gRPC client reads only in that form.
 * (Node's compatibility writeHead and end send an empty DATA frame to end the stream.)
 * headers are a flat [name, value, ...] list or an object.
 */
export function respondTrailersOnly(res: ServerResponse, status: number, headers: readonly string[] | Readonly<Record<string, string | number>>): void {
  const out: OutgoingHttpHeaders = { ':status': status };
  if (isFlat(headers)) {
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!.toLowerCase();
      const prev = out[name];
      out[name] = prev === undefined ? headers[i + 1]! : ([] as string[]).concat(prev as string | string[], headers[i + 1]!);
    }
  } else for (const name of Object.keys(headers)) out[name.toLowerCase()] = headers[name];
  (res as unknown as Http2ServerResponse).stream.respond(out, { endStream: true });
}

function isFlat(h: readonly string[] | Readonly<Record<string, string | number>>): h is readonly string[] {
  return Array.isArray(h);
}

/** MAX_CONCURRENT_STREAMS per connection (Envoy's edge recommendation; its default is unbounded). */
const MAX_CONCURRENT_STREAMS = 100;
/** PSEUDO_HEADERS a request carries at most besides its headers (:method :scheme :authority :path :protocol). */
const PSEUDO_HEADERS = 5;

/** h2Settings are the SETTINGS a listener sends, from its HTTP settings. */
function h2Settings(h: ir.HttpSettings): Settings {
  return { maxConcurrentStreams: MAX_CONCURRENT_STREAMS, maxHeaderListSize: h.maxRequestHeadersBytes, enablePush: false };
}

/**
 * H2Downstream owns a listener's HTTP/2 server and its sessions. onRequest receives Node's
 * compatibility request and response, typed as the HTTP/1 ones the request path takes.
 */
export class H2Downstream {
  /** #server serves new connections; one built for older settings keeps serving its own. */
  #server: Http2Server;
  readonly #sessions = new Set<ServerHttp2Session>();
  /** #bySocket finds the session serving a connection the listener handed over. */
  readonly #bySocket = new WeakMap<Socket, ServerHttp2Session>();
  /** #accepting is the connection being handed over: Node announces its session synchronously. */
  #accepting: Socket | undefined;
  #settings: ir.HttpSettings;
  readonly #stats: ProxyStats;
  readonly #handle: (req: IncomingMessage, res: ServerResponse) => void;
  readonly #onSession: (session: ServerHttp2Session) => void;

  constructor(h: ir.HttpSettings, name: string, stats: ProxyStats, onRequest: (req: IncomingMessage, res: ServerResponse) => void) {
    this.#settings = h;
    this.#stats = stats;
    this.#handle = (req, res) => {
      const ms = this.#settings.streamIdleTimeoutMs;
      if (ms > 0) {
        res.setTimeout(ms);
        res.on('timeout', () => onStreamIdle(res, stats));
      }
      onRequest(req, res);
    };
    const active = stats.activeConnections.labels(name);
    this.#onSession = (session) => {
      this.#sessions.add(session);
      if (this.#accepting) this.#bySocket.set(this.#accepting, session);
      active.inc();
      const s = this.#settings;
      // A connection that never opens a stream is a slow client like any other.
      const firstStream = s.requestHeadersTimeoutMs > 0 ? setTimeout(() => session.destroy(), s.requestHeadersTimeoutMs) : undefined;
      firstStream?.unref();
      session.once('stream', () => clearTimeout(firstStream));
      if (s.idleTimeoutMs > 0) session.setTimeout(s.idleTimeoutMs, () => session.close());
      session.once('close', () => {
        clearTimeout(firstStream);
        this.#sessions.delete(session);
        active.dec();
      });
      // Errors are the session's end, counted; they must never reach the process.
      session.on('error', (err: Error & { code?: string }) => this.#stats.downstreamErrors.labels(`h2_${err.code ?? 'session_error'}`).inc());
    };
    this.#server = this.#build(h);
  }

  /**
   * #build makes an HTTP/2 server for these settings. Node fixes a session's header limits when
   * it is created, from its server's options (updateSettings does not reach them), so a change
   * of limits builds a new server for new connections, as HTTP/1's maxHeaderSize applies.
   */
  #build(h: ir.HttpSettings): Http2Server {
    const server = createServer(
      {
        settings: h2Settings(h),
        // Counted with the pseudo-headers; a request over maxHeadersCount but within this bound
        // is answered 431 by the edge checks, as on HTTP/1; far beyond it nghttp2 resets it.
        maxHeaderListPairs: 2 * h.maxHeadersCount + PSEUDO_HEADERS,
      },
      this.#handle as unknown as Parameters<typeof createServer>[1],
    );
    server.on('session', this.#onSession);
    server.on('sessionError', () => undefined);
    return server;
  }

  /** accept takes a connection that speaks HTTP/2. */
  accept(socket: Socket): void {
    this.#accepting = socket;
    try {
      this.#server.emit('connection', socket);
    } finally {
      this.#accepting = undefined;
    }
  }

  /**
   * drainConnection sends GOAWAY on the HTTP/2 connection a socket carries (its streams in
   * flight finish); false if the socket is not one of this server's.
   */
  drainConnection(socket: Socket): boolean {
    const session = this.#bySocket.get(socket);
    if (!session) return false;
    if (!session.closed) session.close();
    return true;
  }

  /** apply takes new settings: limits for new connections, timeouts from their next use. */
  apply(h: ir.HttpSettings): void {
    const old = this.#settings;
    this.#settings = h;
    if (old.maxRequestHeadersBytes !== h.maxRequestHeadersBytes || old.maxHeadersCount !== h.maxHeadersCount) this.#server = this.#build(h);
  }

  /** connections is how many HTTP/2 connections are open. */
  get connections(): number {
    return this.#sessions.size;
  }

  /**
   * drain sends GOAWAY on every connection: clients open no new stream, streams in flight
   * finish, then each connection closes. destroy closes what is left.
   */
  drain(): void {
    for (const s of this.#sessions) if (!s.closed) s.close();
  }

  destroy(): void {
    for (const s of this.#sessions) s.destroy();
  }
}

/**
 * onStreamIdle: no activity on a stream for streamIdleTimeout. An upstream exchange listening
 * on the response answers it (forward.ts); otherwise 408 before the response began, else a reset.
 */
function onStreamIdle(res: ServerResponse, stats: ProxyStats): void {
  if (res.listenerCount('timeout') > 1 || res.writableEnded) return;
  stats.downstreamErrors.labels('stream_idle_timeout').inc();
  if (res.headersSent) return void res.destroy();
  res.writeHead(408, { 'content-type': 'text/plain', 'content-length': 14 });
  res.end('stream timeout');
}
