/**
 * The CA's gRPC server: Istio's `/istio.v1.auth.IstioCertificateService/CreateCertificate` over
 * TLS, so an Istio agent could use it. It authenticates the caller by bearer token and signs for
 * the token's identity, never the CSR's. It logs refusals, and never logs a token or a key.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../log.js';
import type { CertificateAuthority } from './certificate-authority.js';
import { CaRootInvalidError, TtlInvalidError, CsrInvalidError, TokenInvalidError } from './errors.js';
import { caServiceDefinition, type CertificateRequest, type CertificateResponse } from './proto.js';
import type { ServiceAccountRef, TokenIssuer } from './token.js';
import { IdentityInvalidError } from '../identity/errors.js';

/** CaServerOptions wires the server to its CA, its token verifier and its listen address. */
export interface CaServerOptions {
  readonly ca: CertificateAuthority;
  readonly tokens: TokenIssuer;
  /** host to listen on; port 0 picks a free port (Istio's is 15012). */
  readonly host: string;
  readonly port: number;
  readonly log: Logger;
}

/** CaServer is a running CA server. */
export interface CaServer {
  /** port is the bound port (useful with port 0). */
  readonly port: number;
  /** close stops accepting calls, lets calls in flight finish (up to 5 s), then closes. */
  close(): Promise<void>;
}

/** AUTHENTICATE_FAILURE is istiod's UNAUTHENTICATED details; the reason is appended after a colon. */
export const AUTHENTICATE_FAILURE = 'request authenticate failure';
const BEARER = /^Bearer\s+(\S+)\s*$/i;
const DRAIN_MS = 5000;
// A CSR is about 1 KiB; nothing legitimate comes near this.
const MAX_REQUEST_BYTES = 1024 * 1024;

/** bearerToken reads `authorization: Bearer <token>` from call metadata. */
function bearerToken(md: grpc.Metadata): string | undefined {
  const v = md.get('authorization')[0];
  if (typeof v !== 'string') return undefined;
  return BEARER.exec(v)?.[1];
}

/** startCaServer serves CreateCertificate on host:port with the CA's own TLS certificate. */
export async function startCaServer(opts: CaServerOptions): Promise<CaServer> {
  const log = opts.log.child({ component: 'ca-server' });
  // Read once: grpc-js fixes server credentials at bind time. The certificate lives a year and a
  // restart takes a fresh one; a CA meant to run longer than that would swap it here.
  const serving = await opts.ca.servingCredential();
  // Client certificates are not required: callers prove who they are with the token.
  const creds = grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(serving.certPem), private_key: Buffer.from(serving.key.reveal()) }], false);
  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_REQUEST_BYTES });

  const createCertificate: grpc.handleUnaryCall<CertificateRequest, CertificateResponse> = (call, callback) => {
    const peer = call.getPeer();
    void (async () => {
      const token = bearerToken(call.metadata);
      if (token === undefined) {
        log.warn({ peer, reason: 'no bearer token' }, 'certificate request refused: unauthenticated');
        return callback({ code: grpc.status.UNAUTHENTICATED, details: `${AUTHENTICATE_FAILURE}: no bearer token in the authorization metadata` });
      }
      let caller: ServiceAccountRef;
      try {
        caller = await opts.tokens.verify(token);
      } catch (err) {
        if (!(err instanceof TokenInvalidError)) throw err;
        log.warn({ peer, reason: err.reason }, 'certificate request refused: unauthenticated');
        return callback({ code: grpc.status.UNAUTHENTICATED, details: `${AUTHENTICATE_FAILURE}: ${err.reason}` });
      }
      const who = `${caller.namespace}/${caller.serviceAccount}`;
      try {
        const issued = await opts.ca.issue(call.request.csr, caller, call.request.validity_duration);
        // Guarded: reading the CSR's requested SANs costs a full parse, worth it only when shown.
        if (log.isLevelEnabled('debug')) {
          log.debug(
            { peer, identity: issued.identity, serial: issued.serial, notAfter: issued.notAfter.toISOString(), requestedUris: issued.requestedUris },
            'certificate issued',
          );
        }
        callback(null, { cert_chain: issued.chain });
      } catch (err) {
        // istiod answers "CSR signing error (<reason>)": INVALID_ARGUMENT for the caller's
        // mistakes (bad CSR, ttl too long), INTERNAL for the CA's own.
        if (err instanceof CsrInvalidError || err instanceof TtlInvalidError || err instanceof IdentityInvalidError) {
          log.warn({ peer, serviceAccount: who, reason: err.message }, 'certificate request refused: invalid argument');
          return callback({ code: grpc.status.INVALID_ARGUMENT, details: `CSR signing error (${err.message})` });
        }
        if (err instanceof CaRootInvalidError) {
          log.error({ peer, serviceAccount: who, reason: err.message }, 'certificate request failed: ca not usable');
          return callback({ code: grpc.status.INTERNAL, details: `CSR signing error (${err.message})` });
        }
        throw err;
      }
    })().catch((err: unknown) => {
      log.error({ peer, err }, 'certificate request failed: unexpected error');
      callback({ code: grpc.status.INTERNAL, details: 'CSR signing error (internal error)' });
    });
  };

  server.addService(caServiceDefinition(), { CreateCertificate: createCertificate });
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${opts.port}`, creds, (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  log.info({ host: opts.host, port, trustDomain: opts.ca.trustDomain }, 'ca server listening');

  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), DRAIN_MS);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
