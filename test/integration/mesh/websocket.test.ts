// WebSocket through the mesh: client → gateway → (Istio mTLS, auto-mTLS endpoint) → sidecar in
// STRICT mode → echo app. The gateway's upgrade goes through the endpoint's pool and so its mesh
// connector; the sidecar's inbound listener (the same ProxyListener) passes the upgrade on to
// the app with the caller's XFCC, which proves the tunnel ran over mTLS with the gateway's identity.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WebSocket } from 'undici';
import { credentialSource } from '../../../src/mesh/sds/credential-source.js';
import type { CredentialStore } from '../../../src/mesh/sds/credential-store.js';
import { deferred, eventually } from '../../helpers/eventually.js';
import { startMeshPki, GATEWAY_ID, HTTPBIN_ID, type MeshPki } from '../../helpers/mesh-pki.js';
import { gatewaySnapshot, istioMtls, startTestGateway, startTestSidecar, type TestGateway, type TestSidecar } from '../../helpers/mesh-proxies.js';
import { openWs, startWsEcho, type WsEchoServer } from '../../helpers/websocket.js';

let mesh: MeshPki;
let sidecarStore: CredentialStore;
let gatewayStore: CredentialStore;
let echo: WsEchoServer;
let sidecar: TestSidecar;
let gateway: TestGateway;

before(async () => {
  mesh = await startMeshPki({ name: 'websocket' });
  sidecarStore = await mesh.store('default', 'httpbin');
  gatewayStore = await mesh.store('gloo-system', 'gateway-proxy');
  echo = await startWsEcho();
  sidecar = await startTestSidecar({ credentials: credentialSource(sidecarStore), appPort: echo.port, mode: 'STRICT' });
  gateway = await startTestGateway({
    credentials: credentialSource(gatewayStore),
    snapshot: gatewaySnapshot([{ prefix: '/ws/', upstream: 'httpbin-mtls', port: sidecar.port, mtls: istioMtls([HTTPBIN_ID]) }]),
  });
});

after(async () => {
  await gateway?.close();
  await sidecar?.close();
  await echo?.close();
  await mesh?.close();
});

test('a WebSocket echoes through gateway → sidecar (STRICT mTLS) → app', { timeout: 30_000 }, async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/ws/chat`);
  ws.binaryType = 'arraybuffer';
  const messages: (string | Buffer)[] = [];
  ws.addEventListener('message', (e) => messages.push(typeof e.data === 'string' ? e.data : Buffer.from(e.data as ArrayBuffer)));
  const closed = deferred<number>();
  ws.addEventListener('close', (e) => closed.resolve(e.code));
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    ws.addEventListener('error', () => reject(new Error('websocket failed to open')));
  });
  ws.send('over mtls');
  const big = Buffer.alloc(64 * 1024, 7);
  ws.send(big);
  await eventually(() => messages.length === 2);
  assert.equal(messages[0], 'over mtls');
  assert.equal(Buffer.compare(messages[1] as Buffer, big), 0);

  const got = echo.upgrades[0]!;
  assert.equal(got.url, '/ws/chat');
  assert.equal(got.headers.upgrade, 'websocket');
  // The sidecar adds XFCC only for an mTLS peer: the gateway, with its own identity.
  assert.match(String(got.headers['x-forwarded-client-cert']), new RegExp(`^By=${HTTPBIN_ID};Hash=[0-9a-f]{64};Subject="";URI=${GATEWAY_ID}$`));

  ws.close(1000);
  assert.equal(await closed.promise, 1000);
  await eventually(() => assert.equal(echo.open.size, 0));
});

test('the STRICT sidecar still refuses a plaintext upgrade', async () => {
  const before = echo.upgrades.length;
  const c = await openWs(sidecar.port, '/ws/direct');
  assert.equal(c.status, 0, 'closed before any response');
  assert.equal(echo.upgrades.length, before);
});
