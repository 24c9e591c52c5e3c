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

/**
 * ReportEntry is one call made on a Report, kept so that a cached translation can replay it:
 * [0, key] for saw, [1, key, message] for error, [2, key, message] for warn.
 */
export type ReportEntry = readonly [0, string] | readonly [1 | 2, string, string];

/** ACCEPTED is the outcome of every resource without errors or warnings (shared: outcomes are read-only). */
const ACCEPTED: ResourceReport = Object.freeze({ state: 'Accepted' });

export class Report {
  readonly #errors = new Map<string, string[]>();
  readonly #warnings = new Map<string, string[]>();
  readonly #seen = new Set<string>();
  /** #log, while record runs, receives every call. */
  #log: ReportEntry[] | undefined;

  /** saw records that a resource took part, so it gets a status even when all is well. */
  saw(r: Resource): void {
    this.#apply([0, keyString(keyOf(r))]);
  }

  error(r: Resource, message: string): void {
    this.#apply([1, keyString(keyOf(r)), message]);
  }

  warn(r: Resource, message: string): void {
    this.#apply([2, keyString(keyOf(r)), message]);
  }

  /**
   * record runs fn and returns what it returned with the calls it made on this report, which
   * replay makes again: a translation that depends on nothing else replays them when cached.
   */
  record<T>(fn: () => T): [T, ReportEntry[]] {
    const outer = this.#log;
    const log: ReportEntry[] = [];
    this.#log = log;
    try {
      return [fn(), log];
    } finally {
      this.#log = outer;
      if (outer) outer.push(...log);
    }
  }

  /** replay makes the calls record saw, in order. */
  replay(entries: readonly ReportEntry[]): void {
    for (const e of entries) this.#apply(e);
  }

  #apply(e: ReportEntry): void {
    this.#log?.push(e);
    this.#seen.add(e[1]);
    if (e[0] === 1) push(this.#errors, e[1], e[2]);
    else if (e[0] === 2) push(this.#warnings, e[1], e[2]);
  }

  isRejected(r: Resource): boolean {
    return this.#errors.has(keyString(keyOf(r)));
  }

  /** result gives each resource seen its state: Rejected on any error, Warning on any warning. */
  result(order?: KeyOrder): Map<string, ResourceReport> {
    const out = new Map<string, ResourceReport>();
    for (const k of order ? order.sorted([...this.#seen]) : [...this.#seen].sort()) {
      const errs = this.#errors.get(k);
      const warns = this.#warnings.get(k);
      if (errs) out.set(k, { state: 'Rejected', reason: [...errs, ...(warns ?? [])].join('; ') });
      else if (warns) out.set(k, { state: 'Warning', reason: warns.join('; ') });
      else out.set(k, ACCEPTED);
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

/**
 * KeyOrder sorts the keys of successive reports, reusing the last order when the keys come in
 * the same order as last time (the same resources, translated in the same order).
 */
export class KeyOrder {
  #last: readonly string[] = [];
  #sorted: readonly string[] = [];

  sorted(keys: string[]): readonly string[] {
    const last = this.#last;
    let same = last.length === keys.length;
    for (let i = 0; same && i < keys.length; i++) same = keys[i] === last[i];
    if (!same) {
      this.#last = keys;
      this.#sorted = [...keys].sort();
    }
    return this.#sorted;
  }
}
