// gRPC through the proxy with real peers: an @grpc/grpc-js client (h2c to the listener) and an
// @grpc/grpc-js server behind an Upstream with useHttp2. Messages, metadata and trailers (the
// gRPC status) cross intact, streaming included; the proxy's own answers to a gRPC request are
// gRPC answers (HTTP 200, grpc-status mapped from the HTTP status as Envoy maps it).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { EchoClient, startEchoServer, unary, type EchoServer } from '../../helpers/grpc-echo.js';
import { startProxy, type TestProxy } from '../../helpers/proxy.js';
import { freePort } from '../../helpers/ports.js';
import { direct, forward, listener, match, route, snapshot, upstream, vhost } from '../../helpers/snapshot.js';

describe('gRPC through the proxy', () => {
  let gw: TestProxy;
  let app: EchoServer;
  let client: EchoClient;
  let downPort: number;

  before(async () => {
    app = await startEchoServer();
    downPort = await freePort();
    gw = await startProxy({
      snapshot: snapshot(
        listener([
          vhost([
            route(direct(403, 'closed for gRPC'), { match: match({ prefix: '/test.Echo/Closed' }) }),
            route(forward('down'), { match: match({ prefix: '/test.Down/' }) }),
            route(forward('app'), { match: match({ prefix: '/test.Echo/' }) }),
          ]),
        ]),
        [upstream('app', [app.port], { protocol: 'http2' }), upstream('down', [downPort], { protocol: 'http2' })],
      ),
    });
    client = new EchoClient(`127.0.0.1:${gw.port}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await gw.close();
    await app.close();
  });

  test('a unary call: message, client metadata and trailing metadata cross intact', async () => {
    const md = new grpc.Metadata();
    md.set('x-client', 'tester');
    const r = await unary(client, 'hello', md);
    assert.equal(r.err, null);
    assert.equal(r.res, 'echo hello');
    assert.deepEqual(r.trailers?.get('x-echo-trailer'), ['saw tester']);
  });

  test("the server's error status and message reach the client (grpc-status in the trailers)", async () => {
    const r = await unary(client, 'missing');
    assert.equal(r.err?.code, grpc.status.NOT_FOUND);
    assert.equal(r.err?.details, 'no such thing: missing');
  });

  test('server streaming: every message, then OK', async () => {
    const got: string[] = [];
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const call = client.count(Buffer.from('5'));
      call.on('data', (b: Buffer) => got.push(b.toString()));
      call.on('status', resolve);
      call.on('error', () => undefined);
    });
    assert.equal(status.code, grpc.status.OK);
    assert.deepEqual(got, ['1', '2', '3', '4', '5']);
  });

  test('client streaming: the request stream crosses whole', async () => {
    const res = await new Promise<string>((resolve, reject) => {
      const call = client.collect((err, r) => (err ? reject(err) : resolve(r!.toString())));
      for (const part of ['a', 'b', 'c']) call.write(Buffer.from(part));
      call.end();
    });
    assert.equal(res, 'a+b+c');
  });

  test('no route: UNIMPLEMENTED, as Envoy maps its 404', async () => {
    const c = new EchoClient(`127.0.0.1:${gw.port}`, grpc.credentials.createInsecure());
    try {
      const r = await new Promise<grpc.ServiceError | null>((resolve) => {
        const call = c.makeUnaryRequest('/test.Nowhere/Call', (b: Buffer) => b, (b: Buffer) => b, Buffer.from('x'), (err) => resolve(err));
        call.on('status', () => undefined);
      });
      assert.equal(r?.code, grpc.status.UNIMPLEMENTED);
    } finally {
      c.close();
    }
  });

  test('a direct response 403: PERMISSION_DENIED with the body as the message', async () => {
    const err = await new Promise<grpc.ServiceError | null>((resolve) => {
      client.makeUnaryRequest('/test.Echo/Closed', (b: Buffer) => b, (b: Buffer) => b, Buffer.from('x'), (e) => resolve(e));
    });
    assert.equal(err?.code, grpc.status.PERMISSION_DENIED);
    assert.equal(err?.details, 'closed for gRPC');
  });

  test("an upstream that is down: UNAVAILABLE with Envoy's reset message", async () => {
    const err = await new Promise<grpc.ServiceError | null>((resolve) => {
      client.makeUnaryRequest('/test.Down/Call', (b: Buffer) => b, (b: Buffer) => b, Buffer.from('x'), (e) => resolve(e));
    });
    assert.equal(err?.code, grpc.status.UNAVAILABLE);
    assert.match(err?.details ?? '', /^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure/);
  });
});
