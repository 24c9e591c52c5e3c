/** Errors the workload side of the mesh (certificate fetching and serving) raises; codes are listed in docs/errors.md. */
import { GatewayError } from '../../errors.js';

/**
 * CaRequestError: asking the CA for a certificate failed. `status` and `details` are the gRPC
 * status name and details when the CA answered; both are undefined when the answer itself was
 * unusable (for example a chain that does not end in the trusted root).
 */
export class CaRequestError extends GatewayError {
  readonly code = 'GW_CA_REQUEST_FAILED';
  readonly status: string | undefined;
  readonly details: string | undefined;
  constructor(message: string, opts: { status?: string; details?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.status = opts.status;
    this.details = opts.details;
  }
}

/** CredentialNotReadyError: a credential was asked for before the first one arrived. */
export class CredentialNotReadyError extends GatewayError {
  readonly code = 'GW_SDS_NOT_READY';
}
