/**
 * Secret holds key material so that it cannot leak by accident: logging, JSON serialization,
 * string interpolation and util.inspect all print `[redacted]`. Only `reveal()` gives the value.
 */
import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/** Secret wraps a private key (or any other secret string); call reveal() where it is used. */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** reveal returns the wrapped value. Call it only where the value is handed to crypto or TLS. */
  reveal(): string {
    return this.#value;
  }

  /** toJSON keeps the value out of JSON.stringify (and so out of pino's output). */
  toJSON(): string {
    return REDACTED;
  }

  /** toString keeps the value out of template strings and string concatenation. */
  toString(): string {
    return REDACTED;
  }

  /** [inspect.custom] keeps the value out of console.log and util.format. */
  [inspect.custom](): string {
    return REDACTED;
  }
}
