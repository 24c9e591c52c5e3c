// Retries: retryOn 5xx re-sends a bodiless request, connect-failure moves to another endpoint,
// and a request with a body is never retried (meshgate streams bodies instead of buffering).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startProxy, type TestProxy } from '../../helpers/proxy.js';
import { startUpstream, type UpstreamServer } from '../../helpers/upstream-server.js';
import { send } from '../../helpers/http.js';
import { freePort } from '../../helpers/ports.js';
import { simple, route, forward, upstream, retries } from '../../helpers/snapshot.js';

describe('retries', () => {
  let gw: TestProxy;
  const ups: UpstreamServer[] = [];

  before(async () => {
    gw = await startProxy();
  });
  after(async () => {
    await gw.close();
    await Promise.all(ups.map((u) => u.close()));
  });

  /** flaky answers 503 to the first `failures` requests, then 200. */
  const flaky = async (failures: number) => {
    let n = 0;
    const u = await startUpstream('flaky', (_rec, res) => {
      const fail = n++ < failures;
      res.writeHead(fail ? 503 : 200, { 'content-type': 'text/plain' });
      res.end(fail ? 'unavailable' : 'recovered');
    });
    ups.push(u);
    return u;
  };

  test('retryOn 5xx with numRetries 2: two 503s then 200, the client sees 200', async () => {
    const up = await flaky(2);
    await gw.apply(simple(route(forward('flaky_default', { retries: retries(['5xx'], 2) })), [upstream('flaky_default', [up.port])]));
    const res = await send(gw.port, '/retry?x=1');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'recovered');
    assert.equal(up.requests.length, 3);
    for (const r of up.requests) assert.equal(r.url, '/retry?x=1');
  });

  test('retries run out: the last upstream answer is relayed', async () => {
    const up = await flaky(10);
    await gw.apply(simple(route(forward('flaky_default', { retries: retries(['5xx'], 2) })), [upstream('flaky_default', [up.port])]));
    const res = await send(gw.port, '/exhaust');
    assert.equal(res.status, 503);
    assert.equal(res.body, 'unavailable');
    assert.equal(up.requests.length, 3);
  });

  test('connect-failure moves the retry to another endpoint', async () => {
    const closed = await freePort();
    const live = await startUpstream('live');
    ups.push(live);
    await gw.apply(
      simple(route(forward('mixed_default', { retries: retries(['connect-failure'], 1) })), [upstream('mixed_default', [closed, live.port])]),
    );
    for (let i = 0; i < 4; i++) {
      const res = await send(gw.port, `/cf/${i}`);
      assert.equal(res.status, 200, `request ${i}`);
      assert.equal(res.body, 'live');
    }
    assert.equal(live.requests.length, 4);
    const metrics = await gw.proxy.stats.registry.metrics();
    assert.match(metrics, /meshgate_upstream_cx_connect_fail_total\{upstream="mixed_default"\} [1-9]/);
  });

  test('a try that outlives perTryTimeoutMs is retried', async () => {
    let n = 0;
    const up = await startUpstream('sleepy', (_rec, res) => {
      if (n++ === 0) return; // the first try never gets an answer
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('second try');
    });
    ups.push(up);
    await gw.apply(
      simple(route(forward('sleepy_default', { retries: retries(['5xx'], 1, { perTryTimeoutMs: 100 }) })), [upstream('sleepy_default', [up.port])]),
    );
    const res = await send(gw.port, '/per-try');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'second try');
    assert.equal(up.requests.length, 2);
  });

  test('every try outlives perTryTimeoutMs: 504 upstream request timeout', async () => {
    const up = await startUpstream('asleep', () => undefined);
    ups.push(up);
    await gw.apply(
      simple(route(forward('asleep_default', { retries: retries(['5xx'], 1, { perTryTimeoutMs: 100 }) })), [upstream('asleep_default', [up.port])]),
    );
    const res = await send(gw.port, '/per-try');
    assert.equal(res.status, 504);
    assert.equal(res.body, 'upstream request timeout');
    assert.equal(up.requests.length, 2);
  });

  test('a POST with a body is not retried', async () => {
    const up = await flaky(1);
    await gw.apply(simple(route(forward('flaky_default', { retries: retries(['5xx', 'reset', 'connect-failure'], 2) })), [upstream('flaky_default', [up.port])]));
    const res = await send(gw.port, '/post', { method: 'POST', body: 'payload' });
    assert.equal(res.status, 503);
    assert.equal(res.body, 'unavailable');
    assert.equal(up.requests.length, 1);
    assert.equal(up.requests[0]!.body, 'payload');
  });

  test('without a matching retryOn a 503 is relayed as is', async () => {
    const up = await flaky(1);
    await gw.apply(simple(route(forward('flaky_default', { retries: retries(['connect-failure'], 2) })), [upstream('flaky_default', [up.port])]));
    const res = await send(gw.port, '/no-retry');
    assert.equal(res.status, 503);
    assert.equal(up.requests.length, 1);
  });
});
