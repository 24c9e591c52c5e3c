// Forwarding through a real Proxy to a real upstream: what the upstream receives (method, path,
// query, body, Envoy's added headers, no hop-by-hop headers) and what the client gets back.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startProxy, type TestProxy } from '../../helpers/proxy.js';
import { startUpstream, type UpstreamServer, type RecordedRequest } from '../../helpers/upstream-server.js';
import { send, rawExchange, statusOf } from '../../helpers/http.js';
import { eventually } from '../../helpers/eventually.js';
import { simple, route, forward, upstream, retries } from '../../helpers/snapshot.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('proxy forwarding', () => {
  let up: UpstreamServer;
  let gw: TestProxy;

  const lastRequest = (): RecordedRequest => {
    const r = up.requests.at(-1);
    assert.ok(r, 'the upstream received no request');
    return r;
  };

  before(async () => {
    up = await startUpstream('backend');
    gw = await startProxy({ snapshot: simple(route(forward('backend_default')), [upstream('backend_default', [up.port])]) });
  });
  after(async () => {
    await gw.close();
    await up.close();
  });
  beforeEach(async () => {
    up.requests.length = 0;
    up.setHandler((_rec, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
    await gw.apply(simple(route(forward('backend_default')), [upstream('backend_default', [up.port])]));
  });

  test('method, path and query reach the upstream unchanged', async () => {
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const res = await send(gw.port, '/some/path/x%20y?a=1&b=two&a=3', { method });
      assert.equal(res.status, 200, method);
      const got = lastRequest();
      assert.equal(got.method, method);
      assert.equal(got.url, '/some/path/x%20y?a=1&b=two&a=3');
    }
  });

  test('the upstream response status, headers and body are relayed', async () => {
    up.setHandler((_rec, res) => {
      res.writeHead(201, [
        ['content-type', 'application/json'],
        ['x-custom', 'custom-value'],
        ['set-cookie', 'a=1'],
        ['set-cookie', 'b=2'],
      ].flat());
      res.end('{"created":true}');
    });
    const res = await send(gw.port, '/create', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 201);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.headers['x-custom'], 'custom-value');
    assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(res.body, '{"created":true}');
  });

  test('HEAD is relayed without a body', async () => {
    up.setHandler((_rec, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5 });
      res.end();
    });
    const res = await send(gw.port, '/head', { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], '5');
    assert.equal(res.body, '');
    assert.equal(lastRequest().method, 'HEAD');
  });

  test('a POST body with content-length is forwarded with its length', async () => {
    const body = 'hello world, '.repeat(1000);
    const res = await send(gw.port, '/upload', { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
    assert.equal(res.status, 200);
    const got = lastRequest();
    assert.equal(got.method, 'POST');
    assert.equal(got.body, body);
    assert.equal(got.headers['content-length'], String(Buffer.byteLength(body)));
    assert.equal(got.headers['transfer-encoding'], undefined);
  });

  test('a chunked POST body is forwarded chunked', async () => {
    const chunks = ['first-', 'second-', 'x'.repeat(70_000)];
    const res = await send(gw.port, '/stream', { method: 'POST', chunks });
    assert.equal(res.status, 200);
    const got = lastRequest();
    assert.equal(got.body, chunks.join(''));
    assert.equal(got.headers['transfer-encoding'], 'chunked');
    assert.equal(got.headers['content-length'], undefined);
  });

  test('a large response body is streamed back intact', async () => {
    const big = 'abcdefghij'.repeat(200_000);
    up.setHandler((_rec, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(big.slice(0, 1000));
      res.end(big.slice(1000));
    });
    const res = await send(gw.port, '/big');
    assert.equal(res.status, 200);
    assert.equal(res.body.length, big.length);
    assert.equal(res.body, big);
  });

  test('x-forwarded-for carries the client address, appended to an existing one', async () => {
    await send(gw.port, '/xff');
    assert.equal(lastRequest().headers['x-forwarded-for'], '127.0.0.1');
    await send(gw.port, '/xff', { headers: { 'x-forwarded-for': '203.0.113.7' } });
    assert.equal(lastRequest().headers['x-forwarded-for'], '203.0.113.7,127.0.0.1');
    await send(gw.port, '/xff', { headers: { 'x-forwarded-for': '203.0.113.7, 198.51.100.1' } });
    assert.equal(lastRequest().headers['x-forwarded-for'], '203.0.113.7, 198.51.100.1,127.0.0.1');
  });

  test('x-forwarded-proto is http, replacing what the client sent', async () => {
    await send(gw.port, '/xfp');
    assert.equal(lastRequest().headers['x-forwarded-proto'], 'http');
    await send(gw.port, '/xfp', { headers: { 'x-forwarded-proto': 'https' } });
    assert.equal(lastRequest().headers['x-forwarded-proto'], 'http');
    assert.deepEqual(rawValues(lastRequest(), 'x-forwarded-proto'), ['http']);
  });

  test('x-request-id is generated when absent and kept when present', async () => {
    await send(gw.port, '/rid');
    const generated = lastRequest().headers['x-request-id'];
    assert.match(String(generated), UUID);
    await send(gw.port, '/rid');
    assert.notEqual(lastRequest().headers['x-request-id'], generated, 'each request gets its own id');
    await send(gw.port, '/rid', { headers: { 'x-request-id': 'client-chosen-id' } });
    assert.deepEqual(rawValues(lastRequest(), 'x-request-id'), ['client-chosen-id']);
  });

  test('x-envoy-expected-rq-timeout-ms is 15000 by default', async () => {
    await send(gw.port, '/t', { headers: { 'x-envoy-expected-rq-timeout-ms': '1' } });
    assert.deepEqual(rawValues(lastRequest(), 'x-envoy-expected-rq-timeout-ms'), ['15000']);
  });

  test('x-envoy-expected-rq-timeout-ms is the per-try timeout when that is shorter', async () => {
    await gw.apply(simple(route(forward('backend_default', { retries: retries(['5xx'], 1, { perTryTimeoutMs: 2500 }) })), [upstream('backend_default', [up.port])]));
    await send(gw.port, '/t');
    assert.equal(lastRequest().headers['x-envoy-expected-rq-timeout-ms'], '2500');
    await gw.apply(simple(route(forward('backend_default', { timeoutMs: 1200, retries: retries(['5xx'], 1, { perTryTimeoutMs: 2500 }) })), [upstream('backend_default', [up.port])]));
    await send(gw.port, '/t');
    assert.equal(lastRequest().headers['x-envoy-expected-rq-timeout-ms'], '1200');
  });

  test('x-envoy-expected-rq-timeout-ms is omitted when the timeout is 0', async () => {
    await gw.apply(simple(route(forward('backend_default', { timeoutMs: 0 })), [upstream('backend_default', [up.port])]));
    await send(gw.port, '/t', { headers: { 'x-envoy-expected-rq-timeout-ms': '777' } });
    assert.equal(lastRequest().headers['x-envoy-expected-rq-timeout-ms'], undefined);
  });

  test('hop-by-hop request headers and those named in Connection are not forwarded', async () => {
    const raw = await rawExchange(
      gw.port,
      'GET /hop HTTP/1.1\r\nHost: example.com\r\nConnection: close, x-hop-one, X-Hop-Two\r\nKeep-Alive: timeout=5\r\n' +
        'TE: gzip\r\nUpgrade: h2c\r\nProxy-Connection: keep-alive\r\nX-Hop-One: 1\r\nX-Hop-Two: 2\r\nX-End-To-End: kept\r\n\r\n',
    );
    assert.equal(statusOf(raw), 200, raw);
    const h = lastRequest().headers;
    for (const name of ['keep-alive', 'te', 'upgrade', 'proxy-connection', 'x-hop-one', 'x-hop-two']) assert.equal(h[name], undefined, name);
    // The upstream connection's own Connection header is the pool's business, never the client's.
    assert.doesNotMatch(String(h.connection ?? ''), /x-hop/i);
    assert.equal(h['x-end-to-end'], 'kept');
    assert.equal(h.host, 'example.com');
  });

  test('hop-by-hop response headers and those named in Connection are not relayed', async () => {
    up.setHandler((_rec, res) => {
      res.writeHead(200, {
        'content-type': 'text/plain',
        connection: 'keep-alive, x-resp-hop',
        'keep-alive': 'timeout=30',
        'x-resp-hop': 'secret',
        'x-resp-kept': 'yes',
      });
      res.end('ok');
    });
    const res = await send(gw.port, '/hop-response');
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-resp-hop'], undefined);
    assert.equal(res.headers['x-resp-kept'], 'yes');
    assert.notEqual(res.headers['keep-alive'], 'timeout=30');
  });

  test('a client that goes away aborts the upstream request', async () => {
    let upstreamClosed = false;
    up.setHandler((_rec, res) => {
      res.on('close', () => {
        upstreamClosed = !res.writableFinished;
      });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial'); // and never ends
    });
    const sock = connect({ host: '127.0.0.1', port: gw.port });
    let got = '';
    sock.on('data', (c: Buffer) => {
      got += c.toString('latin1');
    });
    sock.on('error', () => undefined);
    sock.write('GET /gone HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(() => got.includes('partial'), { message: 'the partial body reached the client' });
    sock.destroy();
    await eventually(() => upstreamClosed, { message: 'the upstream response was abandoned' });
  });

  test('an absolute-form request target is forwarded in origin form', async () => {
    const raw = await rawExchange(gw.port, 'GET http://example.com/abs/path?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(raw), 200, raw);
    assert.equal(lastRequest().url, '/abs/path?q=1');
  });

  test('the response carries x-envoy-upstream-service-time', async () => {
    const res = await send(gw.port, '/ust');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['x-envoy-upstream-service-time']), /^\d+$/);
  });

  // A sidecar (or another Envoy) behind the gateway sets its own; the client sees only the gateway's.
  test('an upstream’s x-envoy-upstream-service-time is replaced, not repeated', async () => {
    up.setHandler((_rec, res) => {
      res.writeHead(200, { 'x-envoy-upstream-service-time': '99999' });
      res.end('ok');
    });
    const res = await send(gw.port, '/ust');
    assert.equal(res.status, 200);
    const values = res.rawHeaders.filter((_v, i) => i % 2 === 0 && res.rawHeaders[i]!.toLowerCase() === 'x-envoy-upstream-service-time').map((_n, i) => i);
    assert.equal(values.length, 1);
    assert.match(String(res.headers['x-envoy-upstream-service-time']), /^\d+$/);
    assert.notEqual(res.headers['x-envoy-upstream-service-time'], '99999');
  });
});

function rawValues(r: RecordedRequest, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < r.rawHeaders.length; i += 2) if (r.rawHeaders[i]!.toLowerCase() === name) out.push(r.rawHeaders[i + 1]!);
  return out;
}
