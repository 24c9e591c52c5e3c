/**
 * Report collects what translation found wrong with each resource: errors reject it, warnings
 * admit it. Messages are for users: they name the field, never carry a library's error text.
 */
import type { Resource, ResourceState } from '../api/meta.js';
import { keyOf, keyString } from '../config/resource-set.js';

/** ResourceReport is the outcome for one resource. */
export interface ResourceReport {
  readonly state: ResourceState;
  readonly reason?: string;
}

export class Report {
  readonly #errors = new Map<string, string[]>();
  readonly #warnings = new Map<string, string[]>();
  readonly #seen = new Set<string>();

  /** saw records that a resource took part, so it gets a status even when all is well. */
  saw(r: Resource): void {
    this.#seen.add(keyString(keyOf(r)));
  }

  error(r: Resource, message: string): void {
    this.saw(r);
    push(this.#errors, keyString(keyOf(r)), message);
  }

  warn(r: Resource, message: string): void {
    this.saw(r);
    push(this.#warnings, keyString(keyOf(r)), message);
  }

  isRejected(r: Resource): boolean {
    return this.#errors.has(keyString(keyOf(r)));
  }

  /** result gives each resource seen its state: Rejected on any error, Warning on any warning. */
  result(): Map<string, ResourceReport> {
    const out = new Map<string, ResourceReport>();
    for (const k of [...this.#seen].sort()) {
      const errs = this.#errors.get(k);
      const warns = this.#warnings.get(k);
      if (errs) out.set(k, { state: 'Rejected', reason: [...errs, ...(warns ?? [])].join('; ') });
      else if (warns) out.set(k, { state: 'Warning', reason: warns.join('; ') });
      else out.set(k, { state: 'Accepted' });
    }
    return out;
  }
}

function push(m: Map<string, string[]>, k: string, v: string): void {
  const list = m.get(k);
  if (!list) m.set(k, [v]);
  else if (!list.includes(v)) list.push(v);
}

/** warnUnsupported warns about each Gloo field that is set but not acted on by meshgate. */
export function warnUnsupported(report: Report, r: Resource, obj: object | undefined, fields: readonly string[], path: string): void {
  if (!obj) return;
  for (const f of fields) {
    if ((obj as Record<string, unknown>)[f] !== undefined) report.warn(r, `${path}.${f}: not supported by meshgate yet; ignored`);
  }
}
