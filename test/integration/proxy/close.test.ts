// Proxy.close(): a request in flight finishes, then the listener is closed.

import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { test } from 'node:test';
import { startProxy } from '../../helpers/proxy.js';
import { startUpstream } from '../../helpers/upstream-server.js';
import { send, connectRefused } from '../../helpers/http.js';
import { eventually, deferred } from '../../helpers/eventually.js';
import { simple, route, forward, upstream } from '../../helpers/snapshot.js';

test('close() lets the in-flight request finish, then stops listening', async (t) => {
  const gate = deferred();
  const up = await startUpstream('slow', async (_rec, res) => {
    await gate.promise;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('finished');
  });
  t.after(() => up.close());
  const gw = await startProxy({ drainMs: 30_000, snapshot: simple(route(forward('slow_default')), [upstream('slow_default', [up.port])]) });
  t.after(() => gw.close());

  const inflight = send(gw.port, '/slow');
  await eventually(() => up.requests.length === 1, { message: 'request reached the upstream' });

  let closed = false;
  const closing = gw.close().then(() => {
    closed = true;
  });
  // No new connections once closing; the request in flight is still being served.
  await eventually(() => connectRefused(gw.port), { message: 'listener stops accepting' });
  assert.equal(closed, false, 'close() waits for the request in flight');

  gate.resolve();
  const res = await inflight;
  assert.equal(res.status, 200);
  assert.equal(res.body, 'finished');
  await closing;
  assert.equal(closed, true);
  assert.equal(await connectRefused(gw.port), true);
});

// The test timeout is only a hang guard: with drainMs at 60 s, waiting for it would fail here.
test('close() closes idle keep-alive connections without waiting for drainMs', { timeout: 20_000 }, async (t) => {
  const up = await startUpstream('fast');
  t.after(() => up.close());
  const gw = await startProxy({ drainMs: 60_000, snapshot: simple(route(forward('fast_default')), [upstream('fast_default', [up.port])]) });
  t.after(() => gw.close());
  const agent = new Agent({ keepAlive: true });
  t.after(() => agent.destroy());
  const res = await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: gw.port, path: '/', agent }, (r) => {
      r.resume();
      r.on('end', () => resolve(r.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(res, 200);
  // An idle keep-alive client connection must not hold close() for the whole drain period.
  await gw.close();
  assert.equal(await connectRefused(gw.port), true);
});
