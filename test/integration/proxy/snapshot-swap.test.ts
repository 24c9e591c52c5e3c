// Applying snapshots to a serving proxy: in-flight requests keep the route they started with,
// the same version is a no-op, an unbindable or invalid snapshot is refused (NACK) while the
// last good one keeps serving, and a listener dropped from the snapshot stops accepting.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startProxy, type TestProxy } from '../../helpers/proxy.js';
import { startUpstream, type UpstreamServer } from '../../helpers/upstream-server.js';
import { send, connectRefused, type Reply } from '../../helpers/http.js';
import { eventually, deferred } from '../../helpers/eventually.js';
import { simple, snapshot, listener, vhost, route, forward, upstream, direct, HTTP_PORT } from '../../helpers/snapshot.js';
import { ListenerBindError, SnapshotRejectedError } from '../../../src/proxy/errors.js';
import type * as ir from '../../../src/ir/index.js';

describe('snapshot swap', () => {
  let gw: TestProxy;
  let a: UpstreamServer;
  let b: UpstreamServer;
  let busy: Server;
  let busyPort: number;
  const OTHER_PORT = 8081;
  const BUSY_PORT = 9090;

  before(async () => {
    a = await startUpstream('a');
    b = await startUpstream('b');
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen({ host: '127.0.0.1', port: 0 }, resolve));
    busyPort = (busy.address() as { port: number }).port;
    gw = await startProxy({ bindPorts: [HTTP_PORT, OTHER_PORT], portMap: { [BUSY_PORT]: busyPort } });
  });
  after(async () => {
    await gw.close();
    await Promise.all([a.close(), b.close(), new Promise((resolve) => busy.close(resolve))]);
  });

  const toA = () => simple(route(forward('a_default')), [upstream('a_default', [a.port])]);
  const toB = () => simple(route(forward('b_default')), [upstream('b_default', [b.port])]);

  test('an in-flight request finishes on the old route; new requests take the new one', async () => {
    const gate = deferred();
    a.setHandler(async (_rec, res) => {
      await gate.promise;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('old route');
    });
    await gw.apply(toA());
    const before = a.requests.length;
    const inflight = send(gw.port, '/slow');
    await eventually(() => a.requests.length === before + 1, { message: 'slow request reached upstream a' });

    // The new snapshot drops upstream a entirely (its pool is retired) and routes to b.
    await gw.apply(toB());
    const fresh = await send(gw.port, '/fresh');
    assert.equal(fresh.status, 200);
    assert.equal(fresh.body, 'b');

    gate.resolve();
    const old: Reply = await inflight;
    assert.equal(old.status, 200);
    assert.equal(old.body, 'old route');
    assert.equal(a.requests.length, before + 1, 'no new request went to a');
  });

  test('applying the same version again is a no-op', async () => {
    const s = toA();
    a.setHandler((_rec, res) => {
      res.end('a');
    });
    await gw.apply(s);
    assert.equal(gw.proxy.current?.version, s.version);
    // Same version, different content: the proxy must not even look at it.
    const impostor: ir.Snapshot = { ...toB(), version: s.version };
    await gw.apply(impostor);
    await gw.apply(s);
    assert.equal(gw.proxy.current, s);
    assert.equal((await send(gw.port, '/')).body, 'a');
  });

  test('a listener port already in use: ListenerBindError, the previous snapshot keeps serving', async () => {
    const good = toA();
    await gw.apply(good);
    const bad = snapshot(
      [listener([vhost([route(direct(200, 'new'))])]), listener([vhost([route(direct(200, 'other'))])], { name: 'gloo-system.busy', bindPort: BUSY_PORT })],
      [],
    );
    await assert.rejects(gw.apply(bad), (err: unknown) => {
      assert.ok(err instanceof ListenerBindError);
      assert.equal(err.code, 'GW_PROXY_LISTENER_BIND');
      assert.equal(err.port, busyPort);
      return true;
    });
    assert.equal(gw.proxy.current?.version, good.version);
    const res = await send(gw.port, '/');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'a', 'still routed by the last good snapshot');
    assert.deepEqual(
      gw.proxy.addresses().map((l) => l.name),
      ['gloo-system.gateway-proxy'],
    );
    // A later good snapshot is still accepted.
    await gw.apply(toB());
    assert.equal((await send(gw.port, '/')).body, 'b');
  });

  test('an invalid snapshot (forward without destinations) is rejected; the last good keeps serving', async () => {
    const good = toA();
    await gw.apply(good);
    const invalid = simple(route({ type: 'forward', destinations: [], timeoutMs: 15_000 }), []);
    await assert.rejects(gw.apply(invalid), (err: unknown) => {
      assert.ok(err instanceof SnapshotRejectedError);
      assert.equal(err.code, 'GW_PROXY_SNAPSHOT_REJECTED');
      assert.match(err.message, /forward action without destinations/);
      return true;
    });
    assert.equal(gw.proxy.current?.version, good.version);
    assert.equal((await send(gw.port, '/')).body, 'a');
    const metrics = await gw.proxy.stats.registry.metrics();
    assert.match(metrics, /meshgate_snapshots_total\{result="nack"\} [1-9]/);
  });

  test('a listener renamed on the same port (Gateway replaced) keeps serving with the new config', async () => {
    await gw.apply(snapshot(listener([vhost([route(direct(200, 'old gateway'))])], { name: 'gloo-system.gw-old' }), []));
    assert.equal((await send(gw.port, '/')).body, 'old gateway');
    await gw.apply(snapshot(listener([vhost([route(direct(200, 'new gateway'))])], { name: 'gloo-system.gw-new' }), []));
    assert.equal((await send(gw.port, '/')).body, 'new gateway');
    assert.deepEqual(
      gw.proxy.addresses().map((l) => [l.name, l.port]),
      [['gloo-system.gw-new', gw.port]],
    );
    await gw.apply(snapshot(listener([vhost([route(direct(200, 'new gateway v2'))])], { name: 'gloo-system.gw-new' }), []));
    assert.equal((await send(gw.port, '/')).body, 'new gateway v2');
  });

  test('a listener removed from the snapshot stops accepting; the others keep serving', async () => {
    const two = snapshot(
      [listener([vhost([route(direct(200, 'main'))])]), listener([vhost([route(direct(200, 'second'))])], { name: 'gloo-system.second', bindPort: OTHER_PORT })],
      [],
    );
    await gw.apply(two);
    const second = gw.portFor(OTHER_PORT);
    assert.equal((await send(second, '/')).body, 'second');
    assert.equal((await send(gw.port, '/')).body, 'main');

    await gw.apply(snapshot(listener([vhost([route(direct(200, 'main only'))])]), []));
    await eventually(() => connectRefused(second), { message: 'removed listener refuses connections' });
    assert.equal((await send(gw.port, '/')).body, 'main only');
  });
});
