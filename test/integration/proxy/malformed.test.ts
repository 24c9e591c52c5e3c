// Malformed HTTP sent as raw bytes: each gets 400 (431 for oversized headers), the upstream
// never sees it, and the proxy keeps serving the next good request.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startProxy, type TestProxy } from '../../helpers/proxy.js';
import { startUpstream, type UpstreamServer } from '../../helpers/upstream-server.js';
import { send, rawExchange, statusOf } from '../../helpers/http.js';
import { simple, route, forward, upstream } from '../../helpers/snapshot.js';

describe('malformed requests', () => {
  let gw: TestProxy;
  let up: UpstreamServer;

  before(async () => {
    up = await startUpstream('backend');
    gw = await startProxy({ snapshot: simple(route(forward('backend_default')), [upstream('backend_default', [up.port])]) });
  });
  after(async () => {
    await gw.close();
    await up.close();
  });

  const cases: [string, string, number][] = [
    ['garbage request line', 'THIS IS NOT HTTP\r\n\r\n', 400],
    ['bad method token', 'G(E)T / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['header without a colon', 'GET /bad HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n', 400],
    ['content-length together with transfer-encoding', 'POST /bad HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['invalid content-length', 'POST /bad HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nhello', 400],
    ['conflicting content-lengths', 'POST /bad HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!', 400],
    ['missing Host', 'GET /bad HTTP/1.1\r\nAccept: */*\r\n\r\n', 400],
    ['headers over 60 KiB', `GET /bad HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(61 * 1024)}\r\n\r\n`, 431],
  ];

  for (const [name, bytes, want] of cases) {
    test(`${name}: ${want}, and the next good request is served`, async () => {
      const before = up.requests.length;
      const raw = await rawExchange(gw.port, bytes);
      assert.equal(statusOf(raw), want, `response was: ${JSON.stringify(raw.slice(0, 200))}`);
      const good = await send(gw.port, '/good');
      assert.equal(good.status, 200);
      assert.equal(good.body, 'backend');
      assert.equal(up.requests.length, before + 1, 'only the good request reached the upstream');
      assert.equal(up.requests.at(-1)?.url, '/good');
    });
  }

  test('a bad request pipelined behind a good one: the good one is answered, then 400', async () => {
    const before = up.requests.length;
    const raw = await rawExchange(gw.port, 'GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nBroken\r\n\r\n');
    const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [200, 400]);
    assert.equal(up.requests.length, before + 1);
    assert.equal(up.requests.at(-1)?.url, '/first');

    const three = await rawExchange(gw.port, 'GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\nGET /three HTTP/1.1\r\nBroken\r\n\r\n');
    assert.deepEqual([...three.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1])), [200, 200, 400]);
    assert.deepEqual(up.requests.slice(before + 1).map((r) => r.url), ['/one', '/two']);
  });

  test('a chunked body that breaks after the request was routed: 400, and the next good request is served', async () => {
    // The headers are fine, so the request is already on its way upstream when the body breaks;
    // Envoy still answers 400 because no response has started.
    const raw = await rawExchange(gw.port, 'POST /bad-chunk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n\r\n');
    assert.equal(statusOf(raw), 400, `response was: ${JSON.stringify(raw.slice(0, 200))}`);
    const good = await send(gw.port, '/good');
    assert.equal(good.status, 200);
    assert.ok(!up.requests.some((r) => r.url === '/bad-chunk'), 'the upstream never completes the broken request');
  });

  test('downstream errors are counted by reason', async () => {
    const metrics = await gw.proxy.stats.registry.metrics();
    assert.match(metrics, /meshgate_downstream_rq_errors_total\{reason="HPE_HEADER_OVERFLOW"\} [1-9]/);
  });
});
