// gRPC through the proxy with real peers: an @grpc/grpc-js client (h2c to the listener) and an
// @grpc/grpc-js server behind an Upstream with useHttp2. Messages, metadata and trailers (the
// gRPC status) cross intact, streaming included; the proxy's own answers to a gRPC request are
// gRPC answers (HTTP 200, grpc-status mapped from the HTTP status as Envoy maps it).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startProxy, type TestProxy } from '../../helpers/proxy.js';
import { freePort } from '../../helpers/ports.js';
import { direct, forward, listener, match, route, snapshot, upstream, vhost } from '../../helpers/snapshot.js';

/** A service without a .proto: messages are raw bytes (the proxy never looks inside them). */
const raw = {
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};
const ECHO = {
  echo: { path: '/test.Echo/Echo', requestStream: false, responseStream: false, ...raw },
  count: { path: '/test.Echo/Count', requestStream: false, responseStream: true, ...raw },
  collect: { path: '/test.Echo/Collect', requestStream: true, responseStream: false, ...raw },
} satisfies grpc.ServiceDefinition;

type EchoClient = grpc.Client & {
  echo(req: Buffer, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res?: Buffer) => void): grpc.ClientUnaryCall;
  count(req: Buffer): grpc.ClientReadableStream<Buffer>;
  collect(cb: (err: grpc.ServiceError | null, res?: Buffer) => void): grpc.ClientWritableStream<Buffer>;
};
const EchoClient = grpc.makeGenericClientConstructor(ECHO, 'Echo') as unknown as new (address: string, creds: grpc.ChannelCredentials) => EchoClient;

/** startEchoServer runs the gRPC server on 127.0.0.1, plaintext (h2c), as a meshed app would. */
async function startEchoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = new grpc.Server();
  server.addService(ECHO, {
    echo(call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) {
      const text = call.request.toString();
      if (text === 'missing') return cb({ code: grpc.status.NOT_FOUND, details: 'no such thing: missing' });
      const trailer = new grpc.Metadata();
      trailer.set('x-echo-trailer', `saw ${call.metadata.get('x-client')[0] ?? 'nothing'}`);
      cb(null, Buffer.from(`echo ${text}`), trailer);
    },
    count(call: grpc.ServerWritableStream<Buffer, Buffer>) {
      const n = Number(call.request.toString());
      for (let i = 1; i <= n; i++) call.write(Buffer.from(String(i)));
      call.end();
    },
    collect(call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) {
      const parts: string[] = [];
      call.on('data', (b: Buffer) => parts.push(b.toString()));
      call.on('end', () => cb(null, Buffer.from(parts.join('+'))));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}

function unary(c: EchoClient, text: string, md = new grpc.Metadata()): Promise<{ err: grpc.ServiceError | null; res?: string; trailers?: grpc.Metadata }> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | undefined;
    const call = c.echo(Buffer.from(text), md, (err, res) => {
      // 'status' (with the trailers) comes before or after the callback: wait a tick for it.
      setImmediate(() => resolve({ err, ...(res ? { res: res.toString() } : {}), ...(trailers ? { trailers } : {}) }));
    });
    call.on('status', (s: grpc.StatusObject) => (trailers = s.metadata));
  });
}

describe('gRPC through the proxy', () => {
  let gw: TestProxy;
  let app: { port: number; close(): Promise<void> };
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
