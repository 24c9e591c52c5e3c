/**
 * ProxyListener owns one listening socket (node:http) and the runtime it serves with. The
 * runtime is one reference, swapped whole by the proxy when a snapshot changes it.
 */
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { handleRequest, type ListenerRuntime } from './request.js';
import type { ProxyStats } from './stats.js';

/** MAX_HEADER_BYTES is Envoy's default max_request_headers_kb (60 KiB); larger gets 431. */
export const MAX_HEADER_BYTES = 60 * 1024;
/** KEEP_ALIVE_MS is how long an idle client connection stays open. */
const KEEP_ALIVE_MS = 60_000;

export class ProxyListener {
  readonly name: string;
  readonly host: string;
  readonly requestedPort: number;
  runtime: ListenerRuntime;
  readonly #server: Server;
  readonly #stats: ProxyStats;
  #port = 0;

  constructor(name: string, host: string, port: number, runtime: ListenerRuntime, stats: ProxyStats) {
    this.name = name;
    this.host = host;
    this.requestedPort = port;
    this.runtime = runtime;
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
  }

  /** port is the port actually bound (differs from the requested one when that was 0). */
  get port(): number {
    return this.#port;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#server.once('error', onError);
      this.#server.listen({ host: this.host, port: this.requestedPort }, () => {
        this.#server.off('error', onError);
        const addr = this.#server.address();
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
      this.#server.close(() => {
        clearTimeout(deadline);
        clearInterval(sweep);
        resolve();
      });
      this.#server.closeIdleConnections();
    });
  }
}
