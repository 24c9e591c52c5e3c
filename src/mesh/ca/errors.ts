/**
 * Errors the mesh CA raises; codes are listed in docs/errors.md. The gRPC server maps them to
 * status codes the way istiod does (security/pkg/pki/error): caller problems are
 * UNAUTHENTICATED or INVALID_ARGUMENT, the CA's own problems INTERNAL.
 */
import { GatewayError } from '../../errors.js';

/** TokenInvalidError: a bearer token was refused; `reason` says why, without the token. */
export class TokenInvalidError extends GatewayError {
  readonly code = 'GW_CA_TOKEN_INVALID';
  readonly reason: string;
  constructor(reason: string, options?: ErrorOptions) {
    super(`service-account token rejected: ${reason}`, options);
    this.reason = reason;
  }
}

/** CsrInvalidError: a certificate signing request cannot be parsed, fails its signature or has a weak key. */
export class CsrInvalidError extends GatewayError {
  readonly code = 'GW_CA_CSR_INVALID';
  readonly reason: string;
  constructor(reason: string, options?: ErrorOptions) {
    super(`certificate signing request rejected: ${reason}`, options);
    this.reason = reason;
  }
}

/** TtlInvalidError: a requested certificate lifetime is above the CA's maximum, or a token lifetime is not a positive number of seconds. */
export class TtlInvalidError extends GatewayError {
  readonly code = 'GW_CA_TTL_INVALID';
}

/** CaKeyUnsafeError: a CA key file can be read or written by group or others, so the CA refuses to use it. */
export class CaKeyUnsafeError extends GatewayError {
  readonly code = 'GW_CA_KEY_UNSAFE';
  readonly path: string;
  constructor(path: string, mode: number) {
    super(`key file ${path} has mode ${(mode & 0o777).toString(8).padStart(4, '0')}, which lets group or others read it; run chmod 600 ${path}`);
    this.path = path;
  }
}

/** CaRootInvalidError: the stored root certificate or key is missing, unreadable, mismatched or expired. */
export class CaRootInvalidError extends GatewayError {
  readonly code = 'GW_CA_ROOT_INVALID';
}
