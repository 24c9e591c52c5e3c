/**
 * RouteTable is a listener's routing, compiled once per snapshot: virtual hosts indexed by
 * domain, routes as closures, and the listener's path normalizer (normalize-path.ts), which
 * runs before any route sees the path. Lookups allocate nothing and do not grow with the number
 * of exactly-named virtual hosts (a Map lookup); wildcard domains are tried longest first.
 */
import type * as ir from '../../ir/index.js';
import { DEFAULT_HTTP_SETTINGS } from '../../ir/snapshot.js';
import { compileMatch, type MatchFn, type RequestView } from './match.js';
import { compilePathNormalizer, type PathNormalizer } from './normalize-path.js';

/** CompiledRoute is an ir.Route with its matcher compiled. */
export interface CompiledRoute {
  readonly route: ir.Route;
  readonly vhost: CompiledVirtualHost;
  readonly matches: MatchFn;
}

/** CompiledVirtualHost is an ir.VirtualHost with its routes compiled, in order. */
export interface CompiledVirtualHost {
  readonly vhost: ir.VirtualHost;
  readonly routes: readonly CompiledRoute[];
}

export class RouteTable {
  readonly #exact = new Map<string, CompiledVirtualHost>();
  /** suffix wildcards `*.example.com` (stored as `.example.com`), longest first. */
  readonly #suffix: [string, CompiledVirtualHost][] = [];
  /** prefix wildcards `api.*` (stored as `api.`), longest first. */
  readonly #prefix: [string, CompiledVirtualHost][] = [];
  #any: CompiledVirtualHost | undefined;
  /**
   * normalizePath is the listener's path handling (normalizePath, mergeSlashes,
   * pathWithEscapedSlashesAction); the path it returns is the one to route and forward.
   */
  readonly normalizePath: PathNormalizer;

  constructor(listener: ir.Listener) {
    // A hand-built listener may lack `http`; the translator always fills it in.
    this.normalizePath = compilePathNormalizer((listener.http as ir.HttpSettings | undefined) ?? DEFAULT_HTTP_SETTINGS);
    for (const vh of listener.virtualHosts) {
      const compiled: CompiledVirtualHost = { vhost: vh, routes: [] };
      (compiled.routes as CompiledRoute[]).push(...vh.routes.map((r) => ({ route: r, vhost: compiled, matches: compileMatch(r.match) })));
      for (const d of vh.domains) {
        if (d === '*') this.#any ??= compiled;
        else if (d.startsWith('*')) this.#suffix.push([d.slice(1), compiled]);
        else if (d.endsWith('*')) this.#prefix.push([d.slice(0, -1), compiled]);
        else if (!this.#exact.has(d)) this.#exact.set(d, compiled);
      }
    }
    this.#suffix.sort((a, b) => b[0].length - a[0].length);
    this.#prefix.sort((a, b) => b[0].length - a[0].length);
  }

  /**
   * virtualHost picks the virtual host for a Host header: exact, then the longest suffix
   * wildcard, then the longest prefix wildcard, then `*` (Envoy's order). A host with a port
   * matches an exact domain written with that port first, then is looked up without the port
   * (so `example.com` serves `example.com:8080`), then with it against the wildcards.
   */
  virtualHost(host: string | undefined): CompiledVirtualHost | undefined {
    if (host === undefined) return this.#any;
    const h = host.toLowerCase();
    const exact = this.#exact.get(h);
    if (exact) return exact;
    const colon = h.lastIndexOf(':');
    if (colon > 0 && h.indexOf(']') < colon) {
      // The host without its port is looked up whole before any wildcard sees the port, so
      // `api.example.com:8080` finds `api.example.com` rather than `api.*`.
      const bare = this.#lookup(h.slice(0, colon));
      if (bare) return bare;
    }
    return this.#lookup(h) ?? this.#any;
  }

  #lookup(h: string): CompiledVirtualHost | undefined {
    const exact = this.#exact.get(h);
    if (exact) return exact;
    // A wildcard must match at least one character (`*.x` does not match `.x`), as in Envoy.
    for (const [suffix, vh] of this.#suffix) if (h.length > suffix.length && h.endsWith(suffix)) return vh;
    for (const [prefix, vh] of this.#prefix) if (h.length > prefix.length && h.startsWith(prefix)) return vh;
    return undefined;
  }

  /** route returns the first route of the virtual host that matches, or undefined (404). */
  route(req: RequestView): CompiledRoute | undefined {
    const vh = this.virtualHost(req.host);
    if (!vh) return undefined;
    for (const r of vh.routes) if (r.matches(req)) return r;
    return undefined;
  }
}
