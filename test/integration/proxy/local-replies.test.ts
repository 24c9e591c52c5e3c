// Replies the proxy makes itself, with Envoy's exact status codes, bodies and Location headers
// (gloo-compat.md §6): no route / no vhost, no healthy upstream, missing cluster, upstream
// reset (connection failure / termination), upstream timeout, direct responses and redirects.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startProxy, type TestProxy } from '../../helpers/proxy.js';
import { startUpstream, type UpstreamServer } from '../../helpers/upstream-server.js';
import { send } from '../../helpers/http.js';
import { freePort } from '../../helpers/ports.js';
import { eventually } from '../../helpers/eventually.js';
import { simple, snapshot, listener, vhost, route, forward, upstream, direct, redirect, match } from '../../helpers/snapshot.js';

const RESET = 'upstream connect error or disconnect/reset before headers. reset reason: ';

describe('local replies', () => {
  let gw: TestProxy;
  const ups: UpstreamServer[] = [];

  before(async () => {
    gw = await startProxy();
  });
  after(async () => {
    await gw.close();
    await Promise.all(ups.map((u) => u.close()));
  });

  const startUp = async (...args: Parameters<typeof startUpstream>) => {
    const u = await startUpstream(...args);
    ups.push(u);
    return u;
  };

  test('no matching route: 404 with an empty body', async () => {
    await gw.apply(simple(route(direct(200, 'api'), { match: match({ prefix: '/api' }) })));
    assert.equal((await send(gw.port, '/api/x')).status, 200);
    const res = await send(gw.port, '/other');
    assert.equal(res.status, 404);
    assert.equal(res.body, '');
    assert.equal(res.headers['content-length'], '0');
  });

  test('no matching virtual host: 404 with an empty body', async () => {
    await gw.apply(snapshot(listener([vhost([route(direct(200, 'example'))], { domains: ['example.com'] })])));
    assert.equal((await send(gw.port, '/', { headers: { host: 'example.com' } })).body, 'example');
    const res = await send(gw.port, '/', { headers: { host: 'other.example.org' } });
    assert.equal(res.status, 404);
    assert.equal(res.body, '');
  });

  test('upstream without endpoints: 503 no healthy upstream', async () => {
    await gw.apply(simple(route(forward('empty_default')), [upstream('empty_default', [])]));
    const res = await send(gw.port, '/');
    assert.equal(res.status, 503);
    assert.equal(res.body, 'no healthy upstream');
    assert.equal(res.headers['content-type'], 'text/plain');
  });

  test('route to an upstream absent from the snapshot: 503 with an empty body', async () => {
    await gw.apply(simple(route(forward('does-not-exist_gloo-system'))));
    const res = await send(gw.port, '/');
    assert.equal(res.status, 503);
    assert.equal(res.body, '');
  });

  test('endpoint on a closed port: 503 reset reason connection failure', async () => {
    const closed = await freePort();
    await gw.apply(simple(route(forward('closed_default')), [upstream('closed_default', [closed])]));
    const res = await send(gw.port, '/');
    assert.equal(res.status, 503);
    assert.equal(res.body, `${RESET}connection failure`);
  });

  test('upstream closes the connection before answering: 503 reset reason connection termination', async () => {
    const up = await startUp('rude', (_rec, _res, req) => {
      req.socket.destroy();
    });
    await gw.apply(simple(route(forward('rude_default')), [upstream('rude_default', [up.port])]));
    const res = await send(gw.port, '/');
    assert.equal(res.status, 503);
    assert.equal(res.body, `${RESET}connection termination`);
    assert.equal(up.requests.length, 1, 'not retried without a retry policy');
  });

  test('route timeout shorter than the upstream: 504 upstream request timeout', async () => {
    const up = await startUp('silent', () => undefined /* never answers */);
    await gw.apply(simple(route(forward('silent_default', { timeoutMs: 100 })), [upstream('silent_default', [up.port])]));
    const res = await send(gw.port, '/slow');
    assert.equal(res.status, 504);
    assert.equal(res.body, 'upstream request timeout');
    assert.equal(up.requests.length, 1);
  });

  test('direct response: status and body as configured', async () => {
    await gw.apply(
      simple([
        route(direct(418, 'short and stout'), { match: match({ exact: '/teapot' }) }),
        route(direct(204), { match: match({ exact: '/empty' }) }),
        route(direct(200, ''), { match: match({ exact: '/blank' }) }),
      ]),
    );
    const teapot = await send(gw.port, '/teapot');
    assert.equal(teapot.status, 418);
    assert.equal(teapot.body, 'short and stout');
    assert.equal(teapot.headers['content-type'], 'text/plain');
    const empty = await send(gw.port, '/empty');
    assert.equal(empty.status, 204);
    assert.equal(empty.body, '');
    const blank = await send(gw.port, '/blank');
    assert.equal(blank.status, 200);
    assert.equal(blank.body, '');
  });

  describe('redirects', () => {
    before(async () => {
      const r = (path: string, a: Parameters<typeof redirect>[0], m = match({ exact: path })) => route(redirect(a), { match: m });
      await gw.apply(
        simple([
          r('/default', { hostRedirect: 'new.example.com' }),
          r('/302', { status: 302, hostRedirect: 'new.example.com' }),
          r('/303', { status: 303, hostRedirect: 'new.example.com' }),
          r('/307', { status: 307, hostRedirect: 'new.example.com' }),
          r('/308', { status: 308, hostRedirect: 'new.example.com' }),
          r('/https', { httpsRedirect: true }),
          r('/https-port', { httpsRedirect: true, portRedirect: 8443 }),
          r('/host', { hostRedirect: 'other.example.com' }),
          r('/host-port', { hostRedirect: 'other.example.com', portRedirect: 9000 }),
          r('/path', { pathRedirect: '/new/place' }),
          r('/path-query', { pathRedirect: '/new?from=redirect', stripQuery: true }),
          r('/strip', { stripQuery: true, pathRedirect: '/stripped' }),
          r('/port', { portRedirect: 9443 }),
          r('', { prefixRewrite: '/new/' }, match({ prefix: '/old/' })),
          r('', { prefixRewrite: '/whole' }, match({ exact: '/exact-rewrite' })),
        ]),
      );
    });

    const location = async (path: string, host = 'example.com:8080') => {
      const res = await send(gw.port, path, { headers: { host } });
      assert.equal(res.body, '', 'a redirect has no body');
      return { status: res.status, location: res.headers.location };
    };

    test('status defaults to 301 and follows the configured response code', async () => {
      assert.deepEqual(await location('/default?a=1'), { status: 301, location: 'http://new.example.com/default?a=1' });
      for (const code of [302, 303, 307, 308]) assert.deepEqual(await location(`/${code}`), { status: code, location: `http://new.example.com/${code}` });
    });

    test('httpsRedirect switches the scheme; the port goes only when it was http’s default', async () => {
      assert.deepEqual(await location('/https?q=1', 'example.com'), { status: 301, location: 'https://example.com/https?q=1' });
      assert.deepEqual(await location('/https', 'example.com:80'), { status: 301, location: 'https://example.com/https' });
      // Envoy (processRequestHost) keeps any other port when it switches the scheme.
      assert.deepEqual(await location('/https', 'example.com:8080'), { status: 301, location: 'https://example.com:8080/https' });
      assert.deepEqual(await location('/https-port', 'example.com:8080'), { status: 301, location: 'https://example.com:8443/https-port' });
    });

    test('hostRedirect replaces the host and its port', async () => {
      assert.deepEqual(await location('/host?x=y'), { status: 301, location: 'http://other.example.com/host?x=y' });
      assert.deepEqual(await location('/host-port'), { status: 301, location: 'http://other.example.com:9000/host-port' });
    });

    test('pathRedirect replaces the path, keeping the query unless it has its own', async () => {
      assert.deepEqual(await location('/path?keep=1'), { status: 301, location: 'http://example.com:8080/new/place?keep=1' });
      assert.deepEqual(await location('/path-query?dropped=1'), { status: 301, location: 'http://example.com:8080/new?from=redirect' });
    });

    test('prefixRewrite replaces the matched prefix (or exact path), keeping the query', async () => {
      assert.deepEqual(await location('/old/a/b?q=1'), { status: 301, location: 'http://example.com:8080/new/a/b?q=1' });
      assert.deepEqual(await location('/exact-rewrite?z=9'), { status: 301, location: 'http://example.com:8080/whole?z=9' });
    });

    test('stripQuery drops the query string', async () => {
      assert.deepEqual(await location('/strip?secret=1&b=2'), { status: 301, location: 'http://example.com:8080/stripped' });
    });

    test('portRedirect replaces the port of the request host', async () => {
      assert.deepEqual(await location('/port'), { status: 301, location: 'http://example.com:9443/port' });
      assert.deepEqual(await location('/port', 'example.com'), { status: 301, location: 'http://example.com:9443/port' });
    });
  });

  test('a local reply is counted in meshgate_local_replies_total', async () => {
    await gw.apply(simple(route(forward('nowhere_default'))));
    await send(gw.port, '/');
    await eventually(async () => {
      const text = await gw.proxy.stats.registry.metrics();
      assert.match(text, /meshgate_local_replies_total\{status_class="5xx",details="cluster_not_found"\} [1-9]/);
    });
  });
});
