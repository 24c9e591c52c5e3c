// WebSocket (HTTP/1.1 Upgrade) through a real Proxy to a real RFC 6455 echo server: the upgrade
// passes the same edge checks, path normalization and routing as any request, is answered
// locally (and closed) when it is not forwarded, is relayed as a plain response when the
// upstream does not switch protocols, and once switched carries bytes both ways until either
// side closes, the listener drains or the connection idles out. Clients are undici's WebSocket
// (a real client that checks the handshake) and a raw one for exact bytes.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Agent, WebSocket } from 'undici';
import { Proxy } from '../../../src/proxy/proxy.js';
import { silentLogger } from '../../../src/log.js';
import { createCa } from '../../helpers/tls-pki.js';
import { startProxy, type TestProxy } from '../../helpers/proxy.js';
import { eventually, deferred } from '../../helpers/eventually.js';
import { freePort } from '../../helpers/ports.js';
import { direct, forward, headerOps, listener, match, redirect, route, simple, snapshot, upstream, vhost } from '../../helpers/snapshot.js';
import { acceptFor, OP, openWs, startWsEcho, type WsEchoServer } from '../../helpers/websocket.js';
import { openRaw, parseResponses, statuses } from '../edge/raw.js';
import { UPSTREAM_RESET_PREFIX } from '../../../src/proxy/local-reply.js';
import type * as ir from '../../../src/ir/index.js';

/** ECHO_TIMEOUT_MS is the echo route's timeout: far shorter than any tunnel here, and it must not end one. */
const ECHO_TIMEOUT_MS = 1;

/** routes: /admin denied first (as path-confusion.test.ts), then one route per outcome. */
function routes(echoPort: number, downPort: number): { routes: ir.Route[]; upstreams: ir.Upstream[] } {
  return {
    routes: [
      route(direct(403, 'denied'), { name: 'deny-admin', match: match({ prefix: '/admin' }) }),
      route(forward('down_default'), { name: 'down', match: match({ prefix: '/down' }) }),
      route(forward('empty_default'), { name: 'empty', match: match({ prefix: '/empty' }) }),
      route(forward('missing_default'), { name: 'missing', match: match({ prefix: '/missing' }) }),
      route(redirect({ pathRedirect: '/echo' }), { name: 'moved', match: match({ prefix: '/moved' }) }),
      route(forward('echo_default'), { name: 'plain', match: match({ prefix: '/plain' }) }),
      route(forward('echo_default', { timeoutMs: ECHO_TIMEOUT_MS }), {
        name: 'echo',
        match: match({ prefix: '/echo' }),
        headers: headerOps({ requestAdd: [['x-route', 'echo']], responseAdd: [['x-route-response', 'echo']], responseRemove: ['x-echo-server'] }),
      }),
      route(forward('echo_default', { prefixRewrite: '/echo/rewritten' }), { name: 'rewrite', match: match({ prefix: '/rw' }) }),
    ],
    upstreams: [upstream('echo_default', [echoPort]), upstream('down_default', [downPort]), upstream('empty_default', [])],
  };
}

/** Client is an undici WebSocket with its messages queued. */
interface Client {
  readonly ws: WebSocket;
  next(): Promise<string | Buffer>;
  readonly closed: Promise<{ code: number }>;
}

function client(port: number, path: string, headers?: Record<string, string>, url = `ws://127.0.0.1:${port}${path}`, dispatcher?: Agent): Promise<Client> {
  const ws = new WebSocket(url, { ...(headers ? { headers } : {}), ...(dispatcher ? { dispatcher } : {}) });
  ws.binaryType = 'arraybuffer';
  const queue: (string | Buffer)[] = [];
  const waiting: ((m: string | Buffer) => void)[] = [];
  const closed = deferred<{ code: number }>();
  ws.addEventListener('message', (e) => {
    const m = typeof e.data === 'string' ? e.data : Buffer.from(e.data as ArrayBuffer);
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  ws.addEventListener('close', (e) => closed.resolve({ code: e.code }));
  return new Promise((resolve, reject) => {
    ws.addEventListener('open', () =>
      resolve({
        ws,
        closed: closed.promise,
        next: () => {
          const m = queue.shift();
          return m !== undefined ? Promise.resolve(m) : new Promise((r) => waiting.push(r));
        },
      }),
    );
    ws.addEventListener('error', () => reject(new Error('websocket failed to open')));
  });
}

describe('websocket pass-through', () => {
  let echo: WsEchoServer;
  let gw: TestProxy;
  let downPort: number;

  const apply = (http: Partial<ir.HttpSettings> = {}) => {
    const r = routes(echo.port, downPort);
    return gw.apply(snapshot(listener([vhost(r.routes)], { http }), r.upstreams));
  };

  before(async () => {
    echo = await startWsEcho();
    downPort = await freePort();
    gw = await startProxy();
    await apply();
  });
  after(async () => {
    await gw.close();
    await echo.close();
  });
  beforeEach(() => {
    echo.upgrades.length = 0;
    echo.plain.length = 0;
    echo.refuse = () => undefined;
  });

  test('text and a 100 KB binary message are echoed through the gateway, past the route timeout', async () => {
    const c = await client(gw.port, '/echo/chat');
    c.ws.send('hello');
    assert.equal(await c.next(), 'hello');
    c.ws.send('wörld, ünïcode');
    assert.equal(await c.next(), 'wörld, ünïcode');
    const big = Buffer.alloc(100 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    c.ws.send(big);
    const got = await c.next();
    assert.ok(Buffer.isBuffer(got));
    assert.equal(Buffer.compare(got, big), 0, 'the binary message came back intact');
    // The echo route's timeout is 1 ms: the round trips above outlived it on a working tunnel.
    c.ws.send('still here');
    assert.equal(await c.next(), 'still here');
    c.ws.close(1000);
    assert.equal((await c.closed).code, 1000);
    assert.equal(echo.upgrades.length, 1);
    assert.equal(echo.upgrades[0]!.url, '/echo/chat');
  });

  test('the upstream gets the proxy headers and none of the client x-envoy-* headers', async () => {
    const c = await openWs(gw.port, '/echo/headers?x=1', {
      headers: [
        ['X-Forwarded-For', '203.0.113.7'],
        ['X-Envoy-Retry-On', '5xx'],
        ['x-envoy-upstream-rq-timeout-ms', '1'],
        ['X-Envoy-Internal', 'true'],
        ['Sec-WebSocket-Protocol', 'chat, superchat'],
        ['X-Request-Id', 'client-id'],
      ],
    });
    assert.equal(c.status, 101, c.head);
    const got = echo.upgrades[0]!;
    assert.equal(got.url, '/echo/headers?x=1');
    assert.equal(got.headers['x-forwarded-for'], '203.0.113.7,127.0.0.1');
    assert.equal(got.headers['x-forwarded-proto'], 'http');
    assert.equal(got.headers['x-envoy-external-address'], '127.0.0.1');
    assert.equal(got.headers['x-envoy-expected-rq-timeout-ms'], String(ECHO_TIMEOUT_MS), 'the proxy sets its own');
    assert.equal(got.headers['x-request-id'], 'client-id');
    assert.equal(got.headers['x-route'], 'echo', 'the route header manipulation applies');
    assert.equal(got.headers['x-envoy-retry-on'], undefined);
    assert.equal(got.headers['x-envoy-upstream-rq-timeout-ms'], undefined);
    assert.equal(got.headers['x-envoy-internal'], undefined);
    // The upgrade itself goes through, with the end-to-end WebSocket headers.
    assert.match(String(got.headers.connection), /^upgrade$/i);
    assert.equal(got.headers.upgrade, 'websocket');
    assert.equal(got.headers['sec-websocket-key'], c.key);
    assert.equal(got.headers['sec-websocket-version'], '13');
    assert.equal(got.headers['sec-websocket-protocol'], 'chat, superchat');
    assert.equal(got.headers.host, 'ws.example');
    c.socket.destroy();
  });

  test('the 101 is relayed with its upgrade headers, less hop-by-hop ones; bytes sent with the handshake arrive', async () => {
    const hello = Buffer.concat([Buffer.from([0x81, 0x85, 1, 2, 3, 4]), Buffer.from('early').map((b, i) => b ^ [1, 2, 3, 4][i & 3]!)]);
    const c = await openWs(gw.port, '/echo/raw', { headers: [['Sec-WebSocket-Protocol', 'chat']], after: hello });
    assert.equal(c.status, 101, c.head);
    assert.match(c.head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.equal(c.headers['sec-websocket-accept'], acceptFor(c.key));
    assert.equal(c.headers['sec-websocket-protocol'], 'chat');
    assert.equal(c.headers.upgrade, 'websocket');
    assert.match(c.headers.connection ?? '', /upgrade/i);
    assert.equal(c.headers['keep-alive'], undefined, 'hop-by-hop');
    assert.equal(c.headers['x-hop'], undefined, 'named in Connection');
    assert.match(c.headers['x-envoy-upstream-service-time'] ?? '', /^\d+$/);
    assert.equal(c.headers['x-route-response'], 'echo');
    assert.equal(c.headers['x-echo-server'], undefined, 'removed by the route');
    assert.equal(c.headers['content-length'], undefined);
    assert.equal(c.headers['transfer-encoding'], undefined);
    // The frame written right behind the handshake ("head") reached the upstream after the 101.
    const first = await c.next();
    assert.equal(first.opcode, OP.text);
    assert.equal(first.payload.toString(), 'early');
    c.send(OP.ping, 'p');
    const pong = await c.next();
    assert.equal(pong.opcode, OP.pong);
    c.send(OP.binary, Buffer.from([0, 1, 2, 255]));
    assert.deepEqual([...(await c.next()).payload], [0, 1, 2, 255]);
    c.socket.destroy();
  });

  test('prefixRewrite applies to the upgrade path', async () => {
    const c = await openWs(gw.port, '/rw/x?q=1');
    assert.equal(c.status, 101, c.head);
    assert.equal(echo.upgrades[0]!.url, '/echo/rewritten/x?q=1');
    c.socket.destroy();
  });

  test('a denied /admin stays unreachable by WebSocket through encoded and dotted paths', async () => {
    for (const target of ['/admin', '/%61dmin', '/./admin', '/echo/../admin', '/echo/%2e%2e/admin', '/echo/%2E%2E/%61dmin/x', '/echo\\..\\admin']) {
      const c = await openWs(gw.port, target);
      assert.equal(c.status, 403, `${target}: ${c.head}`);
      const [res] = parseResponses(await c.whenClosed);
      assert.equal(res?.body, 'denied', target);
      assert.equal(res?.headers.connection, 'close', target);
    }
    assert.deepEqual(echo.upgrades, [], 'nothing reached the upstream');
    assert.deepEqual(echo.plain, []);
  });

  test('a path the normalizer refuses gets 400 and close', async () => {
    const c = await openWs(gw.port, '/echo/%zz');
    assert.equal(c.status, 400, c.head);
    await c.whenClosed;
    assert.deepEqual(echo.upgrades, []);
  });

  test('unrouted: 404 and close; a redirect route answers its redirect', async () => {
    const c = await openWs(gw.port, '/nowhere');
    assert.equal(c.status, 404, c.head);
    assert.equal(c.headers.connection, 'close');
    await c.whenClosed;
    const m = await openWs(gw.port, '/moved');
    assert.equal(m.status, 301, m.head);
    assert.equal(m.headers.location, 'http://ws.example/echo');
    await m.whenClosed;
    assert.deepEqual(echo.upgrades, []);
  });

  test('an upstream answer other than 101 is relayed as a plain response, and nothing after the handshake reaches it', async () => {
    echo.refuse = () => ({ status: 404, body: 'no websocket here' });
    // Bytes behind the handshake: a second request a smuggler hopes the upstream reads.
    const c = await openWs(gw.port, '/echo/refused', { after: 'GET /echo/smuggled HTTP/1.1\r\nHost: ws.example\r\n\r\n' });
    assert.equal(c.status, 404, c.head);
    const raw = await c.whenClosed;
    const [res] = parseResponses(raw);
    assert.equal(res?.body, 'no websocket here');
    assert.equal(res?.headers.connection, 'close');
    assert.match(res?.headers['x-envoy-upstream-service-time'] ?? '', /^\d+$/);
    assert.deepEqual(statuses(raw), [404], 'one response, then the connection closed');
    assert.deepEqual(echo.upgrades.map((u) => u.url), ['/echo/refused']);
    assert.deepEqual(echo.plain, [], 'the smuggled request never reached the upstream');
  });

  test('upstream down: 503 connection failure', async () => {
    const c = await openWs(gw.port, '/down/ws');
    assert.equal(c.status, 503, c.head);
    const [res] = parseResponses(await c.whenClosed);
    assert.equal(res?.body, `${UPSTREAM_RESET_PREFIX}connection failure`);
    assert.equal(res?.headers.connection, 'close');
  });

  test('no endpoint: 503 no healthy upstream; an unknown upstream: 503', async () => {
    const c = await openWs(gw.port, '/empty/ws');
    assert.equal(c.status, 503, c.head);
    assert.equal(parseResponses(await c.whenClosed)[0]?.body, 'no healthy upstream');
    const m = await openWs(gw.port, '/missing/ws');
    assert.equal(m.status, 503, m.head);
    await m.whenClosed;
  });

  test('an Upgrade other than websocket gets 403 and never reaches the upstream', async () => {
    for (const proto of ['foo', 'TLS/1.2', 'websocket, foo']) {
      const c = await openWs(gw.port, '/echo/other', { upgrade: proto });
      assert.equal(c.status, 403, `${proto}: ${c.head}`);
      await c.whenClosed;
    }
    // The protocol name is compared without case, as Envoy does.
    const ok = await openWs(gw.port, '/echo/case', { upgrade: 'WebSocket' });
    assert.equal(ok.status, 101, ok.head);
    ok.socket.destroy();
    assert.deepEqual(echo.upgrades.map((u) => u.url), ['/echo/case']);
    assert.equal(echo.upgrades[0]!.headers.upgrade, 'WebSocket');
  });

  test('Upgrade: h2c is served as a plain request, without the upgrade headers', async () => {
    const c = await openWs(gw.port, '/plain/h2c', {
      upgrade: 'h2c',
      headers: [['HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA'], ['Connection', 'HTTP2-Settings, x-hop'], ['X-Hop', '1'], ['X-Kept', 'yes']],
    });
    assert.equal(c.status, 200, c.head);
    const [res] = parseResponses(await c.whenClosed);
    assert.equal(res?.body, 'plain');
    assert.equal(res?.headers.connection, 'close');
    assert.deepEqual(echo.upgrades, []);
    const got = echo.plain[0]!;
    assert.equal(got.url, '/plain/h2c');
    for (const h of ['upgrade', 'http2-settings', 'x-hop']) assert.equal(got.headers[h], undefined, h);
    assert.doesNotMatch(String(got.headers.connection ?? ''), /upgrade|http2/i);
    assert.equal(got.headers['x-kept'], 'yes');
  });

  test('the edge checks refuse an upgrade as any request: two Host headers, a bad Host, no Host, a body', async () => {
    const cases: [string, Parameters<typeof openWs>[2], number][] = [
      ['two Host headers', { headers: [['Host', 'other.example']] }, 400],
      ['a bad Host', { host: 'bad host' }, 400],
      ['no Host', { host: null }, 400],
      ['a body', { headers: [['Content-Length', '5']], after: 'hello' }, 400],
      ['a chunked body', { headers: [['Transfer-Encoding', 'chunked']], after: '5\r\nhello\r\n0\r\n\r\n' }, 400],
    ];
    for (const [name, opts, status] of cases) {
      const c = await openWs(gw.port, '/echo/refused', opts);
      assert.equal(c.status, status, `${name}: ${c.head}`);
      assert.equal(c.headers.connection, 'close', name);
      await c.whenClosed;
    }
    assert.deepEqual(echo.upgrades, []);
    // Content-Length: 0 is no body.
    const ok = await openWs(gw.port, '/echo/cl0', { headers: [['Content-Length', '0']] });
    assert.equal(ok.status, 101, ok.head);
    ok.socket.destroy();
  });

  test('CONNECT is still closed without a response', async () => {
    const conn = await openRaw(gw.port);
    conn.write(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nHost: 127.0.0.1:${echo.port}\r\n\r\n`);
    assert.equal(await conn.whenClosed, '');
    assert.deepEqual(echo.upgrades, []);
  });

  test('an upgrade pipelined behind a plain request waits for its response', async () => {
    const conn = await openRaw(gw.port);
    conn.write(
      'GET /plain/first HTTP/1.1\r\nHost: ws.example\r\n\r\n' +
        'GET /echo/second HTTP/1.1\r\nHost: ws.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    await eventually(() => assert.match(conn.text(), /HTTP\/1\.1 101 /));
    const text = conn.text();
    assert.ok(text.indexOf('HTTP/1.1 200 ') < text.indexOf('HTTP/1.1 101 '), text);
    assert.equal(parseResponses(text)[0]?.body, 'plain');
    assert.deepEqual(echo.plain.map((p) => p.url), ['/plain/first']);
    assert.deepEqual(echo.upgrades.map((u) => u.url), ['/echo/second']);
    conn.destroy();
  });

  test('an upgrade pipelined behind a response that closes the connection is never served', async () => {
    const conn = await openRaw(gw.port);
    conn.write(
      'GET /plain/first HTTP/1.1\r\nHost: ws.example\r\nConnection: close\r\n\r\n' +
        'GET /echo/second HTTP/1.1\r\nHost: ws.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    assert.deepEqual(statuses(await conn.whenClosed), [200]);
    assert.deepEqual(echo.upgrades, []);
  });

  test('the client closing closes the upstream connection', async () => {
    const c = await client(gw.port, '/echo/client-closes');
    c.ws.send('x');
    await c.next();
    assert.equal(echo.open.size, 1);
    c.ws.close(1000);
    await c.closed;
    await eventually(() => assert.equal(echo.open.size, 0));
    // An abrupt close too.
    const raw = await openWs(gw.port, '/echo/client-resets');
    assert.equal(raw.status, 101);
    await eventually(() => assert.equal(echo.open.size, 1));
    raw.socket.destroy();
    await eventually(() => assert.equal(echo.open.size, 0));
  });

  test('the upstream closing closes the client connection', async () => {
    const c = await client(gw.port, '/echo/server-closes');
    c.ws.send('x');
    await c.next();
    echo.closeAll();
    assert.equal((await c.closed).code, 1001, 'the upstream close frame got through before the close');
    const raw = await openWs(gw.port, '/echo/server-resets');
    assert.equal(raw.status, 101);
    await eventually(() => assert.equal(echo.open.size, 1));
    for (const s of echo.open) s.destroy();
    await raw.whenClosed;
  });

  test('metrics count upgrades, and the active gauges come back down', async () => {
    const c = await client(gw.port, '/echo/metrics');
    await eventually(async () => {
      const text = await gw.proxy.metrics();
      assert.match(text, /meshgate_downstream_cx_upgrades_active\{listener="[^"]+"\} 1\n/);
      assert.match(text, /meshgate_downstream_cx_upgrades_total\{listener="[^"]+"\} [1-9]\d*\n/);
    });
    c.ws.close();
    await c.closed;
    await eventually(async () => {
      const t = await gw.proxy.metrics();
      assert.match(t, /meshgate_downstream_cx_upgrades_active\{listener="[^"]+"\} 0\n/);
      assert.match(t, /meshgate_downstream_cx_active\{listener="[^"]+"\} 0\n/);
    });
  });

  test('an upgraded connection idle for streamIdleTimeout is closed on both sides', async () => {
    await apply({ streamIdleTimeoutMs: 200 });
    try {
      const c = await openWs(gw.port, '/echo/idle');
      assert.equal(c.status, 101);
      await eventually(() => assert.equal(echo.open.size, 1));
      await c.whenClosed;
      await eventually(() => assert.equal(echo.open.size, 0));
    } finally {
      await apply();
    }
  });

  test('a plain-request route still works, and a request with Upgrade but no Connection: upgrade is plain', async () => {
    const c = await openRaw(gw.port);
    c.write('GET /plain/no-connection HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n');
    const raw = await c.whenClosed;
    assert.deepEqual(statuses(raw), [200]);
    assert.deepEqual(echo.upgrades, []);
    assert.equal(echo.plain[0]?.headers.upgrade, undefined, 'hop-by-hop');
  });
});

describe('websocket and the listener drain', () => {
  test('closing the proxy ends an upgraded connection within the drain time', async () => {
    const echo = await startWsEcho();
    const gw = await startProxy({ drainMs: 300, snapshot: simple(route(forward('echo_default', { timeoutMs: 0 })), [upstream('echo_default', [echo.port])]) });
    try {
      const c = await client(gw.port, '/drain');
      c.ws.send('before');
      assert.equal(await c.next(), 'before');
      await gw.close();
      await c.closed;
      await eventually(() => assert.equal(echo.open.size, 0));
    } finally {
      await gw.close();
      await echo.close();
    }
  });

  test('a listener removed by a snapshot ends its upgraded connections within its drain time', async () => {
    const echo = await startWsEcho();
    const ups = [upstream('echo_default', [echo.port])];
    const main = listener([vhost([route(forward('echo_default'))])]);
    const second = listener([vhost([route(forward('echo_default'))])], { name: 'gloo-system.second', bindPort: 8081, http: { drainTimeoutMs: 200 } });
    const gw = await startProxy({ bindPorts: [8080, 8081], drainMs: 10_000, snapshot: snapshot([main, second], ups) });
    try {
      const c = await client(gw.portFor(8081), '/drain');
      await gw.apply(snapshot([main], ups));
      await c.closed;
      await eventually(() => assert.equal(echo.open.size, 0));
    } finally {
      await gw.close();
      await echo.close();
    }
  });
});

describe('websocket over HTTPS', () => {
  test('wss: echo through an ssl listener', async () => {
    const echo = await startWsEcho();
    const ca = await createCa('websocket test CA');
    const leaf = await ca.issue({ cn: 'ws.example' });
    const port = await freePort();
    const proxy = new Proxy({
      portMap: { 8443: port },
      bindAddress: '127.0.0.1',
      drainMs: 500,
      log: silentLogger,
      secrets: { tlsSecret: (ns, name) => (ns === 'default' && name === 'ws' ? { certPem: leaf.certPem, keyPem: leaf.keyPem } : undefined) },
    });
    // The chain is checked against the test CA; the name is not (the client dials 127.0.0.1).
    const agent = new Agent({ connect: { ca: ca.certPem, checkServerIdentity: () => undefined } });
    try {
      const ssl: ir.Listener = {
        ...listener([vhost([route(forward('echo_default'))])], { name: 'gloo-system.gateway-proxy-ssl', bindPort: 8443, ssl: true }),
        tls: {
          certificates: [{ name: 'default.ws', sniDomains: ['*'], secretRef: { namespace: 'default', name: 'ws', version: '1' } }],
          alpn: ['http/1.1'],
          verifySubjectAltName: [],
          sessionResumption: true,
        },
      };
      await proxy.applySnapshot(snapshot(ssl, [upstream('echo_default', [echo.port])]));
      const c = await client(port, '/secure', undefined, `wss://127.0.0.1:${port}/secure`, agent);
      c.ws.send('over tls');
      assert.equal(await c.next(), 'over tls');
      assert.equal(echo.upgrades[0]?.headers['x-forwarded-proto'], 'https');
      c.ws.close(1000);
      assert.equal((await c.closed).code, 1000);
      await eventually(() => assert.equal(echo.open.size, 0));
    } finally {
      await proxy.close(0);
      await agent.close();
      await echo.close();
    }
  });
});
