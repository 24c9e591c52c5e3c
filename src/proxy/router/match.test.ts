// Unit tests for compileMatch: path, method, header and query conditions over a hand-built
// RequestView, as the translator would produce them in an ir.RouteMatch.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type * as ir from '../../ir/index.js';
import { compileMatch, type RequestView } from './match.js';

interface Req {
  host?: string;
  method?: string;
  path?: string;
  query?: string;
  headers?: Record<string, string | string[]>;
}

/** req builds a RequestView; header names are lower-case as Node gives them, host is the Host header. */
function req(r: Req = {}): RequestView {
  const headers: Record<string, string | string[]> = { ...(r.host !== undefined ? { host: r.host } : {}), ...r.headers };
  return {
    host: r.host,
    method: r.method ?? 'GET',
    path: r.path ?? '/',
    query: r.query ?? '',
    header: (name) => headers[name],
  };
}

/** match builds an ir.RouteMatch: prefix `/`, case-sensitive, no other conditions unless given. */
function match(m: Partial<ir.RouteMatch> = {}): ir.RouteMatch {
  return { path: { kind: 'prefix', value: '/' }, caseSensitive: true, headers: [], queryParameters: [], methods: [], ...m };
}

interface Case {
  name: string;
  match: ir.RouteMatch;
  req: Req;
  want: boolean;
}

function runCases(cases: Case[]): void {
  for (const c of cases) {
    test(`${c.name} ${c.want ? 'matches' : 'does not match'}`, () => {
      assert.equal(compileMatch(c.match)(req(c.req)), c.want);
    });
  }
}

const prefix = (value: string, caseSensitive = true) => match({ path: { kind: 'prefix', value }, caseSensitive });
const exact = (value: string, caseSensitive = true) => match({ path: { kind: 'exact', value }, caseSensitive });
const regex = (value: string, caseSensitive = true) => match({ path: { kind: 'regex', value }, caseSensitive });

describe('path matching', () => {
  runCases([
    { name: 'prefix / with any path', match: prefix('/'), req: { path: '/anything/at/all' }, want: true },
    { name: 'prefix /api with /api/v1', match: prefix('/api'), req: { path: '/api/v1' }, want: true },
    { name: 'prefix /api with /api itself', match: prefix('/api'), req: { path: '/api' }, want: true },
    { name: 'prefix /api with /apis (a plain string prefix, as in Envoy)', match: prefix('/api'), req: { path: '/apis' }, want: true },
    { name: 'prefix /api with /v1/api', match: prefix('/api'), req: { path: '/v1/api' }, want: false },
    { name: 'case-sensitive prefix /api with /API', match: prefix('/api'), req: { path: '/API/v1' }, want: false },
    { name: 'case-insensitive prefix /api with /API', match: prefix('/api', false), req: { path: '/API/v1' }, want: true },
    { name: 'case-insensitive prefix /Api with /aPI/x', match: prefix('/Api', false), req: { path: '/aPI/x' }, want: true },
    { name: 'case-insensitive prefix /api with /other', match: prefix('/api', false), req: { path: '/other' }, want: false },
    { name: 'exact /get with /get', match: exact('/get'), req: { path: '/get' }, want: true },
    { name: 'exact /get with /get/', match: exact('/get'), req: { path: '/get/' }, want: false },
    { name: 'exact /get with /ge', match: exact('/get'), req: { path: '/ge' }, want: false },
    { name: 'case-sensitive exact /get with /GET', match: exact('/get'), req: { path: '/GET' }, want: false },
    { name: 'case-insensitive exact /get with /GET', match: exact('/get', false), req: { path: '/GET' }, want: true },
    { name: 'exact /get ignores the query string, which is not part of the path', match: exact('/get'), req: { path: '/get', query: 'a=1' }, want: true },
    { name: 'regex /a.* with /a/b', match: regex('/a.*'), req: { path: '/a/b' }, want: true },
    { name: 'regex /a.* with /b/a (anchored at the start)', match: regex('/a.*'), req: { path: '/b/a' }, want: false },
    { name: 'regex /a with /ab (anchored at the end)', match: regex('/a'), req: { path: '/ab' }, want: false },
    { name: 'regex with an alternation is anchored as a whole: /a|/b with /bx', match: regex('/a|/b'), req: { path: '/bx' }, want: false },
    { name: 'regex with an alternation: /a|/b with /b', match: regex('/a|/b'), req: { path: '/b' }, want: true },
    { name: 'regex /status/[0-9]+ with /status/418', match: regex('/status/[0-9]+'), req: { path: '/status/418' }, want: true },
    { name: 'regex /status/[0-9]+ with /status/abc', match: regex('/status/[0-9]+'), req: { path: '/status/abc' }, want: false },
    { name: 'case-sensitive regex /a.* with /A/b', match: regex('/a.*'), req: { path: '/A/b' }, want: false },
    { name: 'case-insensitive regex /a.* with /A/b', match: regex('/a.*', false), req: { path: '/A/b' }, want: true },
  ]);
});

describe('method matching', () => {
  const getOrHead = match({ methods: ['GET', 'HEAD'] });
  runCases([
    { name: 'methods GET,HEAD with GET', match: getOrHead, req: { method: 'GET' }, want: true },
    { name: 'methods GET,HEAD with HEAD', match: getOrHead, req: { method: 'HEAD' }, want: true },
    { name: 'methods GET,HEAD with POST', match: getOrHead, req: { method: 'POST' }, want: false },
    { name: 'no methods with DELETE', match: match(), req: { method: 'DELETE' }, want: true },
    { name: 'methods POST with a POST to a path outside the prefix', match: match({ path: { kind: 'prefix', value: '/post' }, methods: ['POST'] }), req: { method: 'POST', path: '/get' }, want: false },
  ]);
});

describe('header matching', () => {
  const h = (hm: Omit<ir.HeaderMatch, 'invert'> & { invert?: boolean }) => match({ headers: [{ invert: false, ...hm }] });
  runCases([
    { name: 'an exact header value with the same value', match: h({ name: 'x-env', value: 'prod' }), req: { headers: { 'x-env': 'prod' } }, want: true },
    { name: 'an exact header value with another value', match: h({ name: 'x-env', value: 'prod' }), req: { headers: { 'x-env': 'production' } }, want: false },
    { name: 'an exact header value with a different case', match: h({ name: 'x-env', value: 'prod' }), req: { headers: { 'x-env': 'PROD' } }, want: false },
    { name: 'an exact header value with the header missing', match: h({ name: 'x-env', value: 'prod' }), req: {}, want: false },
    { name: 'a regex header value that matches the whole value', match: h({ name: 'x-ver', value: 'v[0-9]+', regex: true }), req: { headers: { 'x-ver': 'v12' } }, want: true },
    { name: 'a regex header value that matches only part of the value', match: h({ name: 'x-ver', value: 'v[0-9]+', regex: true }), req: { headers: { 'x-ver': 'v12-beta' } }, want: false },
    { name: 'a value without regex is compared literally, not as a pattern', match: h({ name: 'x-ver', value: 'v.*' }), req: { headers: { 'x-ver': 'v1' } }, want: false },
    { name: 'a presence matcher with the header set', match: h({ name: 'x-debug' }), req: { headers: { 'x-debug': '' } }, want: true },
    { name: 'a presence matcher with the header missing', match: h({ name: 'x-debug' }), req: {}, want: false },
    { name: 'an inverted exact value with another value', match: h({ name: 'x-env', value: 'prod', invert: true }), req: { headers: { 'x-env': 'dev' } }, want: true },
    { name: 'an inverted exact value with the same value', match: h({ name: 'x-env', value: 'prod', invert: true }), req: { headers: { 'x-env': 'prod' } }, want: false },
    { name: 'an inverted exact value with the header missing', match: h({ name: 'x-env', value: 'prod', invert: true }), req: {}, want: true },
    { name: 'an inverted presence matcher with the header missing', match: h({ name: 'x-debug', invert: true }), req: {}, want: true },
    { name: 'an inverted presence matcher with the header set', match: h({ name: 'x-debug', invert: true }), req: { headers: { 'x-debug': '1' } }, want: false },
    { name: 'an inverted regex with a non-matching value', match: h({ name: 'x-ver', value: 'v[0-9]+', regex: true, invert: true }), req: { headers: { 'x-ver': 'beta' } }, want: true },
    { name: 'a repeated header is matched on its values joined with ","', match: h({ name: 'x-tag', value: 'a,b' }), req: { headers: { 'x-tag': ['a', 'b'] } }, want: true },
    { name: 'a repeated header does not match one of its values alone', match: h({ name: 'x-tag', value: 'a' }), req: { headers: { 'x-tag': ['a', 'b'] } }, want: false },
    { name: 'an :authority matcher with the same Host', match: h({ name: ':authority', value: 'example.com' }), req: { host: 'example.com' }, want: true },
    { name: 'an :authority matcher with another Host', match: h({ name: ':authority', value: 'example.com' }), req: { host: 'other.com' }, want: false },
    { name: 'an :authority regex matcher with a subdomain Host', match: h({ name: ':authority', value: '.*\\.example\\.com', regex: true }), req: { host: 'api.example.com' }, want: true },
    { name: 'an :authority presence matcher without a Host', match: h({ name: ':authority' }), req: {}, want: false },
    { name: 'a :method matcher with that method', match: h({ name: ':method', value: 'PUT' }), req: { method: 'PUT' }, want: true },
    { name: 'a :method matcher with another method', match: h({ name: ':method', value: 'PUT' }), req: { method: 'GET' }, want: false },
  ]);

  test('every header matcher must hold', () => {
    const m = compileMatch(match({ headers: [{ name: 'a', value: '1', invert: false }, { name: 'b', value: '2', invert: false }] }));
    assert.equal(m(req({ headers: { a: '1', b: '2' } })), true);
    assert.equal(m(req({ headers: { a: '1', b: '3' } })), false);
    assert.equal(m(req({ headers: { a: '1' } })), false);
  });
});

describe('query parameter matching', () => {
  const q = (qm: ir.QueryParameterMatch) => match({ queryParameters: [qm] });
  runCases([
    { name: 'a query value with the same value', match: q({ name: 'debug', value: 'true' }), req: { query: 'debug=true' }, want: true },
    { name: 'a query value among other parameters', match: q({ name: 'debug', value: 'true' }), req: { query: 'a=1&debug=true&b=2' }, want: true },
    { name: 'a query value with another value', match: q({ name: 'debug', value: 'true' }), req: { query: 'debug=false' }, want: false },
    { name: 'a query value with the parameter missing', match: q({ name: 'debug', value: 'true' }), req: { query: 'verbose=true' }, want: false },
    { name: 'a query value with no query string', match: q({ name: 'debug', value: 'true' }), req: {}, want: false },
    { name: 'a query value compared after percent-decoding', match: q({ name: 'q', value: 'a b' }), req: { query: 'q=a%20b' }, want: true },
    { name: 'a query regex that matches the whole value', match: q({ name: 'id', value: '[0-9]+', regex: true }), req: { query: 'id=42' }, want: true },
    { name: 'a query regex that matches only part of the value', match: q({ name: 'id', value: '[0-9]+', regex: true }), req: { query: 'id=42x' }, want: false },
    { name: 'a query regex with the parameter missing', match: q({ name: 'id', value: '.*', regex: true }), req: { query: 'other=1' }, want: false },
    { name: 'a query presence matcher with the parameter set', match: q({ name: 'debug' }), req: { query: 'debug' }, want: true },
    { name: 'a query presence matcher with an empty value', match: q({ name: 'debug' }), req: { query: 'debug=' }, want: true },
    { name: 'a query presence matcher with the parameter missing', match: q({ name: 'debug' }), req: { query: 'debugging=1' }, want: false },
  ]);

  test('every query matcher must hold', () => {
    const m = compileMatch(match({ queryParameters: [{ name: 'a', value: '1' }, { name: 'b' }] }));
    assert.equal(m(req({ query: 'a=1&b=x' })), true);
    assert.equal(m(req({ query: 'a=1' })), false);
    assert.equal(m(req({ query: 'b=x' })), false);
  });
});

describe('combined conditions', () => {
  const m = compileMatch(
    match({
      path: { kind: 'prefix', value: '/api' },
      methods: ['POST'],
      headers: [{ name: 'content-type', value: 'application/json', invert: false }],
      queryParameters: [{ name: 'dry-run', value: 'true' }],
    }),
  );
  const full: Req = { method: 'POST', path: '/api/items', headers: { 'content-type': 'application/json' }, query: 'dry-run=true' };

  test('a request meeting path, method, header and query conditions matches', () => {
    assert.equal(m(req(full)), true);
  });

  const spoilers: [string, Req][] = [
    ['the path', { path: '/web/items' }],
    ['the method', { method: 'GET' }],
    ['the header', { headers: { 'content-type': 'text/plain' } }],
    ['the query', { query: 'dry-run=false' }],
  ];
  for (const [what, change] of spoilers) {
    test(`a request that fails only on ${what} does not match`, () => {
      assert.equal(m(req({ ...full, ...change })), false);
    });
  }
});
