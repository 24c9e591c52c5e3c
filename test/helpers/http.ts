/**
 * Test clients: send (node:http, one connection per request, so no pooled socket outlives a
 * test) and rawExchange (node:net, exact bytes in, the raw response text out).
 */
import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: string;
}

export interface SendOptions {
  readonly method?: string;
  readonly headers?: OutgoingHttpHeaders;
  /** body is sent with a content-length. */
  readonly body?: string;
  /** chunks are sent one write each, without content-length: chunked transfer-encoding. */
  readonly chunks?: readonly string[];
}

/** send makes one request to 127.0.0.1:port and reads the whole response. */
export function send(port: number, path: string, opts: SendOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (opts.chunks) {
      for (const c of opts.chunks) req.write(c);
      req.end();
    } else req.end(opts.body);
  });
}

/** rawExchange writes bytes on a fresh connection and returns everything read until it closes. */
export function rawExchange(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    // A server that closes with unread input may reset the connection; keep what arrived.
    sock.on('error', (err: Error & { code?: string }) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve(Buffer.concat(chunks).toString('latin1')) : reject(err)));
    sock.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    sock.on('connect', () => sock.write(bytes));
  });
}

/** statusOf reads the status code of a raw HTTP/1.1 response (0 when there is none). */
export function statusOf(raw: string): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  return m ? Number(m[1]) : 0;
}

/** connectRefused tells whether a TCP connection to 127.0.0.1:port is refused. */
export function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.on('connect', () => {
      sock.destroy();
      resolve(false);
    });
    sock.on('error', (err: Error & { code?: string }) => resolve(err.code === 'ECONNREFUSED'));
  });
}
