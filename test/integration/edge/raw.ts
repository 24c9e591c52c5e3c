/**
 * Helpers for the edge tests: a raw client connection that shows what the server did (bytes
 * back, closed or not), a parser of the responses on it, and an upstream that records every
 * request twice, when its headers arrive and when its body is complete, so a test can prove that
 * nothing, not even a request the proxy later aborted, reached it.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';

/** RawConn is one client connection driven byte by byte. */
export interface RawConn {
  readonly socket: Socket;
  /** text is everything received so far, latin1. */
  text(): string;
  /** closed tells whether the server closed (or reset) the connection. */
  readonly closed: boolean;
  /** whenClosed resolves with everything received once the connection is closed. */
  readonly whenClosed: Promise<string>;
  write(bytes: string | Buffer): void;
  destroy(): void;
}

/** openRaw connects to 127.0.0.1:port and resolves once connected. */
export function openRaw(port: number): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let closed = false;
    let settle!: (s: string) => void;
    const whenClosed = new Promise<string>((r) => (settle = r));
    const text = () => Buffer.concat(chunks).toString('latin1');
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      settle(text());
    });
    socket.once('connect', () =>
      resolve({
        socket,
        text,
        get closed() {
          return closed;
        },
        whenClosed,
        write: (b) => {
          if (!socket.destroyed) socket.write(b);
        },
        destroy: () => socket.destroy(),
      }),
    );
    socket.once('error', reject);
  });
}

/**
 * exchange writes bytes on a fresh connection and returns everything read until the server
 * closes it. guardMs only keeps a server that never closes from hanging the run: the connection
 * is then destroyed and `closedByServer` is false, for the test to fail on.
 */
export async function exchange(port: number, bytes: string | Buffer, guardMs = 5000): Promise<{ raw: string; closedByServer: boolean }> {
  const c = await openRaw(port);
  let guarded = false;
  const guard = setTimeout(() => {
    guarded = true;
    c.destroy();
  }, guardMs);
  c.write(bytes);
  const raw = await c.whenClosed;
  clearTimeout(guard);
  return { raw, closedByServer: !guarded };
}

/** ParsedResponse is one response read back from raw bytes. */
export interface ParsedResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * parseResponses reads the complete responses at the start of raw response bytes (content-length
 * or chunked bodies; 1xx skipped). A trailing incomplete response is left out.
 */
export function parseResponses(raw: string): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let pos = 0;
  for (;;) {
    const end = raw.indexOf('\r\n\r\n', pos);
    if (end < 0) return out;
    const lines = raw.slice(pos, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (!m) return out;
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
    }
    let p = end + 4;
    if (status < 200) {
      pos = p;
      continue;
    }
    let body = '';
    if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      for (;;) {
        const eol = raw.indexOf('\r\n', p);
        if (eol < 0) return out;
        const size = parseInt(raw.slice(p, eol), 16);
        if (Number.isNaN(size)) return out;
        p = eol + 2;
        if (size === 0) {
          const fin = raw.indexOf('\r\n\r\n', p - 2);
          if (fin < 0) return out;
          p = fin + 4;
          break;
        }
        if (raw.length < p + size + 2) return out;
        body += raw.slice(p, p + size);
        p += size + 2;
      }
    } else {
      const len = Number(headers['content-length'] ?? '0');
      if (raw.length < p + len) return out;
      body = raw.slice(p, p + len);
      p += len;
    }
    out.push({ status, headers, body });
    pos = p;
  }
}

/** statuses lists the status codes of the complete responses in raw bytes. */
export function statuses(raw: string): number[] {
  return parseResponses(raw).map((r) => r.status);
}

/** Arrival is a request whose headers reached the upstream. */
export interface Arrival {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
}

/** Completed is a request the upstream read in full. */
export interface Completed extends Arrival {
  readonly body: Buffer;
}

export type RecorderHandler = (req: Completed, res: ServerResponse, raw: IncomingMessage) => void | Promise<void>;

export interface Recorder {
  readonly port: number;
  /** arrivals are requests whose headers arrived, in order. */
  readonly arrivals: Arrival[];
  /** completed are requests whose body was read in full, in order. */
  readonly completed: Completed[];
  /** active counts requests that arrived and have neither completed nor been aborted. */
  readonly active: number;
  setHandler(h: RecorderHandler): void;
  close(): Promise<void>;
}

/** startRecorder starts the recording upstream; by default it answers 200 `ok`. */
export async function startRecorder(): Promise<Recorder> {
  const arrivals: Arrival[] = [];
  const completed: Completed[] = [];
  let active = 0;
  let handler: RecorderHandler = (_c, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
    res.end('ok');
  };
  const server: Server = createServer((req, res) => {
    const a: Arrival = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders };
    arrivals.push(a);
    active++;
    let open = true;
    const done = () => {
      if (open) (open = false), active--;
    };
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', done);
    req.on('close', done);
    req.on('end', () => {
      const c: Completed = { ...a, body: Buffer.concat(chunks) };
      completed.push(c);
      done();
      Promise.resolve()
        .then(() => handler(c, res, req))
        .catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const port = (server.address() as { port: number }).port;
  let closed: Promise<void> | undefined;
  return {
    port,
    arrivals,
    completed,
    get active() {
      return active;
    },
    setHandler(h) {
      handler = h;
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
