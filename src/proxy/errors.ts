/** Errors the proxy raises; codes are listed in docs/errors.md. */
import { GatewayError } from '../errors.js';

/** SnapshotRejectedError: a snapshot broke an invariant and was refused (NACK). */
export class SnapshotRejectedError extends GatewayError {
  readonly code = 'GW_PROXY_SNAPSHOT_REJECTED';
  constructor(version: string, details: string) {
    super(`snapshot ${version} rejected: ${details}`);
  }
}

/** ListenerBindError: a listener's port could not be bound. */
export class ListenerBindError extends GatewayError {
  readonly code = 'GW_PROXY_LISTENER_BIND';
  readonly port: number;
  constructor(listener: string, host: string, port: number, cause: Error & { code?: string }) {
    super(
      cause.code === 'EADDRINUSE'
        ? `port ${port} is already in use (listener ${listener} on ${host})`
        : `cannot listen on ${host}:${port} for listener ${listener}: ${cause.code ?? cause.message}`,
      { cause },
    );
    this.port = port;
  }
}
