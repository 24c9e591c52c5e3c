/**
 * WebSocket test helpers (Node 20 has no WebSocket server): a tiny RFC 6455 echo server on
 * node:http's 'upgrade' event, recording every upgrade request and plain request it gets, and a
 * raw client that sends a handshake byte for byte and reads frames back, for the tests that must
 * control or see exactly what goes on the wire. Frames are parsed minimally: no extensions, each
 * frame handled on its own (echoing frame by frame keeps fragmented messages valid).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';

/** WS_GUID is RFC 6455's magic string for Sec-WebSocket-Accept. */
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const OP = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** acceptFor is the Sec-WebSocket-Accept answering a Sec-WebSocket-Key. */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

export interface Frame {
  readonly fin: boolean;
  readonly opcode: number;
  readonly payload: Buffer;
}

/** encodeFrame builds one frame; a client's frames are masked (RFC 6455 §5.3), a server's not. */
export function encodeFrame(opcode: number, payload: Buffer | string, opts: { mask?: boolean; fin?: boolean } = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const mask = opts.mask ?? false;
  const len = data.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (mask ? 4 : 0));
  head[0] = ((opts.fin ?? true) ? 0x80 : 0) | opcode;
  head[1] = (mask ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  else if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!mask) return Buffer.concat([head, data]);
  const key = randomBytes(4);
  key.copy(head, 2 + ext);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = data[i]! ^ key[i & 3]!;
  return Buffer.concat([head, masked]);
}

/** FrameReader parses frames out of a byte stream that may split them anywhere. */
export class FrameReader {
  #buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    const out: Frame[] = [];
    for (;;) {
      const b = this.#buf;
      if (b.length < 2) return out;
      const masked = (b[1]! & 0x80) !== 0;
      let len = b[1]! & 0x7f;
      let p = 2;
      if (len === 126) {
        if (b.length < 4) return out;
        len = b.readUInt16BE(2);
        p = 4;
      } else if (len === 127) {
        if (b.length < 10) return out;
        len = Number(b.readBigUInt64BE(2));
        p = 10;
      }
      const keyAt = p;
      if (masked) p += 4;
      if (b.length < p + len) return out;
      const payload = Buffer.from(b.subarray(p, p + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] = payload[i]! ^ b[keyAt + (i & 3)]!;
      out.push({ fin: (b[0]! & 0x80) !== 0, opcode: b[0]! & 0x0f, payload });
      this.#buf = b.subarray(p + len);
    }
  }
}

/** RecordedUpgrade is an upgrade request as the echo server received it. */
export interface RecordedUpgrade {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
}

/** Refusal is a plain answer the echo server gives instead of switching protocols. */
export interface Refusal {
  readonly status: number;
  readonly body: string;
}

export interface WsEchoServer {
  readonly port: number;
  /** upgrades are the upgrade requests received, in order (refused ones too). */
  readonly upgrades: RecordedUpgrade[];
  /** plain are the requests received without an upgrade (answered 200 `plain`). */
  readonly plain: RecordedUpgrade[];
  /** open are the upgraded connections open now. */
  readonly open: ReadonlySet<Socket>;
  /** refuse decides, per upgrade request, to answer with a plain response instead (undefined: upgrade). */
  refuse: (req: IncomingMessage) => Refusal | undefined;
  /** closeAll closes every upgraded connection from the server's side (a close frame, then FIN). */
  closeAll(): void;
  close(): Promise<void>;
}

/**
 * startWsEcho starts the echo server on 127.0.0.1. It answers a handshake with 101, the
 * Sec-WebSocket-Accept for the key, the first subprotocol offered, and a hop-by-hop header the
 * proxy must not relay; then it echoes text, binary and continuation frames, answers pings, and
 * answers a close frame with one of its own before closing.
 */
export async function startWsEcho(): Promise<WsEchoServer> {
  const upgrades: RecordedUpgrade[] = [];
  const plain: RecordedUpgrade[] = [];
  const open = new Set<Socket>();
  const server = createServer((req, res) => {
    plain.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5 });
      res.end('plain');
    });
  });
  const echo: WsEchoServer = {
    port: 0,
    upgrades,
    plain,
    open,
    refuse: () => undefined,
    closeAll() {
      for (const s of open) s.end(encodeFrame(OP.close, Buffer.from([0x03, 0xe9]))); // 1001 going away
    },
    close() {
      for (const s of open) s.destroy();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    upgrades.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
    const refusal = echo.refuse(req);
    const key = req.headers['sec-websocket-key'];
    if (refusal || typeof key !== 'string') {
      const r = refusal ?? { status: 400, body: 'no key' };
      socket.end(`HTTP/1.1 ${r.status} Nope\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(r.body)}\r\nconnection: close\r\n\r\n${r.body}`);
      return;
    }
    const proto = req.headers['sec-websocket-protocol']?.split(',')[0]?.trim();
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\n' +
        `Sec-WebSocket-Accept: ${acceptFor(key)}\r\n${proto ? `Sec-WebSocket-Protocol: ${proto}\r\n` : ''}X-Echo-Server: yes\r\n\r\n`,
    );
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    const reader = new FrameReader();
    const onBytes = (chunk: Buffer) => {
      for (const f of reader.push(chunk)) {
        if (f.opcode === OP.close) {
          socket.end(encodeFrame(OP.close, f.payload.subarray(0, 2)));
          return;
        }
        if (f.opcode === OP.ping) socket.write(encodeFrame(OP.pong, f.payload));
        else if (f.opcode !== OP.pong) socket.write(encodeFrame(f.opcode, f.payload, { fin: f.fin }));
      }
    };
    if (head.length) onBytes(head);
    socket.on('data', onBytes);
    // A client that half-closes gets the same: the conversation is over.
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  (echo as { port: number }).port = (server.address() as { port: number }).port;
  return echo;
}

/** RawWs is a client connection after its handshake's response head arrived. */
export interface RawWs {
  readonly socket: Socket;
  readonly status: number;
  /** headers are the response's, names in lower case (repeated ones joined by `, `). */
  readonly headers: Record<string, string>;
  /** head is the response's status line and header lines, as received. */
  readonly head: string;
  /** key is the Sec-WebSocket-Key the client sent. */
  readonly key: string;
  /** whenClosed resolves with every byte received (latin1), head included, once the connection closed. */
  readonly whenClosed: Promise<string>;
  readonly closed: boolean;
  /** send writes a masked frame. */
  send(opcode: number, payload: Buffer | string): void;
  /** next resolves with the next frame from the server. */
  next(): Promise<Frame>;
}

export interface RawWsOptions {
  /** host is the Host header (default `ws.example`); null sends none. */
  readonly host?: string | null;
  /** upgrade is the Upgrade header (default `websocket`). */
  readonly upgrade?: string;
  readonly method?: string;
  /** headers are extra header lines, as [name, value] pairs. */
  readonly headers?: readonly (readonly [string, string])[];
  /** after is written in the same write as the handshake, right after it. */
  readonly after?: Buffer | string;
}

/**
 * openWs connects to 127.0.0.1:port, sends a WebSocket handshake for target (written as is in
 * the request line) and resolves once a response head arrived, or the connection closed
 * without one (status 0).
 */
export function openWs(port: number, target: string, opts: RawWsOptions = {}): Promise<RawWs> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const reader = new FrameReader();
    const frames: Frame[] = [];
    const waiting: ((f: Frame) => void)[] = [];
    let closed = false;
    let settleClosed!: (s: string) => void;
    const whenClosed = new Promise<string>((r) => (settleClosed = r));
    let headEnd = -1;
    const all = () => Buffer.concat(chunks);
    const deliver = (bytes: Buffer) => {
      for (const f of reader.push(bytes)) {
        const w = waiting.shift();
        if (w) w(f);
        else frames.push(f);
      }
    };
    const done = (status: number, headers: Record<string, string>, head: string) =>
      resolve({
        socket,
        status,
        headers,
        head,
        key,
        whenClosed,
        get closed() {
          return closed;
        },
        send: (opcode, payload) => {
          if (!socket.destroyed) socket.write(encodeFrame(opcode, payload, { mask: true }));
        },
        next: () => {
          const f = frames.shift();
          if (f) return Promise.resolve(f);
          if (closed) return Promise.reject(new Error('connection closed'));
          return new Promise<Frame>((r) => waiting.push(r));
        },
      });
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (headEnd >= 0) return deliver(c);
      const text = all().toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = text.slice(0, end);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const line of head.split('\r\n').slice(1)) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
      }
      headEnd = end + 4;
      const rest = all().subarray(headEnd);
      if (status === 101 && rest.length) deliver(rest);
      done(status, headers, head);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      for (const w of waiting.splice(0)) w({ fin: true, opcode: -1, payload: Buffer.alloc(0) });
      settleClosed(all().toString('latin1'));
      if (headEnd < 0) done(0, {}, '');
    });
    socket.once('connect', () => {
      const lines = [`${opts.method ?? 'GET'} ${target} HTTP/1.1`];
      if (opts.host !== null) lines.push(`Host: ${opts.host ?? 'ws.example'}`);
      lines.push('Connection: Upgrade', `Upgrade: ${opts.upgrade ?? 'websocket'}`, 'Sec-WebSocket-Version: 13', `Sec-WebSocket-Key: ${key}`);
      for (const [n, v] of opts.headers ?? []) lines.push(`${n}: ${v}`);
      const handshake = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
      const after = opts.after === undefined ? Buffer.alloc(0) : Buffer.from(opts.after);
      socket.write(Buffer.concat([handshake, after]));
    });
    socket.once('error', reject);
  });
}
