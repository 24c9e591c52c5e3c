/** Errors raised by config sources. */
import { GatewayError } from '../errors.js';
import type { ResourceKey } from './resource-set.js';

/** ConflictError: a write named a resourceVersion that is no longer current. */
export class ConflictError extends GatewayError {
  readonly code = 'GW_CONFIG_CONFLICT';
  constructor(key: ResourceKey, wanted: string, current: string | undefined) {
    super(
      `Operation cannot be fulfilled on ${key.kind} ${key.namespace}/${key.name}: the object has been modified ` +
        `(resourceVersion ${wanted}, current ${current ?? 'none'}); please apply your changes to the latest version and try again`,
    );
  }
}
