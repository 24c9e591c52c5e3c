/**
 * Mesh test clients: mtlsSend makes one HTTPS request on a fresh connection with Istio's SNI and
 * ALPN, presenting a client certificate (or none), and records the certificate the server
 * presented. attempt turns any request into an outcome (a response, or the error that ended it),
 * so "allowed" and "refused" are asserted the same way for every client.
 */
import { request, type RequestOptions } from 'node:https';
import { createHash } from 'node:crypto';
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import type { Reply, SendOptions } from './http.js';

/** ISTIO_HTTP_ALPN is what an Istio client offers for HTTP (istio-compat.md §0.2). */
export const ISTIO_HTTP_ALPN = ['istio-http/1.1'];
/** HTTPBIN_SNI is Istio's outbound SNI for httpbin.default port 8000. */
export const HTTPBIN_SNI = 'outbound_.8000_._.httpbin.default.svc.cluster.local';
/** SAFETY_TIMEOUT_MS only keeps a hung request from hanging the run; it is not an assertion. */
const SAFETY_TIMEOUT_MS = 15_000;

export interface MtlsClientOptions {
  /** key and cert are the client certificate; absent: the client presents none. */
  readonly key?: string;
  readonly cert?: string;
  /** ca is the root the client trusts for the server's chain. */
  readonly ca: string;
  readonly servername?: string;
  readonly alpn?: readonly string[];
  /** serverIdentity, when set, must be the server certificate's URI SAN (secure naming). */
  readonly serverIdentity?: string;
}

/** MtlsReply is a reply plus what the TLS handshake showed. */
export interface MtlsReply extends Reply {
  /** serverSha256 is the hex SHA-256 of the server's leaf DER. */
  readonly serverSha256: string;
}

function uris(cert: PeerCertificate): string[] {
  return (cert.subjectaltname ?? '')
    .split(', ')
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
}

/** mtlsSend makes one request over a fresh TLS connection to 127.0.0.1:port. */
export function mtlsSend(port: number, path: string, tls: MtlsClientOptions, opts: SendOptions = {}): Promise<MtlsReply> {
  return new Promise((resolve, reject) => {
    let serverSha256 = '';
    // https.request hands TLS options to tls.connect; its type just omits ALPNProtocols.
    const options: RequestOptions & Pick<ConnectionOptions, 'ALPNProtocols'> = {
      host: '127.0.0.1',
      port,
      path,
      method: opts.method ?? 'GET',
      headers: opts.headers,
      agent: false,
      ca: tls.ca,
      ...(tls.key !== undefined ? { key: tls.key } : {}),
      ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
      servername: tls.servername ?? HTTPBIN_SNI,
      ALPNProtocols: [...(tls.alpn ?? ISTIO_HTTP_ALPN)],
      rejectUnauthorized: true,
      // Mesh certificates carry no DNS name: the server is checked on its URI SAN instead.
      checkServerIdentity: (_host, cert) => {
        serverSha256 = createHash('sha256').update(cert.raw).digest('hex');
        const got = uris(cert);
        if (tls.serverIdentity !== undefined && !got.includes(tls.serverIdentity)) {
          return new Error(`server identity ${got.join(',') || '(none)'} is not ${tls.serverIdentity}`);
        }
        return undefined;
      },
    };
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString('utf8'), serverSha256 }),
      );
    });
    req.setTimeout(SAFETY_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('test client safety timeout'), { code: 'TEST_SAFETY_TIMEOUT' })));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Outcome is how a request ended: a response, or the error that ended it first. */
export type Outcome<R extends Reply = Reply> = { readonly ok: true; readonly reply: R } | { readonly ok: false; readonly error: Error & { code?: string } };

/** attempt waits for a request and reports how it ended, never throwing. */
export async function attempt<R extends Reply>(p: Promise<R>): Promise<Outcome<R>> {
  try {
    return { ok: true, reply: await p };
  } catch (err) {
    return { ok: false, error: err as Error & { code?: string } };
  }
}

/** describeOutcome renders an outcome for assertion messages. */
export function describeOutcome(o: Outcome): string {
  return o.ok ? `HTTP ${o.reply.status} ${JSON.stringify(o.reply.body.slice(0, 200))}` : `error ${o.error.code ?? ''} ${o.error.message}`;
}
