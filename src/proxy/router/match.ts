/**
 * compileMatch turns an ir.RouteMatch into a predicate over a request, once per snapshot. Regexes
 * are anchored (Envoy's safe_regex must match the whole value).
 */
import type * as ir from '../../ir/index.js';

/** RequestView is what route matching may look at. */
export interface RequestView {
  readonly host: string | undefined;
  readonly method: string;
  /** path without the query string. */
  readonly path: string;
  /** query is the text after `?`, without it; empty when there is none. */
  readonly query: string;
  /** header returns a header's value(s), by lower-case name. */
  header(name: string): string | string[] | undefined;
}

export type MatchFn = (req: RequestView) => boolean;

/** compileMatch builds the predicate; every condition must hold. */
export function compileMatch(m: ir.RouteMatch): MatchFn {
  const checks: MatchFn[] = [compilePath(m.path, m.caseSensitive)];
  if (m.methods.length) {
    const methods = new Set(m.methods);
    checks.push((r) => methods.has(r.method));
  }
  for (const h of m.headers) checks.push(compileHeader(h));
  if (m.queryParameters.length) {
    const qs = m.queryParameters.map(compileQuery);
    checks.push((r) => {
      const params = new URLSearchParams(r.query);
      return qs.every((q) => q(params));
    });
  }
  if (checks.length === 1) return checks[0]!;
  return (r) => {
    for (const c of checks) if (!c(r)) return false;
    return true;
  };
}

function compilePath(p: ir.PathMatch, caseSensitive: boolean): MatchFn {
  switch (p.kind) {
    case 'prefix': {
      if (p.value === '/') return () => true;
      const v = caseSensitive ? p.value : p.value.toLowerCase();
      return caseSensitive ? (r) => r.path.startsWith(v) : (r) => r.path.toLowerCase().startsWith(v);
    }
    case 'exact': {
      const v = caseSensitive ? p.value : p.value.toLowerCase();
      return caseSensitive ? (r) => r.path === v : (r) => r.path.toLowerCase() === v;
    }
    case 'regex': {
      const re = new RegExp(`^(?:${p.value})$`, caseSensitive ? '' : 'i');
      return (r) => re.test(r.path);
    }
  }
}

function compileHeader(h: ir.HeaderMatch): MatchFn {
  // Envoy matches `:authority` for Host and `:method` for the method; Gloo users write those names.
  const name = h.name === ':authority' ? 'host' : h.name;
  let test: (v: string) => boolean;
  if (h.value === undefined) test = () => true;
  else if (h.regex) {
    const re = new RegExp(`^(?:${h.value})$`);
    test = (v) => re.test(v);
  } else {
    const want = h.value;
    test = (v) => v === want;
  }
  const get = name === ':method' ? (r: RequestView) => r.method : (r: RequestView) => r.header(name);
  return (r) => {
    const v = get(r);
    // Several values of one header are matched as Envoy sees them: joined with ",".
    const present = v !== undefined;
    const ok = present && test(Array.isArray(v) ? v.join(',') : v);
    return h.invert ? !ok : ok;
  };
}

function compileQuery(q: ir.QueryParameterMatch): (p: URLSearchParams) => boolean {
  if (q.value === undefined) return (p) => p.has(q.name);
  if (q.regex) {
    const re = new RegExp(`^(?:${q.value})$`);
    return (p) => {
      const v = p.get(q.name);
      return v !== null && re.test(v);
    };
  }
  const want = q.value;
  return (p) => p.get(q.name) === want;
}
