/**
 * The HTTPS side of a listener (an `ssl: true` Gateway): the listener's own HTTP server, built as
 * an https.Server with the same HTTP options, behind a front that owns the port.
 *
 * The front reads each connection's first byte. A TLS ClientHello (0x16) goes to the https
 * server, whose TLS settings are brought up to date with the listener's current runtime first;
 * a plaintext HTTP request gets a 400 that says what happened, instead of a handshake error the
 * client cannot read (Envoy closes; nginx and Go answer 400 too). The https server itself never
 * binds: the front forwards 'listening' to it, so Node's connection checks (headers timeout,
 * idle sweeps) run as on a plaintext listener.
 *
 * Certificates are picked per connection: SNICallback reads the current runtime, so a snapshot
 * that changes certificates applies to the next handshake without rebinding; the listener's own
 * context (default certificate, versions, ciphers, client CA, tickets) is swapped with
 * setSecureContext when the runtime changes. Client certificates are verified by Node against
 * the client CA (requestCert + rejectUnauthorized); verifySubjectAltName is checked once the
 * handshake is done, before HTTP reads anything from the connection.
 */
import { createServer as httpsCreateServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Server, ServerOptions, IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket, PeerCertificate } from 'node:tls';
import type { ProxyStats } from '../stats.js';
import type { ListenerTlsRuntime } from './contexts.js';

/** TLS_ALPN is what HTTPS listeners offer: HTTP/1.1 only until meshgate speaks HTTP/2. */
export const TLS_ALPN = ['http/1.1'];

/**
 * FIRST_BYTES_TIMEOUT_MS bounds how long a new connection may stay silent before its first
 * byte (Envoy's listener_filters_timeout for the TLS inspector: 15 s).
 */
const FIRST_BYTES_TIMEOUT_MS = 15_000;

/** HANDSHAKE_TIMEOUT_MS bounds a TLS handshake once it began (Node's default is 120 s). */
const HANDSHAKE_TIMEOUT_MS = 15_000;

const PLAINTEXT_BODY = 'client sent an HTTP request to an HTTPS port\n';
const PLAINTEXT_REPLY =
  `HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${PLAINTEXT_BODY.length}\r\n\r\n${PLAINTEXT_BODY}`;

/** Mutable views of tls.Server fields Node reads for each new connection. */
type TlsServerFields = HttpsServer & { requestCert: boolean; rejectUnauthorized: boolean };

/** applied remembers which runtime an https server's own context was last set from. */
const applied = new WeakMap<HttpsServer, ListenerTlsRuntime>();

/** sync brings the server's own context and client-certificate policy to the runtime's. */
function sync(server: HttpsServer, rt: ListenerTlsRuntime): void {
  if (applied.get(server) === rt) return;
  server.setSecureContext(rt.serverOptions);
  (server as TlsServerFields).requestCert = rt.requestCert;
  (server as TlsServerFields).rejectUnauthorized = rt.requestCert;
  applied.set(server, rt);
}

/** subjectAltNames lists every SAN value of a certificate (DNS, URI, IP, email), without its type prefix. */
export function subjectAltNames(cert: PeerCertificate | undefined): string[] {
  const san = cert?.subjectaltname;
  if (!san) return [];
  return san.split(', ').map((s) => s.slice(s.indexOf(':') + 1));
}

/**
 * createHttpsServer builds a listener's HTTP server behind TLS: the same HTTP options and handler
 * as a plaintext one, with the runtime's TLS. current reads the listener's runtime now.
 */
export function createHttpsServer(
  options: ServerOptions,
  initial: ListenerTlsRuntime,
  current: () => ListenerTlsRuntime | undefined,
  stats: ProxyStats,
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
): Server {
  const server = httpsCreateServer(
    {
      ...options,
      ...initial.serverOptions,
      requestCert: initial.requestCert,
      rejectUnauthorized: initial.requestCert,
      ALPNProtocols: TLS_ALPN,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      SNICallback: (servername, cb) => {
        const rt = current() ?? initial;
        cb(null, rt.select(servername));
      },
    },
    onRequest,
  );
  applied.set(server, initial);
  // Handshake failures (no shared version or cipher, a refused client certificate, a client
  // gone mid-handshake) close the connection; they are counted, never thrown. https.Server
  // would pass them on as 'clientError', whose handler answers HTTP: not on a failed handshake.
  server.removeAllListeners('tlsClientError');
  server.on('tlsClientError', (err: Error & { code?: string }, tls: TLSSocket) => {
    stats.downstreamErrors.labels(`tls_${err.code ?? 'handshake'}`).inc();
    tls.destroy();
  });
  // Before HTTP's own listener: a refused client certificate never gets to send a request.
  server.prependListener('secureConnection', (tls: TLSSocket) => {
    const rt = current() ?? initial;
    if (!rt.requestCert) return;
    const why = !tls.authorized
      ? 'tls_client_cert_refused'
      : rt.verifySubjectAltName.length && !subjectAltNames(tls.getPeerCertificate()).some((n) => rt.verifySubjectAltName.includes(n))
        ? 'tls_client_san_refused'
        : undefined;
    if (why) {
      stats.downstreamErrors.labels(why).inc();
      tls.destroy();
    }
  });
  return server as unknown as Server;
}

/**
 * tlsFront owns an HTTPS listener's port: it answers plaintext with a 400 and hands TLS
 * connections to the https server (which it calls as each connection arrives, so the server
 * may be built after the front).
 */
export function tlsFront(server: () => Server, current: () => ListenerTlsRuntime | undefined, stats: ProxyStats): NetServer {
  const https = () => server() as unknown as HttpsServer;
  const front = createNetServer({ noDelay: true, pauseOnConnect: false }, (socket: Socket) => {
    socket.setTimeout(FIRST_BYTES_TIMEOUT_MS, () => socket.destroy());
    socket.once('error', () => socket.destroy());
    socket.once('data', (chunk: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      if (chunk[0] !== 0x16) {
        // An HTTP request starts with a method in upper-case letters: say what went wrong.
        stats.downstreamErrors.labels('plaintext_on_tls').inc();
        const first = chunk[0] ?? 0;
        if (first >= 0x41 && first <= 0x5a) socket.end(PLAINTEXT_REPLY, () => socket.destroy());
        else socket.destroy();
        return;
      }
      socket.unshift(chunk);
      const rt = current();
      if (rt) sync(https(), rt);
      // The TLS socket takes over the connection's handle and reads from it itself.
      https().emit('connection', socket);
    });
  });
  // The https server never binds; it must still hear 'listening' to start Node's connection
  // checks (requestHeadersTimeout), and 'close' to stop them.
  front.on('listening', () => https().emit('listening'));
  front.on('close', () => https().close());
  return front;
}
