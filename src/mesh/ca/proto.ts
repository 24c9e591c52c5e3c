/**
 * proto loads Istio's CA service definition (`proto/istio/v1/auth/ca.proto`, Istio's package and
 * field numbers) for both the CA server and the client. The wire names stay snake_case.
 */
import { fileURLToPath } from 'node:url';
import { loadSync } from '@grpc/proto-loader';
import type { ServiceDefinition } from '@grpc/grpc-js';

/** CA_SERVICE_NAME is the fully qualified service; CREATE_CERTIFICATE_PATH its one method. */
export const CA_SERVICE_NAME = 'istio.v1.auth.IstioCertificateService';
export const CREATE_CERTIFICATE_PATH = `/${CA_SERVICE_NAME}/CreateCertificate`;

// src/mesh/ca/ (under tsx) and dist/mesh/ca/ (after tsc) are both three levels below the repository root.
const PROTO_ROOT = fileURLToPath(new URL('../../../proto/', import.meta.url));

/** CertificateRequest is IstioCertificateRequest as proto-loader decodes it (longs as numbers). */
export interface CertificateRequest {
  csr: string;
  validity_duration: number;
  metadata?: { fields?: Record<string, unknown> } | null;
}

/** CertificateResponse is IstioCertificateResponse: the leaf first, the root last. */
export interface CertificateResponse {
  cert_chain: string[];
}

let cached: ServiceDefinition | undefined;

/**
 * caServiceDefinition loads the service once. google/protobuf/struct.proto is one of the
 * well-known types protobufjs (under proto-loader) ships, so only the repository's proto dir is
 * an include dir.
 */
export function caServiceDefinition(): ServiceDefinition {
  cached ??= loadSync('istio/v1/auth/ca.proto', {
    includeDirs: [PROTO_ROOT],
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  })[CA_SERVICE_NAME] as ServiceDefinition;
  return cached;
}
