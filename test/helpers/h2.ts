/**
 * HTTP/2 test peers: a client request over node:http2 that reads the whole answer (headers,
 * body, trailers, or the reset), and an h2c upstream that records what it got and answers with
 * a handler the test chooses.
 */
import {
  connect, createServer, type ClientHttp2Session, type Http2Server, type IncomingHttpHeaders, type OutgoingHttpHeaders,
  type ServerHttp2Session, type ServerHttp2Stream, type SecureClientSessionOptions,
} from 'node:http2';

export interface H2Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly trailers: IncomingHttpHeaders;
  /** rstCode is the stream's reset code when the server reset it (0: ended normally). */
  readonly rstCode: number;
}

/** h2connect opens an HTTP/2 session: h2c for http://, h2 with ALPN for https://. */
export function h2connect(url: string, opts: SecureClientSessionOptions = {}): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = connect(url, opts);
    s.once('connect', () => {
      s.off('error', reject);
      s.on('error', () => undefined);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** h2request sends one request on a session and reads everything that comes back. */
export function h2request(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: string | Buffer): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': body === undefined ? 'GET' : 'POST', ...headers }, { endStream: body === undefined });
    let status = 0;
    let rh: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      status = Number(h[':status']);
      rh = h;
    });
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => undefined);
    stream.on('close', () => {
      if (status === 0 && stream.rstCode === 0) return reject(new Error('stream closed without a response'));
      resolve({ status, headers: rh, body: Buffer.concat(chunks).toString('utf8'), trailers, rstCode: stream.rstCode });
    });
    if (body !== undefined) stream.end(body);
  });
}

/** RecordedH2Request is one request as the h2c upstream got it. */
export interface RecordedH2Request {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export type H2Handler = (rec: RecordedH2Request, stream: ServerHttp2Stream) => void;

export interface H2Upstream {
  readonly port: number;
  readonly requests: RecordedH2Request[];
  /** sessions counts HTTP/2 connections accepted. */
  readonly sessions: number;
  setHandler(h: H2Handler): void;
  close(): Promise<void>;
}

/** startH2Upstream starts an h2c server on 127.0.0.1; by default it answers 200 `h2 ok` with a trailer. */
export async function startH2Upstream(): Promise<H2Upstream> {
  const requests: RecordedH2Request[] = [];
  let sessions = 0;
  let handler: H2Handler = (_rec, stream) => {
    stream.respond({ ':status': 200, 'content-type': 'text/plain' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-trailer': 'done' }));
    stream.end('h2 ok');
  };
  const server: Http2Server = createServer();
  const open = new Set<ServerHttp2Session>();
  server.on('session', (s: ServerHttp2Session) => {
    sessions++;
    open.add(s);
    s.once('close', () => open.delete(s));
  });
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => undefined);
    stream.on('end', () => {
      const rec = { headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(rec);
      handler(rec, stream);
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    requests,
    get sessions() {
      return sessions;
    },
    setHandler(h) {
      handler = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        // The proxy keeps its pooled connection open: close it from this side.
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
