/**
 * Local replies: responses the proxy makes itself, with the status codes and bodies Envoy writes
 * (gloo-compat.md §6), so scripts and alerts written against Gloo keep working.
 */
import type { ServerResponse } from 'node:http';

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

/** sendLocalReply writes a local reply; a reply with a body is text/plain, as Envoy's. */
export function sendLocalReply(res: ServerResponse, r: LocalReply, extraHeaders?: Record<string, string>): void {
  if (res.headersSent) {
    // Too late for a status: the client already has one. Reset, as Envoy does mid-stream.
    res.destroy();
    return;
  }
  const headers: Record<string, string | number> = { 'content-length': Buffer.byteLength(r.body), ...extraHeaders };
  if (r.body) headers['content-type'] = 'text/plain';
  res.writeHead(r.status, headers);
  res.end(r.body);
}
