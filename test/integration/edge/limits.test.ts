// Limits from a listener's HTTP settings: header bytes (request line included) and header count
// get 431, a change between snapshots applies without a rebind, the connection limit closes the
// connection over it, headers with underscores are allowed, dropped or refused, HTTP/1.0 is
// served or refused with 426, and a response that begins before the request body was read
// closes its connection.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startProxy, type TestProxy } from '../../helpers/proxy.js';
import { send } from '../../helpers/http.js';
import { eventually } from '../../helpers/eventually.js';
import { snapshot, listener, vhost, route, forward, upstream, direct, match } from '../../helpers/snapshot.js';
import type * as ir from '../../../src/ir/index.js';
import { exchange, openRaw, parseResponses, startRecorder, statuses, type Recorder } from './raw.js';

describe('listener limits', () => {
  let gw: TestProxy;
  let rec: Recorder;

  before(async () => {
    rec = await startRecorder();
    gw = await startProxy();
  });
  after(async () => {
    await gw.close();
    await rec.close();
  });

  /** apply serves the recorder at `/` (and a direct response at /direct) with these settings. */
  const apply = (http: Partial<ir.HttpSettings>) =>
    gw.apply(
      snapshot(
        listener([vhost([route(direct(200, 'direct'), { match: match({ prefix: '/direct' }) }), route(forward('rec_default'))])], { http }),
        [upstream('rec_default', [rec.port])],
      ),
    );
  const headers = (n: number) => Array.from({ length: n }, (_, i) => `X-H${i}: v\r\n`).join('');

  test('headers over maxRequestHeadersBytes: 431 and close; under: served', async () => {
    await apply({ maxRequestHeadersBytes: 2048 });
    const arrived = rec.arrivals.length;
    const big = await exchange(gw.port, `GET /big HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(3000)}\r\n\r\n`);
    assert.deepEqual(statuses(big.raw), [431]);
    assert.ok(big.closedByServer);
    const ok = await send(gw.port, '/small', { headers: { 'x-small': 'a'.repeat(1500) } });
    assert.equal(ok.status, 200);
    assert.deepEqual(rec.arrivals.slice(arrived).map((a) => a.url), ['/small']);
  });

  test('the request line counts toward maxRequestHeadersBytes: a long URI gets 431', async () => {
    await apply({ maxRequestHeadersBytes: 2048 });
    const arrived = rec.arrivals.length;
    const long = await exchange(gw.port, `GET /${'u'.repeat(3000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.deepEqual(statuses(long.raw), [431]);
    assert.equal((await send(gw.port, `/${'u'.repeat(1500)}`)).status, 200);
    assert.equal(rec.arrivals.length, arrived + 1);
  });

  test('a new snapshot changes maxRequestHeadersBytes on the same port, without a rebind', async () => {
    await apply({ maxRequestHeadersBytes: 60 * 1024 });
    const h = { 'x-mid': 'a'.repeat(4000) };
    assert.equal((await send(gw.port, '/mid', { headers: h })).status, 200);
    await apply({ maxRequestHeadersBytes: 2048 });
    const raw = await exchange(gw.port, `GET /mid HTTP/1.1\r\nHost: x\r\nX-Mid: ${'a'.repeat(4000)}\r\n\r\n`);
    assert.deepEqual(statuses(raw.raw), [431]);
    await apply({ maxRequestHeadersBytes: 60 * 1024 });
    assert.equal((await send(gw.port, '/mid', { headers: h })).status, 200);
  });

  test('more headers than maxHeadersCount: 431, nothing forwarded; exactly the limit: served', async () => {
    await apply({ maxHeadersCount: 10 });
    const arrived = rec.arrivals.length;
    // Host plus 10 more is 11.
    const over = await exchange(gw.port, `GET /many HTTP/1.1\r\nHost: x\r\n${headers(10)}\r\n`);
    assert.deepEqual(statuses(over.raw), [431]);
    assert.ok(over.closedByServer);
    assert.equal(rec.arrivals.length, arrived);
    const at = await exchange(gw.port, `GET /ten HTTP/1.1\r\nHost: x\r\n${headers(8)}Connection: close\r\n\r\n`);
    assert.deepEqual(statuses(at.raw), [200]);
    assert.equal(rec.arrivals.at(-1)?.url, '/ten');
  });

  test('maxHeadersCount above Node’s own default (2000): routing sees every header, none is truncated', async () => {
    const lastHeader = { name: 'x-h2099', invert: false };
    await gw.apply(
      snapshot(
        listener([vhost([route(direct(200, 'matched the 2100th header'), { match: match({ headers: [lastHeader] }) }), route(forward('rec_default'))])], {
          http: { maxHeadersCount: 2500 },
        }),
        [upstream('rec_default', [rec.port])],
      ),
    );
    const lots = await exchange(gw.port, `GET /lots HTTP/1.1\r\nHost: x\r\n${headers(2100)}Connection: close\r\n\r\n`);
    assert.deepEqual(parseResponses(lots.raw).map((r) => r.body), ['matched the 2100th header']);
    await apply({ maxHeadersCount: 100 });
    const refused = await exchange(gw.port, `GET /lots HTTP/1.1\r\nHost: x\r\n${headers(2100)}Connection: close\r\n\r\n`);
    assert.deepEqual(statuses(refused.raw), [431]);
  });

  test('maxConnections: the connection over the limit is closed at once, the others are served', async () => {
    await apply({ maxConnections: 2 });
    const keepAlive = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
    const a = await openRaw(gw.port);
    const b = await openRaw(gw.port);
    try {
      // Both are accepted and served before the third connects.
      a.write(keepAlive('/a1'));
      b.write(keepAlive('/b1'));
      await eventually(() => statuses(a.text()).length === 1 && statuses(b.text()).length === 1, { message: 'a and b served' });
      const c = await exchange(gw.port, keepAlive('/c1'));
      assert.ok(c.closedByServer, 'the third connection is closed');
      assert.deepEqual(statuses(c.raw), [], 'and never answered');
      assert.ok(!rec.arrivals.some((r) => r.url === '/c1'));
      // The first two keep being served.
      a.write(keepAlive('/a2'));
      await eventually(() => assert.deepEqual(statuses(a.text()), [200, 200]));
      const metrics = await gw.proxy.stats.registry.metrics();
      assert.match(metrics, /meshgate_downstream_cx_overflow_total\{listener="gloo-system.gateway-proxy"\} [1-9]/);
      // A freed slot admits a new connection.
      b.destroy();
      await eventually(async () => assert.equal((await send(gw.port, '/after')).status, 200), { message: 'a slot frees up' });
    } finally {
      a.destroy();
      b.destroy();
      await apply({ maxConnections: 0 });
    }
  });

  describe('headersWithUnderscoresAction', () => {
    const withUnderscore = 'GET /u HTTP/1.1\r\nHost: x\r\nX_Custom: 1\r\nX-Plain: 2\r\nConnection: close\r\n\r\n';

    test('ALLOW forwards the header', async () => {
      await apply({ headersWithUnderscoresAction: 'ALLOW' });
      const r = await exchange(gw.port, withUnderscore);
      assert.deepEqual(statuses(r.raw), [200]);
      assert.equal(rec.completed.at(-1)?.headers['x_custom'], '1');
    });

    test('DROP_HEADER removes it before routing and forwarding; the rest passes', async () => {
      await gw.apply(
        snapshot(
          listener(
            [
              vhost([
                // A route that matches on the dropped header must not see it.
                route(direct(418, 'saw the header'), { match: match({ headers: [{ name: 'x_custom', invert: false }] }) }),
                route(forward('rec_default')),
              ]),
            ],
            { http: { headersWithUnderscoresAction: 'DROP_HEADER' } },
          ),
          [upstream('rec_default', [rec.port])],
        ),
      );
      const r = await exchange(gw.port, withUnderscore);
      assert.deepEqual(statuses(r.raw), [200]);
      const got = rec.completed.at(-1)!;
      assert.equal(got.url, '/u');
      assert.equal(got.headers['x_custom'], undefined);
      assert.equal(got.headers['x-plain'], '2');
      assert.ok(!got.rawHeaders.some((h) => h.includes('_')));
      const metrics = await gw.proxy.stats.registry.metrics();
      assert.match(metrics, /meshgate_downstream_dropped_headers_with_underscores_total [1-9]/);
    });

    test('REJECT_REQUEST answers 400 and closes; nothing is forwarded', async () => {
      await apply({ headersWithUnderscoresAction: 'REJECT_REQUEST' });
      const arrived = rec.arrivals.length;
      const r = await exchange(gw.port, withUnderscore.replace('Connection: close\r\n', ''));
      assert.deepEqual(statuses(r.raw), [400]);
      assert.ok(r.closedByServer);
      assert.equal(rec.arrivals.length, arrived);
      assert.equal((await send(gw.port, '/fine', { headers: { 'x-ok': '1' } })).status, 200);
    });
  });

  describe('HTTP/1.0', () => {
    test('acceptHttp10 false: 426 Upgrade Required and close, HTTP/1.1 still served', async () => {
      await apply({ acceptHttp10: false });
      const arrived = rec.arrivals.length;
      const r = await exchange(gw.port, 'GET /old HTTP/1.0\r\nHost: x\r\n\r\n');
      assert.deepEqual(statuses(r.raw), [426]);
      assert.ok(r.closedByServer);
      assert.equal(rec.arrivals.length, arrived);
      assert.equal((await send(gw.port, '/new')).status, 200);
    });

    test('acceptHttp10 true: served; without keep-alive the connection closes after one response', async () => {
      await apply({ acceptHttp10: true });
      const arrived = rec.arrivals.length;
      const r = await exchange(gw.port, 'GET /one HTTP/1.0\r\nHost: x\r\n\r\nGET /two HTTP/1.0\r\nHost: x\r\n\r\n');
      assert.deepEqual(statuses(r.raw), [200]);
      assert.ok(r.closedByServer);
      assert.deepEqual(rec.arrivals.slice(arrived).map((a) => a.url), ['/one']);
    });

    test('HTTP/1.0 keep-alive: both pipelined requests are answered, each framed by content-length', async () => {
      await apply({ acceptHttp10: true });
      const c = await openRaw(gw.port);
      try {
        c.write('GET /ka1 HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\nGET /ka2 HTTP/1.0\r\nHost: x\r\n\r\n');
        const raw = await c.whenClosed;
        const rs = parseResponses(raw);
        assert.deepEqual(rs.map((x) => x.status), [200, 200]);
        assert.equal(rs[0]!.headers['connection'], 'keep-alive');
        assert.equal(rs[0]!.headers['content-length'], '2');
      } finally {
        c.destroy();
      }
    });
  });

  test('a response that begins before the request body was read closes the connection', async () => {
    await apply({});
    const c = await openRaw(gw.port);
    try {
      // 100 bytes announced, 10 sent: the direct response does not wait for the rest.
      c.write(`POST /direct HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n${'b'.repeat(10)}`);
      await eventually(() => c.closed, { message: 'the proxy closes the connection after answering' });
      const rs = parseResponses(c.text());
      assert.deepEqual(rs.map((r) => r.status), [200]);
      assert.equal(rs[0]!.headers['connection'], 'close');
      const metrics = await gw.proxy.stats.registry.metrics();
      assert.match(metrics, /meshgate_downstream_rq_response_before_rq_complete_total [1-9]/);
    } finally {
      c.destroy();
    }
  });

  test('a request read in full before its response keeps its connection', async () => {
    await apply({});
    const c = await openRaw(gw.port);
    try {
      // The upstream answers once it has the whole body, so the proxy has read it all too.
      c.write('POST /forwarded HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
      await eventually(() => statuses(c.text()).length === 1);
      c.write('GET /forwarded HTTP/1.1\r\nHost: x\r\n\r\n');
      await eventually(() => assert.deepEqual(statuses(c.text()), [200, 200]));
      assert.equal(c.closed, false);
    } finally {
      c.destroy();
    }
  });
});
