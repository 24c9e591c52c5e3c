// A bundled httpbin-compatible upstream (response shapes modelled on mccutchen/go-httpbin),
// so tests, examples and demos have a known backend to route to. Built on node:http only.
// This module owns the route table, request echoing, and the server's lifecycle.

import { randomUUID } from 'node:crypto';
import {
  createServer,
  STATUS_CODES,
  validateHeaderName,
  validateHeaderValue,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpbinOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 8000; 0 picks an ephemeral port
}

export interface Httpbin {
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const MAX_BODY_BYTES = 1024 * 1024;
// Like the original httpbin, /delay is clamped rather than rejected; clamping also keeps the
// value far below setTimeout's 2^31 ms limit, past which Node would fire almost immediately.
const MAX_DELAY_SECONDS = 10;

// url.Values / http.Header in go-httpbin: every value is a list. Built by sortedMulti on a
// null-prototype object, so a query key "__proto__" is an ordinary key, not a prototype swap.
type Multi = Record<string, string[]>;

function addMulti(target: Multi, key: string, value: string): void {
  (target[key] ??= []).push(value);
}

// Go's encoding/json writes map keys sorted, so do the same for stable, comparable output.
function sortedMulti(entries: Iterable<[string, string]>): Multi {
  const out: Multi = Object.create(null) as Multi;
  for (const [k, v] of [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    addMulti(out, k, v);
  }
  return out;
}

// Go's textproto.CanonicalMIMEHeaderKey: first letter and every letter after '-' upper-cased,
// the rest lower-cased. Node's parser has already rejected names with non-token bytes (the
// only case where Go leaves a name untouched).
function canonicalHeaderKey(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase());
}

interface Target {
  path: string;
  query: string; // without the leading '?'
  host: string;
}

// Split the request target by hand: new URL() would read "//x/y" as host "x", and an
// absolute-form target (as sent to proxies) carries its own host, which Go prefers too.
function parseTarget(req: IncomingMessage): Target {
  let raw = req.url ?? '/';
  let host = req.headers.host ?? '';
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)(.*)$/i.exec(raw);
  if (absolute) {
    host = absolute[1] ?? host;
    raw = absolute[2] || '/';
  }
  const q = raw.indexOf('?');
  return q < 0 ? { path: raw, query: '', host } : { path: raw.slice(0, q), query: raw.slice(q + 1), host };
}

// Request headers as go-httpbin reports them: canonical names, list values in arrival order
// (rawHeaders keeps repeats that req.headers would join), and Host set from the request.
function requestHeaders(req: IncomingMessage, target: Target): Multi {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = canonicalHeaderKey(req.rawHeaders[i] ?? '');
    if (name !== 'Host') pairs.push([name, req.rawHeaders[i + 1] ?? '']);
  }
  pairs.push(['Host', target.host]);
  // Stable sort by name keeps the arrival order of repeated headers.
  return sortedMulti(pairs);
}

// First X-Forwarded-For entry when present (trivially spoofable, as in go-httpbin), else the peer.
function clientIP(req: IncomingMessage): string {
  const forwarded = req.headers['x-forwarded-for'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  if (first) return first;
  const addr = req.socket.remoteAddress ?? '';
  // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; Go prints them as a.b.c.d.
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

function fullURL(req: IncomingMessage, target: Target): string {
  const proto = req.headers['x-forwarded-proto'];
  const scheme = (Array.isArray(proto) ? proto[0] : proto) || 'http';
  return `${scheme}://${target.host}${target.path}${target.query ? `?${target.query}` : ''}`;
}

// URLSearchParams never throws: malformed escapes such as %zz are kept literally.
function parseArgs(query: string): Multi {
  return sortedMulti(new URLSearchParams(query));
}

function echo(req: IncomingMessage, target: Target) {
  return {
    args: parseArgs(target.query),
    headers: requestHeaders(req, target),
    method: req.method ?? 'GET',
    origin: clientIP(req),
    url: fullURL(req, target),
  };
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

// Pretty-printed with a trailing newline, matching go-httpbin's json.Encoder output.
function sendJSON(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON_TYPE, `${JSON.stringify(value, null, 2)}\n`);
}

// go-httpbin's error body shape.
function sendError(res: ServerResponse, status: number, detail?: string): void {
  sendJSON(res, status, { status_code: status, error: STATUS_CODES[status] ?? 'Error', ...(detail ? { detail } : {}) });
}

class BodyTooLarge extends Error {}

// Reads the whole body up to MAX_BODY_BYTES. Past the cap it keeps reading but discards, so the
// 413 can be delivered: closing a socket with unread input makes the kernel send RST, and the
// client may then lose the response.
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (size > MAX_BODY_BYTES) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        chunks.length = 0;
        reject(new BodyTooLarge());
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    // 'close' before 'end' means the client went away mid-body; once settled this is a no-op.
    req.on('close', () => reject(new Error('request closed before its body was complete')));
  });
}

async function echoWithBody(req: IncomingMessage, res: ServerResponse, target: Target): Promise<void> {
  const body = await readBody(req);
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  const data = body.toString('utf8');
  let form: Multi = Object.create(null) as Multi;
  let json: unknown = null;
  if (body.length > 0 && mediaType === 'application/x-www-form-urlencoded') {
    form = sortedMulti(new URLSearchParams(data));
  } else if (body.length > 0 && mediaType === 'application/json') {
    // go-httpbin answers 400 here; this app reports json: null so callers still see the echo.
    try {
      json = JSON.parse(data) as unknown;
    } catch {
      json = null;
    }
  }
  sendJSON(res, 200, { ...echo(req, target), data, files: {}, form, json });
}

// Extra headers/bodies go-httpbin adds for some codes (a subset of its table).
const REDIRECT = { headers: { Location: '/redirect/1' } };
const STATUS_EXTRAS: Record<number, { headers?: Record<string, string>; body?: string }> = {
  300: { headers: { Location: '/image/jpeg' } },
  301: REDIRECT,
  302: REDIRECT,
  303: REDIRECT,
  305: REDIRECT,
  307: REDIRECT,
  308: { headers: { Location: '/image/jpeg' } },
  401: { headers: { 'WWW-Authenticate': 'Basic realm="Fake Realm"' } },
  407: { headers: { 'Proxy-Authenticate': 'Basic realm="Fake Realm"' } },
  418: { headers: { 'X-More-Info': 'http://tools.ietf.org/html/rfc2324' }, body: "I'm a teapot!" },
  429: { headers: { 'Retry-After': '5' } },
};

function parseStatusCode(raw: string): number | undefined {
  if (!/^\d{3}$/.test(raw)) return undefined;
  const code = Number(raw);
  return code >= 100 && code <= 599 ? code : undefined;
}

// "200" or go-httpbin's weighted choice "200:0.9,500:0.1" (weight defaults to 1).
function chooseStatus(raw: string): number | undefined {
  const choices: { code: number; weight: number }[] = [];
  for (const part of raw.split(',')) {
    const [rawCode = '', rawWeight] = part.split(':', 2);
    const code = parseStatusCode(rawCode);
    const weight = rawWeight === undefined ? 1 : Number(rawWeight);
    if (code === undefined || rawWeight === '' || !Number.isFinite(weight) || weight < 0) return undefined;
    choices.push({ code, weight });
  }
  const total = choices.reduce((sum, c) => sum + c.weight, 0);
  if (total <= 0) return undefined;
  let pick = Math.random() * total;
  for (const c of choices) {
    if (pick < c.weight) return c.code;
    pick -= c.weight;
  }
  return choices[choices.length - 1]?.code;
}

function status(res: ServerResponse, raw: string): void {
  const code = chooseStatus(raw);
  if (code === undefined) return sendError(res, 400, `invalid status code: ${JSON.stringify(raw)}`);
  if (code < 200 && code !== 101) {
    // Node's writeHead(1xx) would be taken as the final response and leave the client waiting.
    // Go sends a 1xx as an informational line and then a 200, so do that: nothing of this
    // response has been written yet, so a raw write lands in the right place.
    res.socket?.write(`HTTP/1.1 ${code} ${STATUS_CODES[code] ?? 'Informational'}\r\n\r\n`);
    return send(res, 200, TEXT_TYPE, '');
  }
  // A final 101 switches the connection to a protocol nobody will speak; close it after
  // replying so the client errors out instead of waiting forever.
  if (code === 101) res.setHeader('Connection', 'close');
  const extra = STATUS_EXTRAS[code];
  for (const [k, v] of Object.entries(extra?.headers ?? {})) res.setHeader(k, v);
  send(res, code, TEXT_TYPE, extra?.body ?? '');
}

function parseDelaySeconds(raw: string): number | undefined {
  if (!/^(\d+\.?\d*|\.\d+)$/.test(raw)) return undefined;
  return Math.min(Number(raw), MAX_DELAY_SECONDS);
}

// Caller-chosen content types (e.g. text/html) could make a browser render the echoed query as
// markup, so go-httpbin HTML-escapes the body then; so does this.
function escapeHTML(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// Headers whose value must agree with how Node frames the response; setting them from a query
// string would corrupt the connection rather than test anything.
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'upgrade', 'trailer']);

function responseHeaders(res: ServerResponse, target: Target): void {
  const pairs = [...new URLSearchParams(target.query)];
  if (!pairs.some(([k]) => k.toLowerCase() === 'content-type')) pairs.push(['Content-Type', JSON_TYPE]);
  const args = sortedMulti(pairs);
  // Node's header store is case-insensitive, so merge keys that differ only in case before setting.
  const byName = new Map<string, { name: string; values: string[] }>();
  for (const [name, values] of Object.entries(args)) {
    const entry = byName.get(name.toLowerCase()) ?? { name, values: [] };
    entry.values.push(...values);
    byName.set(name.toLowerCase(), entry);
  }
  try {
    for (const [lower, { name, values }] of byName) {
      if (FRAMING_HEADERS.has(lower)) throw new Error(`refusing to set framing header ${name}`);
      validateHeaderName(name);
      for (const v of values) validateHeaderValue(name, v);
    }
  } catch (err) {
    return sendError(res, 400, (err as Error).message);
  }
  for (const { name, values } of byName.values()) res.setHeader(name, values.length === 1 ? values[0]! : values);
  const contentType = String(res.getHeader('content-type'));
  let body: Multi = args;
  if (!/^(application\/json|text\/plain)\b/i.test(contentType)) {
    body = sortedMulti(Object.entries(args).flatMap(([k, vs]) => vs.map((v): [string, string] => [escapeHTML(k), escapeHTML(v)])));
  }
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

type Handler = (req: IncomingMessage, res: ServerResponse, target: Target, rest: string[]) => void | Promise<void>;

interface Route {
  methods?: string[]; // undefined: any method
  params: number | 'any'; // number of path segments after the first; 'any' for /anything/*
  handle: Handler;
}

const READ = ['GET', 'HEAD'];

function withBodyRoute(method: string): Route {
  return { methods: [method], params: 0, handle: (req, res, t) => echoWithBody(req, res, t) };
}

function createRoutes(delays: Set<() => void>): Map<string, Route> {
  return new Map<string, Route>([
    ['headers', { methods: READ, params: 0, handle: (req, res, t) => sendJSON(res, 200, { headers: requestHeaders(req, t) }) }],
    ['get', { methods: READ, params: 0, handle: (req, res, t) => sendJSON(res, 200, echo(req, t)) }],
    ['anything', { params: 'any', handle: (req, res, t) => echoWithBody(req, res, t) }],
    ['post', withBodyRoute('POST')],
    ['put', withBodyRoute('PUT')],
    ['patch', withBodyRoute('PATCH')],
    ['delete', withBodyRoute('DELETE')],
    ['status', { params: 1, handle: (_req, res, _t, [code = '']) => status(res, code) }],
    ['ip', { methods: READ, params: 0, handle: (req, res) => sendJSON(res, 200, { origin: clientIP(req) }) }],
    ['uuid', { methods: READ, params: 0, handle: (_req, res) => sendJSON(res, 200, { uuid: randomUUID() }) }],
    ['response-headers', { methods: [...READ, 'POST'], params: 0, handle: (_req, res, t) => responseHeaders(res, t) }],
    [
      'delay',
      {
        params: 1,
        handle: (req, res, t, [raw = '']) => {
          const seconds = parseDelaySeconds(raw);
          if (seconds === undefined) return sendError(res, 400, `invalid delay: ${JSON.stringify(raw)}`);
          return new Promise<void>((resolve) => {
            // Cancelled when the client goes away (res 'close') or the server shuts down
            // (close() runs every pending cancel), so no timer outlives its request.
            const cancel = (): void => {
              clearTimeout(timer);
              delays.delete(cancel);
              res.off('close', cancel);
              resolve();
            };
            const timer = setTimeout(() => {
              cancel();
              sendJSON(res, 200, echo(req, t));
            }, seconds * 1000);
            delays.add(cancel);
            res.once('close', cancel);
          });
        },
      },
    ],
  ]);
}

async function dispatch(routes: Map<string, Route>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const target = parseTarget(req);
  const [, first = '', ...rest] = target.path.split('/');
  const route = routes.get(first);
  const shapeOK = route && (route.params === 'any' || rest.length === route.params);
  if (!route || !shapeOK || (route.params !== 'any' && rest.some((s) => s === ''))) {
    return sendError(res, 404);
  }
  if (route.methods && !route.methods.includes(req.method ?? '')) {
    res.setHeader('Allow', route.methods.join(', '));
    return sendError(res, 405);
  }
  await route.handle(req, res, target, rest);
}

export async function startHttpbin(opts: HttpbinOptions = {}): Promise<Httpbin> {
  const host = opts.host ?? '127.0.0.1';
  const delays = new Set<() => void>();
  const routes = createRoutes(delays);

  const server = createServer((req, res) => {
    dispatch(routes, req, res).catch((err: unknown) => {
      if (err instanceof BodyTooLarge && !res.headersSent) {
        // Close after replying so the rest of an oversized upload is not parsed as a new request.
        res.setHeader('Connection', 'close');
        return sendError(res, 413, `request body exceeds ${MAX_BODY_BYTES} bytes`);
      }
      // Any other failure (client vanished mid-body, a bug): answer if still possible, never crash.
      if (!res.headersSent && !res.destroyed) sendError(res, 500);
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8000, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  return {
    port,
    host,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        for (const cancel of [...delays]) cancel();
        server.close((err) => (err ? reject(err) : resolve()));
        // server.close() only drops idle keep-alive sockets; a connection mid-request (or mid
        // half-sent headers) would hold it open until that request ends or times out.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
