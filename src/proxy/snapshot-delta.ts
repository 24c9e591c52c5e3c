/**
 * Snapshot deltas for proxy workers: a new snapshot as changes to one a worker already applied.
 * The control plane's incremental translation hands over snapshots that share unchanged virtual
 * hosts and upstreams by identity; across the IPC pipe identity is lost, and 10,000 virtual
 * hosts are megabytes of JSON to send, parse and compile again in every worker. A delta carries
 * only the virtual hosts that changed (by identity), and applyDelta rebuilds the snapshot around
 * the worker's own objects, so its Proxy reuses their compiled forms and clusters.
 */
import type * as ir from '../ir/index.js';

/** ListenerDelta is one listener of the new snapshot. */
export type ListenerDelta =
  /** keep: the base's listener at this index, as it was. */
  | { readonly keep: number }
  /** patch: the base's listener at this index with these fields and these virtual hosts replaced (same count). */
  | {
      readonly patch: number;
      readonly fields: Omit<ir.Listener, 'virtualHosts'>;
      readonly changed: readonly (readonly [number, ir.VirtualHost])[];
    }
  /** full: a listener sent whole. */
  | { readonly full: ir.Listener };

/** SnapshotDelta turns the snapshot of version base into the snapshot of version version. */
export interface SnapshotDelta {
  readonly base: string;
  readonly version: string;
  readonly proxy: string;
  readonly listeners: readonly ListenerDelta[];
  /** upstreams, when they changed; absent: the base's. */
  readonly upstreams?: ir.Snapshot['upstreams'];
}

/** MAX_PATCHED is the share of a listener's virtual hosts past which it is sent whole. */
const MAX_PATCHED = 0.25;

/** snapshotDelta describes next as changes to base, or returns undefined when sending next whole is as good. */
export function snapshotDelta(base: ir.Snapshot, next: ir.Snapshot): SnapshotDelta | undefined {
  if (base.proxy !== next.proxy) return undefined;
  const byName = new Map(base.listeners.map((l, i) => [l.name, i]));
  let shared = false;
  const listeners = next.listeners.map((l): ListenerDelta => {
    const at = byName.get(l.name);
    const old = at === undefined ? undefined : base.listeners[at]!;
    if (old === l) {
      shared = true;
      return { keep: at! };
    }
    if (!old || old.virtualHosts.length !== l.virtualHosts.length) return { full: l };
    const changed: [number, ir.VirtualHost][] = [];
    const limit = Math.max(16, l.virtualHosts.length * MAX_PATCHED);
    for (let i = 0; i < l.virtualHosts.length; i++) {
      if (l.virtualHosts[i] !== old.virtualHosts[i] && changed.push([i, l.virtualHosts[i]!]) > limit) return { full: l };
    }
    shared = true;
    const { virtualHosts: _vhs, ...fields } = l;
    return { patch: at!, fields, changed };
  });
  if (!shared && next.upstreams !== base.upstreams) return undefined;
  return {
    base: base.version,
    version: next.version,
    proxy: next.proxy,
    listeners,
    ...(next.upstreams !== base.upstreams ? { upstreams: next.upstreams } : {}),
  };
}

/** applyDelta rebuilds the new snapshot from the base it was made against (a worker's copy of it). */
export function applyDelta(base: ir.Snapshot, d: SnapshotDelta): ir.Snapshot {
  if (base.version !== d.base) throw new Error(`snapshot delta for base ${d.base} applied to ${base.version}`);
  const listeners = d.listeners.map((ld): ir.Listener => {
    if ('full' in ld) return ld.full;
    if ('keep' in ld) return base.listeners[ld.keep]!;
    const virtualHosts = base.listeners[ld.patch]!.virtualHosts.slice();
    for (const [i, vh] of ld.changed) virtualHosts[i] = vh;
    return { ...ld.fields, virtualHosts };
  });
  return { version: d.version, proxy: d.proxy, listeners, upstreams: d.upstreams ?? base.upstreams };
}
