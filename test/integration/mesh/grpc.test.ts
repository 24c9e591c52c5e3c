// gRPC through the mesh: @grpc/grpc-js client → gateway (h2c) → Upstream useHttp2 over Istio mTLS
// (ALPN istio-h2, h2) → sidecar in STRICT mode (its inbound listener serves HTTP/2 after the mTLS
// check) → the app, reached over HTTP/2 because the sidecar's upstream follows the downstream
// protocol. The app sees the gateway's identity in XFCC; the status and trailers come back intact.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { credentialSource } from '../../../src/mesh/sds/credential-source.js';
import { AUTO_MTLS_ALPN_H2 } from '../../../src/translate/istio-mtls.js';
import { startMeshPki, GATEWAY_ID, HTTPBIN_ID, type MeshPki } from '../../helpers/mesh-pki.js';
import { gatewaySnapshot, istioMtls, startTestGateway, startTestSidecar, type TestGateway, type TestSidecar } from '../../helpers/mesh-proxies.js';
import { EchoClient, startEchoServer, unary, type EchoServer } from '../../helpers/grpc-echo.js';

let mesh: MeshPki;
let app: EchoServer;
let sidecar: TestSidecar;
let gateway: TestGateway;
let client: EchoClient;

before(async () => {
  mesh = await startMeshPki({ name: 'grpc' });
  app = await startEchoServer();
  sidecar = await startTestSidecar({ credentials: credentialSource(await mesh.store('default', 'httpbin')), appPort: app.port, mode: 'STRICT' });
  gateway = await startTestGateway({
    credentials: credentialSource(await mesh.store('gloo-system', 'gateway-proxy')),
    snapshot: gatewaySnapshot([
      { prefix: '/test.Echo/', upstream: 'greeter-mtls', port: sidecar.port, protocol: 'http2', mtls: { ...istioMtls([HTTPBIN_ID]), alpn: AUTO_MTLS_ALPN_H2 } },
    ]),
  });
  client = new EchoClient(`127.0.0.1:${gateway.port}`, grpc.credentials.createInsecure());
});

after(async () => {
  client?.close();
  await gateway?.close();
  await sidecar?.close();
  await app?.close();
  await mesh?.close();
});

test('a gRPC call crosses gateway → sidecar (STRICT mTLS, HTTP/2) → app, with the caller identity in XFCC', { timeout: 30_000 }, async () => {
  const md = new grpc.Metadata();
  md.set('x-client', 'mesh-test');
  const r = await unary(client, 'through the mesh', md);
  assert.equal(r.err, null);
  assert.equal(r.res, 'echo through the mesh');
  assert.deepEqual(r.trailers?.get('x-echo-trailer'), ['saw mesh-test']);
  const xfcc = String(r.trailers?.get('x-echo-xfcc')[0] ?? '');
  assert.match(xfcc, new RegExp(`^By=${HTTPBIN_ID};Hash=[0-9a-f]{64};Subject="";URI=${GATEWAY_ID}$`));
});

test("the app's error status crosses the mesh", async () => {
  const r = await unary(client, 'missing');
  assert.equal(r.err?.code, grpc.status.NOT_FOUND);
  assert.equal(r.err?.details, 'no such thing: missing');
});

test('the STRICT sidecar refuses plaintext HTTP/2 from a client outside the mesh', async () => {
  const direct = new EchoClient(`127.0.0.1:${sidecar.port}`, grpc.credentials.createInsecure());
  try {
    const r = await unary(direct, 'sneaking in', new grpc.Metadata());
    assert.equal(r.err?.code, grpc.status.UNAVAILABLE);
  } finally {
    direct.close();
  }
});
