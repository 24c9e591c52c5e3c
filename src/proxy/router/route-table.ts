/**
 * RouteTable is a listener's routing, built once per snapshot: virtual hosts indexed by domain,
 * routes as closures, and the listener's path normalizer (normalize-path.ts), which runs before
 * any route sees the path.
 *
 * Lookups do not grow with the number of virtual hosts: exact domains are a Map lookup, and
 * wildcard domains are tried longest first, by scanning them while there are few (no
 * allocation) and, past WILDCARD_SCAN, with one Map lookup per distinct wildcard length (as
 * Envoy's wildcard_virtual_host_suffixes_ does).
 *
 * A snapshot that changes a few virtual hosts of thousands costs what changed: a virtual host is
 * compiled once per ir object (the CompiledVirtualHosts cache), and the domain index, which maps
 * domains to positions in the listener's list, is shared with the last table when every virtual
 * host keeps its place and its domains.
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

/** CompiledVirtualHosts caches compiled virtual hosts by ir object, from one table to the next. */
export type CompiledVirtualHosts = WeakMap<ir.VirtualHost, CompiledVirtualHost>;

/** WILDCARD_SCAN is how many wildcards of a kind are scanned; more are looked up by length. */
export const WILDCARD_SCAN = 16;

/**
 * Wildcards are the suffix (`*.example.com`, kept as `.example.com`) or prefix (`api.*`, kept
 * as `api.`) wildcards of a listener, each with the position of its virtual host: the longest
 * that matches wins, and of equal ones the first listed. A wildcard matches only a longer host
 * (`*.x` does not match `.x`), as in Envoy.
 */
class Wildcards {
  /** list, longest first (a stable sort: equal ones keep their order). */
  readonly #list: [string, number][] = [];
  /** byText and lengths (longest first), once there are more than WILDCARD_SCAN. */
  #byText: Map<string, number> | undefined;
  #lengths: number[] = [];
  readonly #suffix: boolean;

  constructor(suffix: boolean) {
    this.#suffix = suffix;
  }

  add(text: string, at: number): void {
    this.#list.push([text, at]);
  }

  seal(): void {
    this.#list.sort((a, b) => b[0].length - a[0].length);
    if (this.#list.length <= WILDCARD_SCAN) return;
    this.#byText = new Map();
    for (const [text, at] of this.#list) if (!this.#byText.has(text)) this.#byText.set(text, at);
    this.#lengths = [...new Set(this.#list.map(([text]) => text.length))];
  }

  /** match returns the position of the virtual host of the wildcard that matches h, or -1. */
  match(h: string): number {
    const byText = this.#byText;
    if (byText === undefined) {
      if (this.#suffix) {
        for (const [suffix, at] of this.#list) if (h.length > suffix.length && h.endsWith(suffix)) return at;
      } else {
        for (const [prefix, at] of this.#list) if (h.length > prefix.length && h.startsWith(prefix)) return at;
      }
      return -1;
    }
    for (const n of this.#lengths) {
      if (n >= h.length) continue;
      const at = byText.get(this.#suffix ? h.slice(h.length - n) : h.slice(0, n));
      if (at !== undefined) return at;
    }
    return -1;
  }
}

/** DomainIndex maps a listener's domains to the positions of their virtual hosts. */
class DomainIndex {
  readonly exact = new Map<string, number>();
  readonly suffix = new Wildcards(true);
  readonly prefix = new Wildcards(false);
  any = -1;

  constructor(virtualHosts: readonly ir.VirtualHost[]) {
    virtualHosts.forEach((vh, at) => {
      for (const d of vh.domains) {
        if (d === '*') {
          if (this.any < 0) this.any = at;
        } else if (d.startsWith('*')) this.suffix.add(d.slice(1), at);
        else if (d.endsWith('*')) this.prefix.add(d.slice(0, -1), at);
        else if (!this.exact.has(d)) this.exact.set(d, at);
      }
    });
    this.suffix.seal();
    this.prefix.seal();
  }
}

export class RouteTable {
  /** #listener is what the table was built from (the next table compares its virtual hosts). */
  readonly #listener: ir.Listener;
  readonly #index: DomainIndex;
  /** #vhosts are the compiled virtual hosts, in the listener's order. */
  readonly #vhosts: readonly CompiledVirtualHost[];
  /**
   * normalizePath is the listener's path handling (normalizePath, mergeSlashes,
   * pathWithEscapedSlashesAction); the path it returns is the one to route and forward.
   */
  readonly normalizePath: PathNormalizer;

  /**
   * compiled, when given, is the cache of compiled virtual hosts to use and fill; previous, the
   * table this one replaces, whose domain index is reused when it still fits.
   */
  constructor(listener: ir.Listener, compiled?: CompiledVirtualHosts, previous?: RouteTable) {
    this.#listener = listener;
    // A hand-built listener may lack `http`; the translator always fills it in.
    this.normalizePath = compilePathNormalizer((listener.http as ir.HttpSettings | undefined) ?? DEFAULT_HTTP_SETTINGS);
    const vhs = listener.virtualHosts;
    // The usual case: the last table's list with a few virtual hosts replaced in place.
    const before = previous && previous.#listener.virtualHosts.length === vhs.length ? previous : undefined;
    const oldVhs = before ? before.#listener.virtualHosts : [];
    const oldCompiled = before ? before.#vhosts : [];
    let sameDomains = before !== undefined;
    this.#vhosts = vhs.map((vh, i) => {
      const old = oldVhs[i];
      if (old === vh) return oldCompiled[i]!;
      if (sameDomains && (old === undefined || !equalDomains(old, vh))) sameDomains = false;
      let c = compiled?.get(vh);
      if (!c) {
        const fresh: CompiledVirtualHost = { vhost: vh, routes: [] };
        (fresh.routes as CompiledRoute[]).push(...vh.routes.map((r) => ({ route: r, vhost: fresh, matches: compileMatch(r.match) })));
        compiled?.set(vh, fresh);
        c = fresh;
      }
      return c;
    });
    this.#index = before && sameDomains ? before.#index : new DomainIndex(vhs);
  }

  /**
   * virtualHost picks the virtual host for a Host header: exact, then the longest suffix
   * wildcard, then the longest prefix wildcard, then `*` (Envoy's order). A host with a port
   * matches an exact domain written with that port first, then is looked up without the port
   * (so `example.com` serves `example.com:8080`), then with it against the wildcards.
   */
  virtualHost(host: string | undefined): CompiledVirtualHost | undefined {
    const index = this.#index;
    if (host === undefined) return this.#any();
    const h = host.toLowerCase();
    const exact = index.exact.get(h);
    if (exact !== undefined) return this.#vhosts[exact];
    const colon = h.lastIndexOf(':');
    if (colon > 0 && h.indexOf(']') < colon) {
      // The host without its port is looked up whole before any wildcard sees the port, so
      // `api.example.com:8080` finds `api.example.com` rather than `api.*`.
      const bare = this.#lookup(h.slice(0, colon));
      if (bare >= 0) return this.#vhosts[bare];
    }
    const at = this.#lookup(h);
    return at >= 0 ? this.#vhosts[at] : this.#any();
  }

  #any(): CompiledVirtualHost | undefined {
    const at = this.#index.any;
    return at >= 0 ? this.#vhosts[at] : undefined;
  }

  /** #lookup returns the position of the virtual host for h (exact, suffix, prefix), or -1. */
  #lookup(h: string): number {
    const index = this.#index;
    const exact = index.exact.get(h);
    if (exact !== undefined) return exact;
    const suffix = index.suffix.match(h);
    return suffix >= 0 ? suffix : index.prefix.match(h);
  }

  /** route returns the first route of the virtual host that matches, or undefined (404). */
  route(req: RequestView): CompiledRoute | undefined {
    const vh = this.virtualHost(req.host);
    if (!vh) return undefined;
    for (const r of vh.routes) if (r.matches(req)) return r;
    return undefined;
  }
}

/** equalDomains tells two virtual hosts with the same domains, in the same order. */
function equalDomains(a: ir.VirtualHost, b: ir.VirtualHost): boolean {
  return a.domains === b.domains || (a.domains.length === b.domains.length && a.domains.every((d, j) => d === b.domains[j]));
}
