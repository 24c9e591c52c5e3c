/**
 * Edge hardening: what a listener's HTTP settings mean on the hot path, resolved once per
 * snapshot (EdgeSettings), and the checks every request passes before it is routed
 * (checkRequest). Node's strict parser (llhttp, never insecureHTTPParser) has already refused
 * most malformed framing by then (the listener's clientError handler answers those); these are
 * the cases llhttp accepts and Envoy refuses. docs/security.md lists every refusal and why.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type * as ir from '../ir/index.js';
import type { LocalReply } from './local-reply.js';
import { isHttp2 } from './http2/server.js';

/** EdgeSettings are one listener's HTTP settings in the form the request path reads them. */
export interface EdgeSettings {
  /** http is the listener's settings as the snapshot gave them (the listener applies the socket-level ones). */
  readonly http: ir.HttpSettings;
  /** maxRawHeaders is 2 × maxHeadersCount, compared with req.rawHeaders.length. */
  readonly maxRawHeaders: number;
  readonly acceptHttp10: boolean;
  readonly underscores: ir.HttpSettings['headersWithUnderscoresAction'];
  readonly useRemoteAddress: boolean;
  readonly xffNumTrustedHops: number;
  readonly skipXffAppend: boolean;
  readonly generateRequestId: boolean;
  /**
   * external: the listener faces untrusted clients (anything but a sidecar's inbound listener,
   * whose callers are mesh peers): client-sent x-envoy-* headers are stripped and
   * x-envoy-external-address is set, as Envoy does for an edge request.
   */
  readonly external: boolean;
}

/** edgeSettings resolves a listener's settings once per snapshot. */
export function edgeSettings(l: ir.Listener): EdgeSettings {
  const h = l.http;
  return {
    http: h,
    maxRawHeaders: 2 * h.maxHeadersCount,
    acceptHttp10: h.acceptHttp10,
    underscores: h.headersWithUnderscoresAction,
    useRemoteAddress: h.useRemoteAddress,
    xffNumTrustedHops: h.xffNumTrustedHops,
    skipXffAppend: h.skipXffAppend,
    generateRequestId: h.generateRequestId,
    external: l.inbound === undefined,
  };
}

const refusal = (status: number, body: string, details: string): LocalReply => ({ status, body, details });

/**
 * Refusals are the local replies for requests refused at the edge. Bodies are the reason phrase,
 * as Envoy's codec errors; details follow Envoy's response code details. Every one is sent with
 * `connection: close`: after a refused request the rest of the connection cannot be trusted.
 */
export const Refusals = {
  /** HTTP/0.9, or a version Node parsed that HTTP/1 cannot carry (`HTTP/2.0` in text). */
  badVersion: refusal(400, 'Bad Request', 'http1.codec_error'),
  /** HTTP/1.0 (or 0.9) on a listener with acceptHttp10 false: Envoy answers 426. */
  http10: refusal(426, 'Upgrade Required', 'http1.http_10_not_supported'),
  tooManyHeaders: refusal(431, 'Request Header Fields Too Large', 'http1.too_many_headers'),
  headersTooLarge: refusal(431, 'Request Header Fields Too Large', 'http1.headers_too_large'),
  /** A transfer-encoding other than exactly `chunked`, or any transfer-encoding on HTTP/1.0. */
  transferEncoding: refusal(400, 'Bad Request', 'http1.invalid_transfer_encoding'),
  duplicateHost: refusal(400, 'Bad Request', 'http1.duplicate_host'),
  invalidHost: refusal(400, 'Bad Request', 'http1.invalid_characters'),
  underscore: refusal(400, 'Bad Request', 'http1.unexpected_underscore'),
  /** The client sent no complete headers within requestHeadersTimeout. */
  requestHeadersTimeout: refusal(408, 'request header timeout', 'request_header_timeout'),
  /** Nothing moved either way for streamIdleTimeout before the response began. */
  streamIdleTimeout: refusal(408, 'stream timeout', 'stream_idle_timeout'),
  /** Anything else llhttp refuses (the clientError path). */
  codecError: refusal(400, 'Bad Request', 'http1.codec_error'),
  /** An HTTP/2 request with neither :authority nor host. */
  missingHost: refusal(400, 'Bad Request', 'missing_host_header'),
  /** An HTTP/2 request whose host header names another authority than :authority (RFC 9113 §8.3.1). */
  hostAuthorityMismatch: refusal(400, 'Bad Request', 'http2.host_authority_mismatch'),
};

/**
 * AUTHORITY is what a Host value may contain: RFC 3986 authority characters, as Envoy checks
 * `:authority` (nghttp2_check_authority). Spaces, controls, `/`, `?`, `#`, quotes do not belong.
 */
const AUTHORITY = /^[A-Za-z0-9\-._~!$&'()*+,;=:[\]@%]*$/;

/**
 * checkRequest runs the edge checks on a request Node has parsed, before routing. It returns
 * the refusal to answer with, or undefined; onDropped is told how many headers a DROP_HEADER
 * listener removed. The common case costs a few property reads and one pass over the header
 * names that compares lengths.
 */
export function checkRequest(req: IncomingMessage, e: EdgeSettings, onDropped?: (n: number) => void): LocalReply | undefined {
  if (isHttp2(req)) return checkH2Request(req, e, onDropped);
  if (req.httpVersionMajor !== 1) return req.httpVersionMajor === 0 && !e.acceptHttp10 ? Refusals.http10 : Refusals.badVersion;
  const http10 = req.httpVersionMinor === 0;
  if (http10 && !e.acceptHttp10) return Refusals.http10;
  const raw = req.rawHeaders;
  // Node's own maxHeadersCount truncates silently; rawHeaders always holds every header.
  if (raw.length > e.maxRawHeaders) return Refusals.tooManyHeaders;
  const headers = req.headers;
  const te = headers['transfer-encoding'];
  // llhttp refuses transfer-encoding with content-length, and a final coding other than chunked;
  // it accepts `gzip, chunked`, `x` + `chunked` on two lines and chunked on HTTP/1.0 (which RFC
  // 9112 §6.1 calls faulty framing). Envoy accepts only exactly `chunked`.
  if (te !== undefined && (http10 || !isChunked(te))) return Refusals.transferEncoding;
  let hosts = 0;
  let underscore = false;
  const checkUnderscores = e.underscores !== 'ALLOW';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && (name === 'Host' || name === 'host' || name.toLowerCase() === 'host')) hosts++;
    else if (checkUnderscores && name.includes('_')) underscore = true;
  }
  // RFC 9112 §3.2: a request with more than one Host gets 400 (Node keeps the first silently).
  if (hosts > 1) return Refusals.duplicateHost;
  const host = headers.host;
  if (host !== undefined && !AUTHORITY.test(host)) return Refusals.invalidHost;
  if (underscore) {
    if (e.underscores === 'REJECT_REQUEST') return Refusals.underscore;
    const n = dropUnderscoreHeaders(req);
    onDropped?.(n);
  }
  return undefined;
}

/**
 * checkH2Request runs the edge checks on an HTTP/2 request. nghttp2 has already refused bad
 * framing, pseudo-headers and connection-specific headers (transfer-encoding among them); what
 * is left is what HTTP/1 checks too: the header count, the authority, underscores.
 */
function checkH2Request(req: IncomingMessage, e: EdgeSettings, onDropped?: (n: number) => void): LocalReply | undefined {
  const raw = req.rawHeaders;
  let count = 0;
  // HPACK's measure of a header list (RFC 7541 §4.1): nghttp2 applies the listener's
  // SETTINGS_MAX_HEADER_LIST_SIZE only once the client has acknowledged it, so the first
  // requests on a connection are measured here.
  let size = 0;
  let underscore = false;
  const checkUnderscores = e.underscores !== 'ALLOW';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    size += name.length + raw[i + 1]!.length + 32;
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    count += 2;
    if (checkUnderscores && name.includes('_')) underscore = true;
  }
  if (count > e.maxRawHeaders) return Refusals.tooManyHeaders;
  if (size > e.http.maxRequestHeadersBytes) return Refusals.headersTooLarge;
  const authority = req.headers[':authority'] as string | undefined;
  const host = req.headers.host;
  if (authority === undefined && host === undefined) return Refusals.missingHost;
  if (authority !== undefined && host !== undefined && authority.toLowerCase() !== host.toLowerCase()) return Refusals.hostAuthorityMismatch;
  if (!AUTHORITY.test(authority ?? host!)) return Refusals.invalidHost;
  if (underscore) {
    if (e.underscores === 'REJECT_REQUEST') return Refusals.underscore;
    onDropped?.(dropUnderscoreHeaders(req));
  }
  return undefined;
}

/** isChunked tells a transfer-encoding value that is exactly `chunked` (case-insensitive). */
function isChunked(te: string): boolean {
  return te === 'chunked' || (te.length === 7 && te.toLowerCase() === 'chunked');
}

/**
 * dropUnderscoreHeaders removes every header whose name has an underscore, before routing sees
 * it, as Envoy's DROP_HEADER does in the codec. Only runs when there is one to drop.
 */
function dropUnderscoreHeaders(req: IncomingMessage): number {
  const raw = req.rawHeaders;
  const kept: string[] = [];
  let dropped = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.includes('_')) {
      delete req.headers[name.toLowerCase()];
      dropped++;
    } else kept.push(name, raw[i + 1]!);
  }
  // An HTTP/2 request's rawHeaders is a getter: define the property rather than assign it.
  Object.defineProperty(req, 'rawHeaders', { value: kept, configurable: true });
  return dropped;
}

/**
 * trustedClientAddress is Envoy's "trusted client address" for a listener with
 * useRemoteAddress: with xffNumTrustedHops = n > 0, the nth x-forwarded-for entry from the right
 * of what the client sent (getLastAddressFromXFF skipping n − 1), if it is an IP address;
 * otherwise the connection's peer.
 */
export function trustedClientAddress(xff: string | undefined, trustedHops: number, remote: string): string {
  if (trustedHops === 0 || xff === undefined) return remote;
  const entry = xffEntryFromRight(xff, trustedHops - 1);
  return entry !== undefined && isIP(entry) !== 0 ? entry : remote;
}

/** xffEntryFromRight is the x-forwarded-for entry after skipping `skip` from the right, trimmed. */
export function xffEntryFromRight(xff: string, skip: number): string | undefined {
  let end = xff.length;
  for (let k = 0; k < skip; k++) {
    const comma = end > 0 ? xff.lastIndexOf(',', end - 1) : -1;
    if (comma < 0) return undefined;
    end = comma;
  }
  const comma = end > 0 ? xff.lastIndexOf(',', end - 1) : -1;
  return xff.slice(comma + 1, end).trim();
}
