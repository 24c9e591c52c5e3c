/** CliError is a user-facing failure: printed as `Error: message` (and details), exit code 1. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}
