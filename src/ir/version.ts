/**
 * Content versions: sha256 of canonical JSON (object keys sorted). A snapshot's version is a tree
 * hash (snapshotVersion), so that a control plane holding thousands of virtual hosts re-hashes
 * only the ones that changed.
 */
import { createHash, hash } from 'node:crypto';
import type { Snapshot, VirtualHost } from './snapshot.js';

/** canonicalJson serializes a value with object keys sorted, so equal content gives equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v as Record<string, unknown>).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

/** contentVersion is the first 16 hex digits of the sha256 of the canonical JSON. */
export function contentVersion(value: unknown): string {
  // crypto.hash: one call, no Hash object (a snapshot of 10,000 virtual hosts hashes each).
  return hash('sha256', canonicalJson(value), 'hex').slice(0, 16);
}

/**
 * VersionCache remembers the content version of virtual hosts and upstreams by identity (a
 * producer reuses unchanged ones from one snapshot to the next; snapshots are never mutated), and
 * the sorted order of the last set of upstream names.
 */
export class VersionCache {
  /** digests of virtual hosts, upstreams and upstream records, by identity. */
  readonly digests = new WeakMap<object, string>();
  names: readonly string[] = [];
  sorted: readonly string[] = [];
  /** listeners: by name, the last list of virtual hosts hashed and their digests, joined. */
  readonly listeners = new Map<string, { readonly vhosts: readonly VirtualHost[]; readonly joined: string }>();
}

/** DIGEST_LENGTH is the length of a digest: 16 hex digits. */
const DIGEST_LENGTH = 16;

/** MAX_SPLICES is how many changed virtual hosts are spliced into a listener's digests before they are joined anew. */
const MAX_SPLICES = 64;

/**
 * snapshotVersion is a snapshot's version, a tree hash: the first 16 hex digits of the sha256 of
 *   canonicalJson(the snapshot without version, listeners and upstreams)
 *   then for each listener: "\n", canonicalJson(the listener without virtualHosts), and the
 *     digest of each of its virtual hosts, in order;
 *   then "\n" and the upstreams' digest: the first 16 hex digits of the sha256 of, for each
 *     upstream in name order, JSON.stringify(name), ":", its digest, ",".
 * A virtual host's or upstream's digest is the first 16 hex digits of the sha256 of its JSON in
 * its own key order: the translator builds them in an order fixed by its code, so equal content
 * gives an equal version, and native JSON costs a fraction of canonical JSON (10,000 of each on a
 * full translation). Content built in another key order gets another version: that costs a
 * needless push, never a missed change. The framing is unambiguous (JSON has no raw newline;
 * digests have a fixed width). With a cache, a new snapshot costs one hash per changed virtual
 * host or upstream plus one over the digests, instead of one over the whole snapshot (megabytes
 * at 10,000 virtual hosts).
 */
export function snapshotVersion(snapshot: Omit<Snapshot, 'version'>, cache?: VersionCache): string {
  const { version: _version, listeners, upstreams, ...rest } = snapshot as Snapshot;
  const digests = cache?.digests;
  const digest = (o: object): string => {
    let d = digests?.get(o);
    if (d === undefined) {
      d = hash('sha256', JSON.stringify(o), 'hex').slice(0, DIGEST_LENGTH);
      digests?.set(o, d);
    }
    return d;
  };
  const h = createHash('sha256').update(canonicalJson(rest));
  for (const l of listeners) {
    const { virtualHosts, ...fields } = l;
    h.update(`\n${canonicalJson(fields)}`).update(joinedDigests(l.name, virtualHosts, digest, cache));
  }
  let all = digests?.get(upstreams);
  if (all === undefined) {
    const names = sortedNames(Object.keys(upstreams), cache);
    const text = names.map((name) => `${JSON.stringify(name)}:${digest(upstreams[name]!)},`).join('');
    all = hash('sha256', text, 'hex').slice(0, 16);
    digests?.set(upstreams, all);
  }
  return h.update(`\n${all}`).digest('hex').slice(0, 16);
}

/**
 * joinedDigests is the digests of a listener's virtual hosts, joined. With a cache, a list that
 * differs from the listener's last one in a few places (compared by identity, the usual new
 * snapshot) gets the last digests with those few spliced in, without a lookup per virtual host.
 */
function joinedDigests(name: string, vhosts: readonly VirtualHost[], digest: (o: object) => string, cache: VersionCache | undefined): string {
  const last = cache?.listeners.get(name);
  let joined: string | undefined;
  if (last && last.vhosts.length === vhosts.length) {
    joined = last.joined;
    let splices = 0;
    for (let i = 0; i < vhosts.length && joined !== undefined; i++) {
      if (vhosts[i] === last.vhosts[i]) continue;
      joined = ++splices > MAX_SPLICES ? undefined : joined.slice(0, i * DIGEST_LENGTH) + digest(vhosts[i]!) + joined.slice((i + 1) * DIGEST_LENGTH);
    }
  }
  // Joined at once (a flat string): hashing a string built by thousands of += costs more than building it.
  joined ??= vhosts.map(digest).join('');
  cache?.listeners.set(name, { vhosts, joined });
  return joined;
}

/** sortedNames sorts names, reusing the cache's last order when the names are the same as last time. */
function sortedNames(names: string[], cache: VersionCache | undefined): readonly string[] {
  if (!cache) return names.sort();
  const last = cache.names;
  let same = last.length === names.length;
  for (let i = 0; same && i < names.length; i++) same = names[i] === last[i];
  if (!same) {
    cache.names = names;
    cache.sorted = [...names].sort();
  }
  return cache.sorted;
}
