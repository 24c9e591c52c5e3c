/** ControlPlaneClient is how CLI commands talk to the control plane's API. */
import { request } from 'undici';
import { CliError } from './errors.js';

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
      throw new CliError(`cannot reach the control plane at ${this.#base} (${code}); is \`meshgate up\` running? (set --control-plane or MESHGATE_CONTROL_PLANE)`);
    }
    const text = await res.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new CliError(`unexpected answer from the control plane at ${this.#base} (HTTP ${res.statusCode})`);
    }
    if (res.statusCode >= 400) {
      const e = json as { error?: string; details?: string[] };
      throw new CliError(e.error ?? `HTTP ${res.statusCode}`, e.details);
    }
    return json as T;
  }
}
