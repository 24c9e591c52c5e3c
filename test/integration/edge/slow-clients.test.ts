// Slow clients: headers dribbled slower than requestHeadersTimeout (slowloris) get 408 and a
// close, and so does a connection that sends nothing; a body stalled past streamIdleTimeout gets
// 408 and a close, an upstream silent past it gets 408 (before the response began) or a reset
// (after); an idle keep-alive connection is closed after idleTimeout. Meanwhile a fast client on
// another connection is served. Timeouts are small and set through the listener's settings;
// nothing sleeps: the tests poll for the close.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startProxy, type TestProxy } from '../../helpers/proxy.js';
import { send } from '../../helpers/http.js';
import { eventually } from '../../helpers/eventually.js';
import { snapshot, listener, vhost, route, forward, upstream, match } from '../../helpers/snapshot.js';
import type * as ir from '../../../src/ir/index.js';
import { openRaw, parseResponses, startRecorder, statuses, type RawConn, type Recorder } from './raw.js';

/** dribble writes one header line every intervalMs until the connection closes. */
function dribble(c: RawConn, intervalMs: number): () => void {
  let i = 0;
  const t = setInterval(() => {
    if (c.closed) return clearInterval(t);
    c.write(`X-Slow-${i++}: ${'z'.repeat(8)}\r\n`);
  }, intervalMs);
  return () => clearInterval(t);
}

describe('slow clients', () => {
  let gw: TestProxy;
  let rec: Recorder;

  before(async () => {
    rec = await startRecorder();
    gw = await startProxy();
  });
  after(async () => {
    await gw.close();
    await rec.close();
  });

  /** apply routes /silent to a route without timeout (so only the stream idle timeout applies), the rest to the recorder. */
  const apply = (http: Partial<ir.HttpSettings>) =>
    gw.apply(
      snapshot(
        listener([vhost([route(forward('rec_default', { timeoutMs: 0 }), { match: match({ prefix: '/silent' }) }), route(forward('rec_default'))])], { http }),
        [upstream('rec_default', [rec.port])],
      ),
    );

  test('slowloris: headers dribbled past requestHeadersTimeout get 408 and a close; a fast client is served meanwhile', async () => {
    await apply({ requestHeadersTimeoutMs: 300 });
    const arrived = rec.arrivals.length;
    const slow = await openRaw(gw.port);
    slow.write('GET /slowloris HTTP/1.1\r\nHost: x\r\n');
    // Bytes keep coming, faster than any idle timeout: only the headers timeout can end it.
    const stop = dribble(slow, 20);
    try {
      const fast = await send(gw.port, '/fast');
      assert.equal(fast.status, 200, 'a fast client is served while the slow one dribbles');
      await eventually(() => slow.closed, { message: 'the slowloris connection is closed' });
      assert.deepEqual(statuses(slow.text()), [408]);
      assert.deepEqual(rec.arrivals.slice(arrived).map((a) => a.url), ['/fast']);
      const metrics = await gw.proxy.stats.registry.metrics();
      assert.match(metrics, /meshgate_downstream_rq_errors_total\{reason="request_header_timeout"\} [1-9]/);
    } finally {
      stop();
      slow.destroy();
    }
  });

  test('a sidecar inbound listener (plaintext, PERMISSIVE) enforces requestHeadersTimeout too', async () => {
    const inbound: ir.Listener = {
      ...listener([vhost([route(forward('rec_default'))])], { http: { requestHeadersTimeoutMs: 300 } }),
      inbound: { mode: 'PERMISSIVE', trustDomain: 'cluster.local' },
    };
    // Its own proxy: turning a listener into an inbound one on the same port needs a rebind.
    const sidecar = await startProxy({ snapshot: snapshot(inbound, [upstream('rec_default', [rec.port])]) });
    const slow = await openRaw(sidecar.port);
    slow.write('GET /slowloris HTTP/1.1\r\nHost: x\r\n');
    const stop = dribble(slow, 20);
    try {
      assert.equal((await send(sidecar.port, '/fast')).status, 200);
      await eventually(() => slow.closed, { message: 'the slowloris connection is closed' });
      assert.deepEqual(statuses(slow.text()), [408]);
    } finally {
      stop();
      slow.destroy();
      await sidecar.close();
    }
  });

  test('a connection that never sends a byte is closed after requestHeadersTimeout', async () => {
    await apply({ requestHeadersTimeoutMs: 300 });
    const silent = await openRaw(gw.port);
    try {
      await eventually(() => silent.closed, { message: 'the silent connection is closed' });
      assert.ok([[], [408]].some((s) => JSON.stringify(s) === JSON.stringify(statuses(silent.text()))));
    } finally {
      silent.destroy();
    }
  });

  test('slow body: a body stalled past streamIdleTimeout gets 408 and a close; the upstream request never completes', async () => {
    await apply({ streamIdleTimeoutMs: 300 });
    const completed = rec.completed.length;
    const slow = await openRaw(gw.port);
    try {
      slow.write(`POST /slow-body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n${'b'.repeat(10)}`);
      await eventually(() => rec.arrivals.some((a) => a.url === '/slow-body'), { message: 'the request was forwarded' });
      const fast = await send(gw.port, '/fast-meanwhile');
      assert.equal(fast.status, 200);
      await eventually(() => slow.closed, { message: 'the stalled connection is closed' });
      const rs = parseResponses(slow.text());
      assert.deepEqual(rs.map((r) => [r.status, r.body]), [[408, 'stream timeout']]);
      await eventually(() => rec.active === 0, { message: 'the upstream request was aborted' });
      assert.deepEqual(rec.completed.slice(completed).map((c) => c.url), ['/fast-meanwhile']);
    } finally {
      slow.destroy();
    }
  });

  test('a body that keeps moving is not cut by streamIdleTimeout', async () => {
    await apply({ streamIdleTimeoutMs: 300 });
    const c = await openRaw(gw.port);
    try {
      c.write('POST /steady HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
      // 40 chunks 25 ms apart: 1 s in all, each gap well under the idle timeout.
      let n = 0;
      await new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (n++ < 40) return c.write('1\r\nx\r\n');
          clearInterval(t);
          c.write('0\r\n\r\n');
          resolve();
        }, 25);
      });
      await eventually(() => statuses(c.text()).length === 1);
      assert.deepEqual(statuses(c.text()), [200]);
      assert.equal(rec.completed.at(-1)?.body.length, 40);
    } finally {
      c.destroy();
    }
  });

  test('an upstream silent past streamIdleTimeout (no route timeout): 408 stream timeout before the response began', async () => {
    await apply({ streamIdleTimeoutMs: 300 });
    rec.setHandler(() => undefined);
    try {
      const c = await openRaw(gw.port);
      try {
        c.write('GET /silent HTTP/1.1\r\nHost: x\r\n\r\n');
        await eventually(() => statuses(c.text()).length === 1, { message: 'a local reply' });
        assert.deepEqual(parseResponses(c.text()).map((r) => [r.status, r.body]), [[408, 'stream timeout']]);
        // The request was read in full: the connection stays usable.
        rec.setHandler((_c, res) => void res.end('ok'));
        c.write('GET /after HTTP/1.1\r\nHost: x\r\n\r\n');
        await eventually(() => assert.deepEqual(statuses(c.text()), [408, 200]));
      } finally {
        c.destroy();
      }
    } finally {
      rec.setHandler((_c, res) => void res.end('ok'));
    }
  });

  test('an upstream that stalls mid-response past streamIdleTimeout: the client connection is reset', async () => {
    await apply({ streamIdleTimeoutMs: 300 });
    rec.setHandler((_c, res) => {
      res.writeHead(200, { 'content-length': 100 });
      res.write('partial');
    });
    try {
      const c = await openRaw(gw.port);
      c.write('GET /silent-mid HTTP/1.1\r\nHost: x\r\n\r\n');
      await eventually(() => c.closed, { message: 'the connection is closed' });
      assert.match(c.text(), /^HTTP\/1\.1 200 /);
      assert.deepEqual(parseResponses(c.text()), [], 'the response never completes');
    } finally {
      rec.setHandler((_c, res) => void res.end('ok'));
    }
  });

  test('an idle keep-alive connection is closed after idleTimeout', async () => {
    await apply({ idleTimeoutMs: 100 });
    const c = await openRaw(gw.port);
    try {
      c.write('GET /idle HTTP/1.1\r\nHost: x\r\n\r\n');
      await eventually(() => statuses(c.text()).length === 1);
      assert.equal(parseResponses(c.text())[0]!.headers['keep-alive'], 'timeout=0');
      await eventually(() => c.closed, { message: 'the idle connection is closed' });
    } finally {
      c.destroy();
    }
  });
});
