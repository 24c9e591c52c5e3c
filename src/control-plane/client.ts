/**
 * ControlPlaneClient talks to the control-plane API (control-plane/api-server.ts): the CLI,
 * sidecars and remote proxies use it. Failures are ControlPlaneRequestErrors with the server's
 * message and details, ready to show a user.
 */
import { request } from 'undici';
import { GatewayError } from '../errors.js';

/** ControlPlaneRequestError: the control plane could not be reached or refused a request. */
export class ControlPlaneRequestError extends GatewayError {
  readonly code = 'GW_CONTROL_PLANE_REQUEST';
  constructor(
    message: string,
    readonly details: readonly string[] = [],
    readonly status?: number,
  ) {
    super(message);
  }
}

/** DEFAULT_CONTROL_PLANE is the API's default address (Gloo's xDS port, 9977). */
export const DEFAULT_CONTROL_PLANE = 'http://127.0.0.1:9977';

export class ControlPlaneClient {
  readonly #base: string;

  constructor(base: string) {
    this.#base = base.replace(/\/+$/, '');
  }

  async call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: string): Promise<T> {
    let res;
    try {
      res = await request(`${this.#base}${path}`, {
        method,
        ...(body !== undefined ? { body, headers: { 'content-type': 'application/yaml' } } : {}),
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
    } catch (err) {
      const code = (err as { code?: string }).code ?? (err as Error).message;
      throw new ControlPlaneRequestError(`cannot reach the control plane at ${this.#base} (${code}); is \`meshgate up\` running? (set --control-plane or MESHGATE_CONTROL_PLANE)`);
    }
    const text = await res.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ControlPlaneRequestError(`unexpected answer from the control plane at ${this.#base} (HTTP ${res.statusCode})`);
    }
    if (res.statusCode >= 400) {
      const e = json as { error?: string; details?: string[] };
      throw new ControlPlaneRequestError(e.error ?? `HTTP ${res.statusCode}`, e.details, res.statusCode);
    }
    return json as T;
  }
}
