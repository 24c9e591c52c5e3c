/** Errors raised when a mesh identity cannot be built; codes are listed in docs/errors.md. */
import { GatewayError } from '../../errors.js';

/** IdentityInvalidError: a namespace, service account or trust domain cannot form a SPIFFE ID. */
export class IdentityInvalidError extends GatewayError {
  readonly code = 'GW_MESH_IDENTITY_INVALID';
}
