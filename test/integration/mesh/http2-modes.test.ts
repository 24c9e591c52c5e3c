// HTTP/2 on a sidecar's inbound listener when its PeerAuthentication mode changes: an open
// plaintext h2c connection the new mode forbids gets GOAWAY (its stream in flight finishes, as
// an HTTP/1 one finishes its response with `connection: close`), and a new one is refused.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { credentialSource } from '../../../src/mesh/sds/credential-source.js';
import { eventually } from '../../helpers/eventually.js';
import { startMeshPki, type MeshPki } from '../../helpers/mesh-pki.js';
import { startTestSidecar, type TestSidecar } from '../../helpers/mesh-proxies.js';
import { h2connect, h2request, startH2Upstream, type H2Upstream } from '../../helpers/h2.js';

let mesh: MeshPki;
let app: H2Upstream;
let sidecar: TestSidecar;

before(async () => {
  mesh = await startMeshPki({ name: 'http2-modes' });
  app = await startH2Upstream();
  sidecar = await startTestSidecar({ credentials: credentialSource(await mesh.store('default', 'httpbin')), appPort: app.port, mode: 'PERMISSIVE' });
});

after(async () => {
  await sidecar?.close();
  await app?.close();
  await mesh?.close();
});

test('PERMISSIVE → STRICT: an open h2c connection gets GOAWAY, its stream in flight finishes, a new one is refused', { timeout: 30_000 }, async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  app.setHandler((_rec, stream) => {
    void held.then(() => {
      stream.respond({ ':status': 200 });
      stream.end('after the switch');
    });
  });
  const s = await h2connect(`http://127.0.0.1:${sidecar.port}`);
  try {
    let goaway = false;
    s.on('goaway', () => (goaway = true));
    const inflight = h2request(s, { ':path': '/held', ':authority': 'httpbin' });
    await eventually(() => app.requests.length === 1, { message: 'the request reached the app over HTTP/2' });
    await sidecar.setMode('STRICT');
    await eventually(() => goaway, { message: 'the plaintext HTTP/2 connection is told GOAWAY' });
    release();
    const r = await inflight;
    assert.equal(r.status, 200);
    assert.equal(r.body, 'after the switch');
    await eventually(() => s.closed || s.destroyed, { message: 'the connection closes once its stream is done' });
    // A new plaintext connection is closed before any HTTP/2 frame from the sidecar.
    const refused = await h2connect(`http://127.0.0.1:${sidecar.port}`).then(
      (c) => new Promise<boolean>((resolve) => {
        c.on('close', () => resolve(true));
        c.request({ ':path': '/new', ':authority': 'httpbin' }).on('error', () => undefined);
      }),
      () => true,
    );
    assert.equal(refused, true);
    assert.equal(app.requests.length, 1, 'nothing more reached the app');
  } finally {
    release();
    s.destroy();
  }
});
