/**
 * Local replies: responses the proxy makes itself, with the status codes and bodies Envoy writes
 * (gloo-compat.md §6), so scripts and alerts written against Gloo keep working.
 */
import type { ServerResponse } from 'node:http';
import { isHttp2, respondTrailersOnly } from './http2/server.js';

/** LocalReply is a response the proxy answers with instead of forwarding. */
export interface LocalReply {
  readonly status: number;
  readonly body: string;
  /** details is Envoy's response-code-details string, kept for logs and stats. */
  readonly details: string;
}

const reply = (status: number, body: string, details: string): LocalReply => ({ status, body, details });

/** UPSTREAM_RESET_PREFIX starts every "reset before headers" reply Envoy writes. */
export const UPSTREAM_RESET_PREFIX = 'upstream connect error or disconnect/reset before headers. reset reason: ';

export const LocalReply = {
  /** notFound: no virtual host or no route matched; Envoy answers 404 with an empty body. */
  notFound: reply(404, '', 'route_not_found'),
  /** clusterNotFound: the route names an upstream that does not exist (Gloo: Warning, 503). */
  clusterNotFound: reply(503, '', 'cluster_not_found'),
  /** noHealthyUpstream: the upstream has no endpoints (Envoy flag UH). */
  noHealthyUpstream: reply(503, 'no healthy upstream', 'no_healthy_upstream'),
  /** upstreamTimeout: the route timeout passed before the response began (Envoy flag UT). */
  upstreamTimeout: reply(504, 'upstream request timeout', 'upstream_response_timeout'),
  /** upstreamReset: the connection failed or closed before response headers (Envoy flags UF/UC). */
  upstreamReset(reason: 'connection failure' | 'connection termination' | 'overflow' | 'protocol error', transportFailure?: string): LocalReply {
    const body = UPSTREAM_RESET_PREFIX + reason + (transportFailure ? `, transport failure reason: ${transportFailure}` : '');
    return reply(503, body, `upstream_reset_before_response_started{${reason.replace(/ /g, '_')}}`);
  },
  /** badRequest: the request could not be understood. */
  badRequest: reply(400, 'Bad Request', 'bad_request'),
  direct(status: number, body: string | undefined): LocalReply {
    return reply(status, body ?? '', 'direct_response');
  },
};

/**
 * sendLocalReply writes a local reply; a reply with a body is text/plain, as Envoy's. A gRPC
 * request (content-type application/grpc...) gets it as gRPC, as Envoy answers one: HTTP 200,
 * trailers-only, the status mapped to a gRPC code and the body as grpc-message. On HTTP/2,
 * connection headers (`connection: close`) are left out: the reply ends its stream only.
 */
export function sendLocalReply(res: ServerResponse, r: LocalReply, extraHeaders?: Record<string, string>): void {
  if (res.headersSent) {
    // Too late for a status: the client already has one. Reset, as Envoy does mid-stream.
    res.destroy();
    return;
  }
  const req = res.req as ServerResponse['req'] | undefined;
  const h2 = req !== undefined && isHttp2(req);
  const extra = h2 && extraHeaders?.connection !== undefined ? withoutConnection(extraHeaders) : extraHeaders;
  if (isGrpc(req?.headers['content-type'])) {
    const headers: Record<string, string | number> = { ...extra, 'content-type': 'application/grpc', 'grpc-status': grpcStatusOf(r.status) };
    if (r.body) headers['grpc-message'] = encodeGrpcMessage(r.body);
    if (h2) return respondTrailersOnly(res, 200, headers);
    // No body: content-length 0 keeps HTTP/1 framing exact.
    headers['content-length'] = 0;
    res.writeHead(200, headers);
    res.end();
    return;
  }
  const headers: Record<string, string | number> = { 'content-length': Buffer.byteLength(r.body), ...extra };
  if (r.body) headers['content-type'] = 'text/plain';
  res.writeHead(r.status, headers);
  res.end(r.body);
}

function withoutConnection(h: Record<string, string>): Record<string, string> {
  const { connection: _, ...rest } = h;
  return rest;
}

/** isGrpc tells a gRPC request by its content-type (`application/grpc`, `application/grpc+proto`, ...). */
export function isGrpc(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.startsWith('application/grpc') && !contentType.startsWith('application/grpc-web');
}

/** grpcStatusOf maps an HTTP status to a gRPC status code as Envoy does (Grpc::Utility::httpToGrpcStatus). */
export function grpcStatusOf(http: number): number {
  switch (http) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

/** encodeGrpcMessage percent-encodes what gRPC's grpc-message may not carry raw (its spec: outside 0x20–0x7E, and `%`). */
export function encodeGrpcMessage(text: string): string {
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
