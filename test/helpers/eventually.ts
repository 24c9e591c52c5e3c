/**
 * eventually polls a probe until it passes, instead of sleeping a fixed time. The probe passes
 * when it returns (or resolves) anything but `false` without throwing; assertions inside it are
 * the usual way to say what must become true. On timeout the last failure is rethrown.
 */
import { setTimeout as delay } from 'node:timers/promises';

export interface EventuallyOptions {
  /** timeoutMs bounds the whole wait (default 5000). */
  readonly timeoutMs?: number;
  /** intervalMs is the pause between two tries (default 10). */
  readonly intervalMs?: number;
  /** message prefixes the error thrown on timeout. */
  readonly message?: string;
}

export async function eventually<T>(probe: () => T | Promise<T>, opts: EventuallyOptions = {}): Promise<Exclude<T, false>> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const intervalMs = opts.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== false) return v as Exclude<T, false>;
      last = new Error('probe returned false');
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const why = last instanceof Error ? last.message : String(last);
      const err = new Error(`${opts.message ?? 'eventually'}: still failing after ${timeoutMs} ms: ${why}`, { cause: last });
      throw err;
    }
    await delay(intervalMs);
  }
}

/** Deferred is a promise with its resolve exposed: a gate a test opens when it wants. */
export interface Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
