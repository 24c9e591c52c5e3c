/**
 * Telling HTTP/2 from HTTP/1 on a connection, as Envoy's codec `AUTO` does: a connection that
 * settled `h2` by ALPN is HTTP/2; any other starts with the HTTP/2 client preface (h2c with
 * prior knowledge, or h2 over TLS whatever ALPN said) or is HTTP/1. The bytes read to decide
 * are put back, so whichever server takes the connection sees it from its first byte.
 */
import type { Socket } from 'node:net';

/** H2_PREFACE is what every HTTP/2 client sends first (RFC 9113 §3.4). */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * detectProtocol calls then(true) for an HTTP/2 connection and then(false) for anything else,
 * with the connection paused and its bytes unread. A connection silent for timeoutMs before
 * it can be told goes to onSilent (the listener answers it as a too-slow HTTP/1 client).
 * Most connections are decided on their first read: an HTTP/1 request line differs from the
 * preface at its first byte unless it begins with `P`.
 */
export function detectProtocol(
  socket: Socket & { alpnProtocol?: string | false }, timeoutMs: number, then: (h2: boolean) => void, onSilent: () => void,
): void {
  if (socket.alpnProtocol === 'h2') return then(true);
  let seen: Buffer | undefined;
  // Until a server takes the connection, nothing else listens for its errors: a client that
  // resets it now (ECONNRESET) must not take the process down.
  const onError = () => socket.destroy();
  const onTimeout = () => {
    socket.off('data', onData);
    onSilent();
  };
  const decide = (h2: boolean) => {
    socket.off('data', onData);
    socket.off('error', onError);
    // The server that takes the connection sets its own timeouts; none of ours may outlive this.
    if (timeoutMs > 0) {
      socket.setTimeout(0);
      socket.off('timeout', onTimeout);
    }
    socket.pause();
    socket.unshift(seen!);
    then(h2);
  };
  const onData = (chunk: Buffer) => {
    seen = seen === undefined ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, H2_PREFACE.length);
    if (seen.compare(H2_PREFACE, 0, n, 0, n) !== 0) decide(false);
    else if (seen.length >= H2_PREFACE.length) decide(true);
    // Otherwise a prefix of the preface so far: read on.
  };
  socket.on('data', onData);
  socket.on('error', onError);
  // A connection whose first bytes someone read and put back (a sidecar's mode check) is paused.
  socket.resume();
  if (timeoutMs > 0) {
    socket.setTimeout(timeoutMs);
    socket.once('timeout', onTimeout);
  }
}
