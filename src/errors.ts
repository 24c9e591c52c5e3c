/** GatewayError is the base of every error this project throws on purpose; `code` is stable (docs/errors.md). */
export abstract class GatewayError extends Error {
  abstract readonly code: `GW_${string}`;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
