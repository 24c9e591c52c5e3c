// The admin port (startAdmin): /ready, /config_dump, /stats/prometheus and unknown paths.

import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startAdmin } from '../../../src/proxy/admin.js';
import { startProxy, type TestProxy } from '../../helpers/proxy.js';
import { startUpstream, type UpstreamServer } from '../../helpers/upstream-server.js';
import { send } from '../../helpers/http.js';
import { freePort } from '../../helpers/ports.js';
import { simple, route, forward, upstream, match } from '../../helpers/snapshot.js';

describe('admin', () => {
  let gw: TestProxy;
  let up: UpstreamServer;
  let admin: { server: Server; port: number };

  before(async () => {
    up = await startUpstream('backend');
    gw = await startProxy();
    admin = await startAdmin(gw.proxy, '127.0.0.1', 0);
  });
  after(async () => {
    await new Promise((resolve) => admin.server.close(resolve));
    await gw.close();
    await up.close();
  });

  test('/ready is 503 before the first snapshot and 200 after', async () => {
    const early = await send(admin.port, '/ready');
    assert.equal(early.status, 503);
    assert.equal(early.body, 'PRE_INITIALIZING\n');
    const closed = await freePort();
    await gw.apply(
      simple(
        [route(forward('dead_default'), { match: match({ prefix: '/dead' }) }), route(forward('backend_default'))],
        [upstream('backend_default', [up.port]), upstream('dead_default', [closed])],
      ),
    );
    const ready = await send(admin.port, '/ready');
    assert.equal(ready.status, 200);
    assert.equal(ready.body, 'LIVE\n');
  });

  test('/config_dump returns the snapshot being served', async () => {
    const res = await send(admin.port, '/config_dump');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const dump = JSON.parse(res.body) as { snapshot: unknown; listeners: { name: string; port: number; host: string }[] };
    assert.deepEqual(dump.snapshot, JSON.parse(JSON.stringify(gw.proxy.current)));
    assert.deepEqual(
      dump.listeners.map((l) => [l.name, l.host, l.port]),
      [['gloo-system.gateway-proxy', '127.0.0.1', gw.port]],
    );
  });

  test('/stats/prometheus shows request, connect-failure and latency metrics after traffic', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await send(gw.port, `/ok/${i}`)).status, 200);
    assert.equal((await send(gw.port, '/dead')).status, 503);
    const res = await send(admin.port, '/stats/prometheus');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    const m = res.body;
    assert.match(m, /^meshgate_upstream_rq_total\{upstream="backend_default",status_class="2xx"\} 3$/m);
    assert.match(m, /^meshgate_upstream_rq_total\{upstream="dead_default",status_class="5xx"\} 1$/m);
    assert.match(m, /^meshgate_upstream_cx_connect_fail_total\{upstream="dead_default"\} 1$/m);
    assert.match(m, /^# TYPE meshgate_upstream_rq_time_seconds histogram$/m);
    assert.match(m, /^meshgate_upstream_rq_time_seconds_bucket\{le="\+Inf",upstream="backend_default"\} 3$/m);
    assert.match(m, /^meshgate_upstream_rq_time_seconds_count\{upstream="backend_default"\} 3$/m);
    assert.match(m, /^meshgate_snapshots_total\{result="ack"\} 1$/m);
  });

  test('an unknown path is 404', async () => {
    const res = await send(admin.port, '/nope');
    assert.equal(res.status, 404);
    assert.match(res.body, /admin paths/);
  });
});
