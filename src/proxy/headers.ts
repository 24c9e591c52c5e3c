/**
 * Header rules at the proxy: which headers are hop-by-hop (never forwarded), and the headers
 * Envoy adds on the way to the upstream and back.
 */
import type * as ir from '../ir/index.js';

/**
 * HOP_BY_HOP are connection-level headers (RFC 9110 §7.6.1) that must not cross the proxy.
 * `expect` is answered by the proxy itself (Node sends 100 Continue) and undici refuses it.
 */
export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'upgrade', 'trailer',
  'proxy-authenticate', 'http2-settings', 'expect',
]);

/** HOP_LENGTHS are the lengths of those names: most names are ruled out without hashing them. */
const HOP_LENGTHS = new Set([...HOP_BY_HOP].map((h) => h.length));

/** isHopByHop tells a lower-case header name that must not be forwarded. */
export function isHopByHop(lowerName: string): boolean {
  return HOP_LENGTHS.has(lowerName.length) && HOP_BY_HOP.has(lowerName);
}

/** connectionTokens lists the extra hop-by-hop headers a Connection header names. */
export function connectionTokens(value: string | undefined): string[] {
  // The usual values name no other header: no splitting (an upstream answers keep-alive each time).
  if (!value || value === 'keep-alive' || value === 'close') return [];
  return value.split(',').map((t) => t.trim().toLowerCase()).filter((t) => t && t !== 'close' && t !== 'keep-alive');
}

/**
 * applyHeaderManipulation applies an ir.HeaderManipulation's request or response part to a flat
 * [name, value, ...] list: removals first, then additions (append, or replace when append is false).
 */
export function applyHeaderManipulation(flat: string[], toAdd: readonly ir.HeaderValueOption[], toRemove: readonly string[]): void {
  if (toRemove.length) removeHeaders(flat, toRemove);
  for (const h of toAdd) {
    if (!h.append) removeHeaders(flat, [h.key]);
    flat.push(h.key, h.value);
  }
}

function removeHeaders(flat: string[], names: readonly string[]): void {
  let w = 0;
  for (let r = 0; r < flat.length; r += 2) {
    if (names.includes(flat[r]!.toLowerCase())) continue;
    flat[w++] = flat[r]!;
    flat[w++] = flat[r + 1]!;
  }
  flat.length = w;
}
