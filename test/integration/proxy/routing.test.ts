// Routing through a real Proxy: prefix rewrite, first match wins, weighted destinations,
// round robin across endpoints, and request/response header manipulation (route and vhost).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startProxy, type TestProxy } from '../../helpers/proxy.js';
import { startUpstream, type UpstreamServer } from '../../helpers/upstream-server.js';
import { send } from '../../helpers/http.js';
import { simple, snapshot, listener, vhost, route, forward, upstream, direct, match, headerOps } from '../../helpers/snapshot.js';

describe('proxy routing', () => {
  let gw: TestProxy;
  let a: UpstreamServer;
  let b: UpstreamServer;

  before(async () => {
    a = await startUpstream('a');
    b = await startUpstream('b');
    gw = await startProxy();
  });
  after(async () => {
    await gw.close();
    await Promise.all([a.close(), b.close()]);
  });

  const ups = () => [upstream('a_default', [a.port]), upstream('b_default', [b.port])];
  const clear = () => {
    a.requests.length = 0;
    b.requests.length = 0;
  };

  test('prefixRewrite replaces the matched prefix and keeps the query', async () => {
    await gw.apply(
      simple(
        [
          route(forward('a_default', { prefixRewrite: '/v2/' }), { match: match({ prefix: '/api/' }) }),
          route(forward('a_default', { prefixRewrite: '/replaced' }), { match: match({ exact: '/exact' }) }),
          route(forward('a_default', { prefixRewrite: '/' }), { match: match({ prefix: '/strip' }) }),
        ],
        ups(),
      ),
    );
    clear();
    assert.equal((await send(gw.port, '/api/users/7?id=3&x=%20')).status, 200);
    assert.equal(a.requests.at(-1)?.url, '/v2/users/7?id=3&x=%20');
    assert.equal((await send(gw.port, '/exact?q=1')).status, 200);
    assert.equal(a.requests.at(-1)?.url, '/replaced?q=1');
    assert.equal((await send(gw.port, '/strip')).status, 200);
    assert.equal(a.requests.at(-1)?.url, '/');
    assert.equal((await send(gw.port, '/strip/rest?k=v')).status, 200);
    assert.equal(a.requests.at(-1)?.url, '//rest?k=v', 'Envoy replaces the prefix literally');
  });

  test('the first matching route wins', async () => {
    await gw.apply(
      simple(
        [
          route(forward('a_default'), { match: match({ prefix: '/shop' }) }),
          route(forward('b_default'), { match: match({ prefix: '/shop/cart' }) }),
          route(forward('b_default'), { match: match({ prefix: '/', methods: ['POST'] }) }),
          route(direct(200, 'fallback')),
        ],
        ups(),
      ),
    );
    clear();
    assert.equal((await send(gw.port, '/shop/cart')).body, 'a');
    assert.equal((await send(gw.port, '/shop')).body, 'a');
    assert.equal((await send(gw.port, '/other', { method: 'POST', body: 'x' })).body, 'b');
    assert.equal((await send(gw.port, '/other')).body, 'fallback');
    assert.equal(b.requests.length, 1);
  });

  test('weighted destinations 1/1 both receive traffic', async () => {
    await gw.apply(simple(route(forward([['a_default', 1], ['b_default', 1]])), ups()));
    clear();
    const seen = { a: 0, b: 0 };
    for (let i = 0; i < 200; i++) {
      const res = await send(gw.port, `/w/${i}`);
      assert.equal(res.status, 200);
      seen[res.body as 'a' | 'b']++;
    }
    assert.equal(seen.a + seen.b, 200);
    assert.ok(seen.a > 0 && seen.b > 0, `both reached: ${JSON.stringify(seen)}`);
  });

  test('a destination with weight 0 is never reached', async () => {
    for (const dests of [[['a_default', 1], ['b_default', 0]], [['b_default', 0], ['a_default', 3]]] as const) {
      await gw.apply(simple(route(forward(dests)), ups()));
      clear();
      for (let i = 0; i < 200; i++) assert.equal((await send(gw.port, `/z/${i}`)).body, 'a');
      assert.equal(b.requests.length, 0);
    }
  });

  test('requests are spread round robin across an upstream’s endpoints', async () => {
    await gw.apply(simple(route(forward('ab_default')), [upstream('ab_default', [a.port, b.port])]));
    clear();
    const bodies: string[] = [];
    for (let i = 0; i < 10; i++) bodies.push((await send(gw.port, '/rr')).body);
    assert.equal(a.requests.length, 5);
    assert.equal(b.requests.length, 5);
    for (let i = 1; i < bodies.length; i++) assert.notEqual(bodies[i], bodies[i - 1], `alternates: ${bodies.join(',')}`);
  });

  test('route and virtual host header manipulation', async () => {
    a.setHandler((_rec, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-internal': 'hide-me', 'x-resp-replaced': 'upstream' });
      res.end('a');
    });
    const routeHeaders = headerOps({
      requestAdd: [['x-added', 'route'], ['x-replaced', 'new', false], ['x-appended', 'two', true], ['x-both', 'route', false]],
      requestRemove: ['x-secret'],
      responseAdd: [['x-resp-added', 'route'], ['x-resp-replaced', 'proxy', false]],
      responseRemove: ['x-internal'],
    });
    const vhostHeaders = headerOps({
      requestAdd: [['x-vhost', 'vh'], ['x-both', 'vhost', false]],
      requestRemove: ['x-vhost-secret'],
      responseAdd: [['x-vhost-resp', 'vh']],
    });
    await gw.apply(snapshot(listener([vhost([route(forward('a_default'), { headers: routeHeaders })], { headers: vhostHeaders })]), ups()));
    clear();
    const res = await send(gw.port, '/h', {
      headers: { 'x-replaced': 'old', 'x-appended': 'one', 'x-secret': 's3cret', 'x-vhost-secret': 'v', 'x-untouched': 'same' },
    });
    assert.equal(res.status, 200);
    const h = a.requests.at(-1)!.headers;
    assert.equal(h['x-added'], 'route');
    assert.equal(h['x-replaced'], 'new');
    assert.equal(h['x-appended'], 'one, two');
    assert.equal(h['x-secret'], undefined);
    assert.equal(h['x-vhost-secret'], undefined);
    assert.equal(h['x-vhost'], 'vh');
    // Envoy's default: the virtual host's mutations are applied after the route's, so they win.
    assert.equal(h['x-both'], 'vhost');
    assert.equal(h['x-untouched'], 'same');

    assert.equal(res.headers['x-resp-added'], 'route');
    assert.equal(res.headers['x-resp-replaced'], 'proxy');
    assert.equal(res.headers['x-internal'], undefined);
    assert.equal(res.headers['x-vhost-resp'], 'vh');
  });
});
