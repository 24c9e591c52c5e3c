// Unit tests for RouteTable: virtual host selection by Host (Envoy's domain search order) and
// first-match-wins route selection, over hand-built ir.Listener objects.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as ir from '../../ir/index.js';
import { RouteTable } from './route-table.js';
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
