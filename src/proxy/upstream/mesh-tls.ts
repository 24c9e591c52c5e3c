/**
 * Mesh mTLS towards upstreams: an undici connector that opens TLS with the proxy's current mesh
 * identity, Istio's SNI and ALPN, and checks the server's SPIFFE identity ("secure naming",
 * which Gloo does not do). The credential is read at each new connection, so a renewed
 * certificate is used from then on without touching pools or open connections.
 * The proxy does not import mesh/: the composition root hands it a CredentialSource.
 */
import { connect as tlsConnect, type SecureContext, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { buildConnector } from 'undici';
import type * as ir from '../../ir/index.js';

/** MeshCredential is what the proxy needs of its mesh identity; keys stay inside secureContext. */
export interface MeshCredential {
  /** identity is the proxy's own SPIFFE ID (the `By=` of XFCC on a sidecar). */
  readonly identity: string;
  /** secureContext holds the key, the chain and the mesh root as trust anchor. */
  readonly secureContext: SecureContext;
  /** rootPem is the mesh root (public), which an inbound listener trusts for client certificates. */
  readonly rootPem: string;
}

/** CredentialSource supplies the current mesh credential, if the proxy has one. */
export interface CredentialSource {
  current(): MeshCredential | undefined;
}

/** UpstreamTlsError marks a failed TLS handshake, so the local reply can say so as Envoy does. */
export class UpstreamTlsError extends Error {
  readonly code = 'GW_PROXY_UPSTREAM_TLS';
  constructor(readonly reason: string) {
    super(`TLS error: ${reason}`);
  }
}

/** uriSans lists the URI SANs of a peer certificate. */
export function uriSans(cert: PeerCertificate | undefined): string[] {
  const san = cert?.subjectaltname;
  if (!san) return [];
  return san.split(', ').filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
}

/**
 * checkSpiffe verifies a peer's URI SAN: one of the expected identities, or, when none are
 * expected, any identity in the trust domain. It returns a reason when the peer is wrong.
 */
export function checkSpiffe(cert: PeerCertificate | undefined, identities: readonly string[], trustDomain: string): string | undefined {
  const sans = uriSans(cert);
  if (identities.length) {
    if (sans.some((s) => identities.includes(s))) return undefined;
    return `peer identity ${sans.join(',') || '(none)'} is not ${identities.join(' or ')}`;
  }
  if (sans.some((s) => s.startsWith(`spiffe://${trustDomain}/`))) return undefined;
  return `peer identity ${sans.join(',') || '(none)'} is not in trust domain ${trustDomain}`;
}


/**
 * meshConnector returns an undici `connect` function for one endpoint's mTLS settings. With
 * http2, the connection speaks HTTP/2 whatever ALPN settled (undici reads the socket's
 * alpnProtocol to choose), as Envoy speaks its configured protocol: a server that negotiated
 * `istio` or nothing still sees the h2 preface.
 */
export function meshConnector(
  e: ir.Endpoint, mtls: ir.EndpointMtls, credentials: CredentialSource | undefined, timeoutMs: number, http2 = false,
): buildConnector.connector {
  return (_opts, callback) => {
    const cred = credentials?.current();
    if (!cred) {
      callback(new UpstreamTlsError('the proxy has no mesh identity yet'), null);
      return;
    }
    let done = false;
    const finish = (err: Error | null, s: TLSSocket | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) callback(err, null);
      else callback(null, s!);
    };
    const socket = tlsConnect({
      host: e.address,
      port: e.port,
      servername: mtls.sni || undefined,
      ALPNProtocols: [...mtls.alpn],
      secureContext: cred.secureContext,
      // The chain is checked against the mesh root by OpenSSL; the identity is checked here,
      // on the URI SAN, because mesh certificates carry no DNS name.
      checkServerIdentity: (_host, cert) => {
        const why = checkSpiffe(cert, mtls.identities, mtls.trustDomain);
        return why ? new UpstreamTlsError(why) : undefined;
      },
    });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      finish(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' }), null);
    }, timeoutMs);
    socket.once('secureConnect', () => {
      if (http2) socket.alpnProtocol = 'h2';
      finish(null, socket);
    });
    socket.once('error', (err: Error & { code?: string }) => {
      socket.destroy();
      // A refused TCP connection is a plain connect failure; anything after it is the handshake.
      if (err instanceof UpstreamTlsError || err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH') return finish(err, null);
      finish(new UpstreamTlsError(err.code ?? err.message), null);
    });
  };
}
