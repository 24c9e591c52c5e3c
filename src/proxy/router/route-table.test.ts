// Unit tests for RouteTable: virtual host selection by Host (Envoy's domain search order) and
// first-match-wins route selection, over hand-built ir.Listener objects.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import * as ir from '../../ir/index.js';
import { RouteTable, WILDCARD_SCAN, type CompiledVirtualHosts } from './route-table.js';
import type { RequestView } from './match.js';

function route(name: string, match: Partial<ir.RouteMatch> = {}): ir.Route {
  return {
    name,
    match: { path: { kind: 'prefix', value: '/' }, caseSensitive: true, headers: [], queryParameters: [], methods: [], ...match },
    action: { type: 'direct-response', status: 200, body: name },
  };
}

function vhost(name: string, domains: string[], routes: ir.Route[] = [route(`${name}.route-0`)]): ir.VirtualHost {
  return { name, domains, routes };
}

function listener(...virtualHosts: ir.VirtualHost[]): ir.Listener {
  return { name: 'gloo-system.gateway-proxy', bindAddress: '::', bindPort: 8080, ssl: false, virtualHosts, http: ir.DEFAULT_HTTP_SETTINGS };
}

function req(host: string | undefined, path = '/', method = 'GET', headers: Record<string, string> = {}): RequestView {
  const all: Record<string, string> = { ...(host !== undefined ? { host } : {}), ...headers };
  return { host, method, path, query: '', header: (n) => all[n] };
}

describe('RouteTable virtual host selection', () => {
  // One virtual host per kind of domain, so the winner says which rule applied.
  const table = new RouteTable(
    listener(
      vhost('any', ['*']),
      vhost('prefix-api', ['api.*']),
      vhost('prefix-api-example', ['api.example.*']),
      vhost('suffix-example', ['*.example.com']),
      vhost('suffix-api-example', ['*.api.example.com']),
      vhost('exact-api', ['api.example.com']),
      vhost('exact-bare', ['example.com']),
      vhost('exact-port', ['ported.example.org:9090']),
    ),
  );

  const cases: [string, string | undefined, string][] = [
    ['an exact domain beats the suffix and prefix wildcards that also match', 'api.example.com', 'exact-api'],
    ['a suffix wildcard beats *', 'www.example.com', 'suffix-example'],
    ['a suffix wildcard beats a prefix wildcard that also matches', 'api.x.example.com', 'suffix-example'],
    ['the longest suffix wildcard wins', 'v1.api.example.com', 'suffix-api-example'],
    ['a prefix wildcard beats *', 'api.other.net', 'prefix-api'],
    ['the longest prefix wildcard wins', 'api.example.net', 'prefix-api-example'],
    ['* catches a host nothing else matches', 'unknown.test', 'any'],
    ['*.example.com does not match example.com itself, which its exact domain serves', 'example.com', 'exact-bare'],
    ['*.example.com does not match .example.com (the wildcard needs at least one character)', '.example.com', 'any'],
    ['api.* does not match api. (the wildcard needs at least one character)', 'api.', 'any'],
    ['Host is matched case-insensitively against exact domains', 'API.Example.COM', 'exact-api'],
    ['Host is matched case-insensitively against wildcards', 'WWW.EXAMPLE.COM', 'suffix-example'],
    ['a Host with a port falls back to the domain without it', 'example.com:8080', 'exact-bare'],
    ['a Host with a port falls back to a suffix wildcard without it', 'www.example.com:8443', 'suffix-example'],
    ['a domain written with a port matches that Host as written', 'ported.example.org:9090', 'exact-port'],
    ['a domain written with a port does not match another port', 'ported.example.org:9091', 'any'],
    ['a request without a Host goes to *', undefined, 'any'],
    ['an empty Host goes to *', '', 'any'],
  ];
  for (const [name, host, want] of cases) {
    test(`${name} (${JSON.stringify(host)} → ${want})`, () => {
      assert.equal(table.virtualHost(host)?.vhost.name, want);
    });
  }

  test('without a * domain, a Host that matches nothing has no virtual host', () => {
    const t = new RouteTable(listener(vhost('exact', ['example.com']), vhost('suffix', ['*.example.com']), vhost('prefix', ['api.*'])));
    assert.equal(t.virtualHost('other.net'), undefined);
    assert.equal(t.virtualHost('example.org:8080'), undefined);
    assert.equal(t.virtualHost(undefined), undefined);
    assert.equal(t.route(req('other.net')), undefined);
  });

  test('an IPv6 Host with a port falls back to the bracketed address', () => {
    const t = new RouteTable(listener(vhost('v6', ['[::1]'])));
    assert.equal(t.virtualHost('[::1]:8080')?.vhost.name, 'v6');
    assert.equal(t.virtualHost('[::1]')?.vhost.name, 'v6');
  });

  test('a virtual host with several domains is found by each of them', () => {
    const t = new RouteTable(listener(vhost('multi', ['example.com', '*.example.org', 'api.*'])));
    for (const host of ['example.com', 'www.example.org', 'api.local']) {
      assert.equal(t.virtualHost(host)?.vhost.name, 'multi', host);
    }
    assert.equal(t.virtualHost('example.net'), undefined);
  });

  test('when two virtual hosts claim the same exact domain or *, the first one listed keeps it', () => {
    const t = new RouteTable(listener(vhost('first', ['example.com', '*']), vhost('second', ['example.com', '*'])));
    assert.equal(t.virtualHost('example.com')?.vhost.name, 'first');
    assert.equal(t.virtualHost('other.net')?.vhost.name, 'first');
  });

  test('an empty listener routes nothing', () => {
    const t = new RouteTable(listener());
    assert.equal(t.virtualHost('example.com'), undefined);
    assert.equal(t.route(req('example.com')), undefined);
  });
});

describe('RouteTable route selection', () => {
  const table = new RouteTable(
    listener(
      vhost('api', ['api.example.com'], [
        route('exact-health', { path: { kind: 'exact', value: '/health' } }),
        route('post-items', { path: { kind: 'prefix', value: '/items' }, methods: ['POST'] }),
        route('items', { path: { kind: 'prefix', value: '/items' } }),
        route('shadowed-items', { path: { kind: 'prefix', value: '/items/special' } }),
      ]),
      vhost('web', ['*'], [route('web-only', { path: { kind: 'prefix', value: '/web' } })]),
    ),
  );

  const cases: [string, RequestView, string | undefined][] = [
    ['an exact route matches its path', req('api.example.com', '/health'), 'exact-health'],
    ['the first matching route wins over a later one', req('api.example.com', '/items', 'POST'), 'post-items'],
    ['a route whose conditions fail is skipped for the next one', req('api.example.com', '/items', 'GET'), 'items'],
    ['a more specific route listed later never wins over an earlier broader one', req('api.example.com', '/items/special'), 'items'],
    ['no route of the chosen virtual host matching means no route', req('api.example.com', '/web/page'), undefined],
    ['routes come from the virtual host the Host selects', req('www.example.com', '/web/page'), 'web-only'],
    ['another virtual host is not tried when the chosen one has no matching route', req('www.example.com', '/health'), undefined],
  ];
  for (const [name, r, want] of cases) {
    test(`${name} (${r.host}${r.path} → ${want ?? 'none'})`, () => {
      assert.equal(table.route(r)?.route.name, want);
    });
  }

  test('a compiled route points back to its virtual host and its ir.Route', () => {
    const found = table.route(req('api.example.com', '/health'));
    assert.ok(found);
    assert.equal(found.vhost.vhost.name, 'api');
    assert.equal(found.route.match.path.kind, 'exact');
    assert.deepEqual(found.route.action, { type: 'direct-response', status: 200, body: 'exact-health' });
    assert.ok(found.vhost.routes.includes(found));
  });

  test('compiled routes keep the order of the virtual host', () => {
    const vh = table.virtualHost('api.example.com');
    assert.deepEqual(vh?.routes.map((r) => r.route.name), ['exact-health', 'post-items', 'items', 'shadowed-items']);
  });
});

/**
 * referenceVirtualHost is the domain search as first written (a linear scan of the wildcards,
 * longest first): the indexed table must pick the same virtual host for every Host.
 */
function referenceVirtualHost(l: ir.Listener, host: string | undefined): string | undefined {
  const exact = new Map<string, string>();
  const suffix: [string, string][] = [];
  const prefix: [string, string][] = [];
  let any: string | undefined;
  for (const vh of l.virtualHosts) {
    for (const d of vh.domains) {
      if (d === '*') any ??= vh.name;
      else if (d.startsWith('*')) suffix.push([d.slice(1), vh.name]);
      else if (d.endsWith('*')) prefix.push([d.slice(0, -1), vh.name]);
      else if (!exact.has(d)) exact.set(d, vh.name);
    }
  }
  suffix.sort((a, b) => b[0].length - a[0].length);
  prefix.sort((a, b) => b[0].length - a[0].length);
  const lookup = (h: string) =>
    exact.get(h) ??
    suffix.find(([x]) => h.length > x.length && h.endsWith(x))?.[1] ??
    prefix.find(([x]) => h.length > x.length && h.startsWith(x))?.[1];
  if (host === undefined) return any;
  const h = host.toLowerCase();
  if (exact.has(h)) return exact.get(h);
  const colon = h.lastIndexOf(':');
  if (colon > 0 && h.indexOf(']') < colon) {
    const bare = lookup(h.slice(0, colon));
    if (bare) return bare;
  }
  return lookup(h) ?? any;
}

describe('RouteTable domain index', () => {
  const label = fc.constantFrom('a', 'b', 'api', 'x1', 'example', 'com', 'io');
  const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.'));
  const port = fc.option(fc.constantFrom(':80', ':8080'), { nil: '' });
  const domain = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(name, port).map(([n, p]) => n + p) },
    { weight: 3, arbitrary: name.map((n) => `*.${n}`) },
    { weight: 1, arbitrary: name.map((n) => `*-${n}`) },
    { weight: 3, arbitrary: name.map((n) => `${n}.*`) },
    { weight: 1, arbitrary: fc.constant('*') },
    { weight: 1, arbitrary: fc.constant('[::1]') },
  );
  const host = fc.oneof(
    fc.tuple(name, port, fc.boolean()).map(([n, p, upper]) => (upper ? (n + p).toUpperCase() : n + p)),
    domain.map((d) => d.replace(/\*/g, 'zz')),
    fc.constantFrom('', '[::1]:8080', '.com', 'api.', '*', '*.com'),
  );
  // Few virtual hosts, and enough that the wildcards outgrow the scan and are looked up by length.
  const domainList = fc.array(domain, { minLength: 1, maxLength: 3 });
  const vhosts = fc.oneof(fc.array(domainList, { maxLength: 12 }), fc.array(domainList, { minLength: WILDCARD_SCAN * 3, maxLength: WILDCARD_SCAN * 6 }));

  test('picks what the linear search picks, with few wildcards and with many', () => {
    fc.assert(
      fc.property(vhosts, fc.array(fc.option(host, { nil: undefined }), { minLength: 1, maxLength: 40 }), (domains, hosts) => {
        const l = listener(...domains.map((ds, i) => vhost(`v${i}`, ds.map((d) => d.toLowerCase()))));
        const table = new RouteTable(l);
        for (const h of hosts) assert.equal(table.virtualHost(h)?.vhost.name, referenceVirtualHost(l, h), `host ${JSON.stringify(h)}`);
      }),
      { numRuns: 300 },
    );
  });

  test('a table built from the last one picks what a fresh one picks, whatever changed', () => {
    const change = fc.record({ at: fc.nat(), domains: fc.option(fc.array(domain, { minLength: 1, maxLength: 3 }), { nil: undefined }), drop: fc.boolean() });
    fc.assert(
      fc.property(vhosts, fc.array(change, { maxLength: 4 }), fc.array(host, { minLength: 1, maxLength: 30 }), (domains, changes, hosts) => {
        const cache: CompiledVirtualHosts = new WeakMap();
        const first = listener(...domains.map((ds, i) => vhost(`v${i}`, ds.map((d) => d.toLowerCase()))));
        const before = new RouteTable(first, cache);
        const list = [...first.virtualHosts];
        for (const c of changes) {
          if (list.length === 0) break;
          const at = c.at % list.length;
          if (c.drop) list.splice(at, 1);
          // A new object, with new domains or the same ones (only its routes changed).
          else list[at] = vhost(`${list[at]!.name}'`, c.domains ? c.domains.map((d) => d.toLowerCase()) : [...list[at]!.domains]);
        }
        const next = listener(...list);
        const after = new RouteTable(next, cache, before);
        const fresh = new RouteTable(next);
        for (const h of hosts) assert.equal(after.virtualHost(h)?.vhost.name, fresh.virtualHost(h)?.vhost.name, `host ${JSON.stringify(h)}`);
        // Unchanged virtual hosts keep their compiled form.
        for (const vh of first.virtualHosts) if (list.includes(vh)) assert.equal(cache.get(vh)?.vhost, vh);
      }),
      { numRuns: 300 },
    );
  });
});
