/**
 * A real upstream for proxy tests: a node:http server on 127.0.0.1, port 0, that records every
 * request it gets (method, url, headers, body) and answers with a handler the test chooses.
 * The default handler answers 200 `text/plain` with the server's name as the body and in
 * `x-upstream`, so a test can tell which upstream answered.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** RecordedRequest is one request as the upstream received it, body read in full. */
export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: string;
}

/** Handler answers a recorded request; it may be async and may never answer. */
export type Handler = (rec: RecordedRequest, res: ServerResponse, req: IncomingMessage) => void | Promise<void>;

export interface UpstreamServer {
  readonly name: string;
  readonly port: number;
  /** requests holds every request received, in arrival order (recorded once its body is read). */
  readonly requests: RecordedRequest[];
  /** connections counts TCP connections accepted. */
  readonly connections: number;
  setHandler(h: Handler): void;
  close(): Promise<void>;
}

/** respond returns a handler answering a fixed status, body and headers. */
export function respond(status: number, body = '', headers: Record<string, string | string[]> = {}): Handler {
  return (_rec, res) => {
    res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  };
}

export async function startUpstream(name = 'upstream', handler?: Handler): Promise<UpstreamServer> {
  let current: Handler = handler ?? respond(200, name, { 'x-upstream': name });
  const requests: RecordedRequest[] = [];
  let connections = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('end', () => {
      const rec: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(rec);
      Promise.resolve()
        .then(() => current(rec, res, req))
        .catch((err: Error) => {
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`handler failed: ${err.message}`);
        });
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  let closed: Promise<void> | undefined;
  return {
    name,
    port,
    requests,
    get connections() {
      return connections;
    },
    setHandler(h: Handler) {
      current = h;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
