/**
 * requestCertificate is the workload side of Istio's CA API: make a fresh key and CSR, call
 * CreateCertificate over TLS with the bearer token, and check what comes back. Works against
 * meshgate's CA and, by the same wire contract, istiod. The key never leaves this process.
 */
import * as grpc from '@grpc/grpc-js';
import { caServiceDefinition, type CertificateRequest, type CertificateResponse } from '../ca/proto.js';
import { createClientKeyAndCsr } from '../ca/x509.js';
import { credentialFromChain, type Credential } from './credential.js';
import { CaRequestError } from './errors.js';

export type { Credential } from './credential.js';

/** ISTIOD_SERVER_NAME is the name istiod's serving certificate carries; meshgate's CA carries it too. */
export const ISTIOD_SERVER_NAME = 'istiod.istio-system.svc';
const DEFAULT_TIMEOUT_MS = 10_000;

/** CertificateRequestOptions says where the CA is, how to trust it and who is asking. */
export interface CertificateRequestOptions {
  /** address is `host:port` of the CA (Istio: `istiod.istio-system.svc:15012`). */
  readonly address: string;
  /** rootPem is the CA root to trust for the CA's TLS and for the returned chain. */
  readonly rootPem: string;
  /** token is the service-account JWT sent as `authorization: Bearer`. */
  readonly token: string;
  /** ttlSeconds is the requested lifetime; absent or ≤ 0 means the CA's default (24 h). */
  readonly ttlSeconds?: number;
  /**
   * identityHint goes into the CSR as a URI SAN, as Istio's agent writes it. The CA ignores it;
   * the certificate names whoever the token says.
   */
  readonly identityHint?: string;
  /** serverName is checked against the CA's certificate (default istiod's service name). */
  readonly serverName?: string;
  /** timeoutMs is the call deadline (default 10 s). */
  readonly timeoutMs?: number;
}

/** requestCertificate asks the CA for a workload certificate; failures throw CaRequestError. */
export async function requestCertificate(opts: CertificateRequestOptions): Promise<Credential> {
  const { csrPem, key } = await createClientKeyAndCsr(opts.identityHint);
  const serverName = opts.serverName ?? ISTIOD_SERVER_NAME;
  const client = new grpc.Client(opts.address, grpc.credentials.createSsl(Buffer.from(opts.rootPem)), {
    // The CA is reached by address; its certificate names the service, as istiod's does.
    'grpc.ssl_target_name_override': serverName,
    'grpc.default_authority': serverName,
  });
  const method = caServiceDefinition().CreateCertificate!;
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${opts.token}`);
  const request: CertificateRequest = { csr: csrPem, validity_duration: Math.max(0, Math.floor(opts.ttlSeconds ?? 0)), metadata: null };
  try {
    const response = await new Promise<CertificateResponse>((resolve, reject) => {
      client.makeUnaryRequest<CertificateRequest, CertificateResponse>(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        { deadline: Date.now() + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS) },
        (err, value) => (err ? reject(err) : value ? resolve(value) : reject(new Error('empty response'))),
      );
    });
    return credentialFromChain(response.cert_chain, key, opts.rootPem);
  } catch (err) {
    if (err instanceof CaRequestError) throw err;
    const e = err as Partial<grpc.ServiceError>;
    if (typeof e.code === 'number') {
      const status = grpc.status[e.code] ?? String(e.code);
      throw new CaRequestError(`certificate request to ${opts.address} failed: ${status}: ${e.details ?? ''}`, { status, details: e.details, cause: err });
    }
    throw new CaRequestError(`certificate request to ${opts.address} failed`, { cause: err });
  } finally {
    client.close();
  }
}
