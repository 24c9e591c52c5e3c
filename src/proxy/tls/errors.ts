/** Errors of HTTPS termination; codes are listed in docs/errors.md. */
import { GatewayError } from '../../errors.js';

/**
 * TlsMaterialError: a TLS listener's certificate, key or CA could not be loaded or was refused by
 * OpenSSL (an unreadable sslFiles path, a key that does not match, an unknown cipher). The
 * snapshot is refused (NACK) and the last good one keeps serving. The message names the listener
 * and the file or Secret, never its content.
 */
export class TlsMaterialError extends GatewayError {
  readonly code = 'GW_PROXY_TLS_MATERIAL';
  constructor(listener: string, reason: string) {
    super(`listener ${listener}: ${reason}`);
  }
}
