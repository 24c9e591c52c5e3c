/**
 * The HTTPS side of a listener (an `ssl: true` Gateway): a TLS server that terminates each
 * connection and hands the decrypted one to the listener (which serves HTTP/1.1 or HTTP/2 on
 * it), behind a front that owns the port. Neither server binds.
 *
 * The front reads each connection's first byte. A TLS ClientHello (0x16) goes to the TLS
 * server, whose settings are brought up to date with the listener's current runtime first;
 * a plaintext HTTP request gets a 400 that says what happened, instead of a handshake error the
 * client cannot read (Envoy closes; nginx and Go answer 400 too).
 *
 * Certificates are picked per connection: SNICallback reads the current runtime, so a snapshot
 * that changes certificates applies to the next handshake without rebinding; the server's own
 * context (default certificate, versions, ciphers, client CA, tickets) is swapped with
 * setSecureContext when the runtime changes. ALPN is chosen from the runtime's list too (the
 * server's preference, Gloo's default h2 then http/1.1). Client certificates are verified by
 * Node against the client CA (requestCert + rejectUnauthorized); verifySubjectAltName is checked
 * once the handshake is done, before HTTP reads anything from the connection.
 */
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket, type PeerCertificate } from 'node:tls';
import type { ProxyStats } from '../stats.js';
import type { ListenerTlsRuntime } from './contexts.js';

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
type TlsServerFields = TlsServer & { requestCert: boolean; rejectUnauthorized: boolean };

/** applied remembers which runtime a TLS server's own context was last set from. */
const applied = new WeakMap<TlsServer, ListenerTlsRuntime>();

/** sync brings the server's own context and client-certificate policy to the runtime's. */
function sync(server: TlsServer, rt: ListenerTlsRuntime): void {
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
 * createTlsTerminator builds a listener's TLS server: onSecure receives each connection whose
 * handshake (and client certificate) passed. current reads the listener's runtime now.
 */
export function createTlsTerminator(
  initial: ListenerTlsRuntime,
  current: () => ListenerTlsRuntime | undefined,
  stats: ProxyStats,
  onSecure: (tls: TLSSocket) => void,
): TlsServer {
  const server = createTlsServer({
    ...initial.serverOptions,
    requestCert: initial.requestCert,
    rejectUnauthorized: initial.requestCert,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    SNICallback: (servername, cb) => {
      const rt = current() ?? initial;
      cb(null, rt.select(servername));
    },
    // The server's preference among what the client offers. No protocol in common: HTTP/1.1 if
    // the client offered it, else the handshake fails (Node has no way to settle on none).
    ALPNCallback: ({ protocols }) => {
      const mine = (current() ?? initial).alpn;
      return mine.find((p) => protocols.includes(p)) ?? (protocols.includes('http/1.1') ? 'http/1.1' : undefined);
    },
  });
  applied.set(server, initial);
  // Handshake failures (no shared version or cipher, a refused client certificate, a client
  // gone mid-handshake) close the connection; they are counted, never thrown.
  server.on('tlsClientError', (err: Error & { code?: string }, tls: TLSSocket) => {
    stats.downstreamErrors.labels(`tls_${err.code ?? 'handshake'}`).inc();
    tls.destroy();
  });
  server.on('secureConnection', (tls: TLSSocket) => {
    const rt = current() ?? initial;
    if (rt.requestCert) {
      const why = !tls.authorized
        ? 'tls_client_cert_refused'
        : rt.verifySubjectAltName.length && !subjectAltNames(tls.getPeerCertificate()).some((n) => rt.verifySubjectAltName.includes(n))
          ? 'tls_client_san_refused'
          : undefined;
      if (why) {
        stats.downstreamErrors.labels(why).inc();
        tls.destroy();
        return;
      }
    }
    onSecure(tls);
  });
  return server;
}

/**
 * tlsFront owns an HTTPS listener's port: it answers plaintext with a 400 and hands TLS
 * connections to the TLS server (which it calls as each connection arrives, so the server
 * may be built after the front).
 */
export function tlsFront(terminator: () => TlsServer, current: () => ListenerTlsRuntime | undefined, stats: ProxyStats): NetServer {
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
      if (rt) sync(terminator(), rt);
      // The TLS socket takes over the connection's handle and reads from it itself.
      terminator().emit('connection', socket);
    });
  });
  return front;
}
