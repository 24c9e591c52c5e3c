// HTTP/2 at the proxy, with real peers: node:http2 and curl as clients (h2c with prior knowledge
// on the plaintext port, h2 by ALPN on the HTTPS one), HTTP/1.1 and h2c upstreams behind
// (Upstream useHttp2, protocolSelection USE_DOWNSTREAM_PROTOCOL), and the edge rules, which hold
// for HTTP/2 streams as for HTTP/1 requests.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ClientHttp2Session } from 'node:http2';
import { Proxy } from '../../../src/proxy/proxy.js';
import { silentLogger } from '../../../src/log.js';
import type * as ir from '../../../src/ir/index.js';
import type { SecretSource, TlsSecret } from '../../../src/proxy/tls/secret-source.js';
import { startProxy, type TestProxy } from '../../helpers/proxy.js';
import { send } from '../../helpers/http.js';
import { eventually } from '../../helpers/eventually.js';
import { freePort } from '../../helpers/ports.js';
import { runCommand } from '../../helpers/cli.js';
import { createCa, writeFiles, type TempFiles } from '../../helpers/tls-pki.js';
import { h2connect, h2request, startH2Upstream, type H2Upstream } from '../../helpers/h2.js';
import { direct, forward, listener, match, route, snapshot, upstream, vhost } from '../../helpers/snapshot.js';
import { startRecorder, type Recorder } from '../edge/raw.js';

/** curl runs curl without any user configuration, with a bound on time; -w prints status and HTTP version. */
function curl(args: readonly string[]) {
  return runCommand('curl', ['-q', '-sS', '--noproxy', '*', '--max-time', '10', '-w', '\n%{http_code} %{http_version}', ...args]);
}

/** lastLine is curl's `-w` line: `<status> <http version>`. */
function lastLine(out: string): string {
  return out.trim().split('\n').at(-1) ?? '';
}

describe('HTTP/2 on a plaintext listener (h2c with prior knowledge)', () => {
  let gw: TestProxy;
  let rec: Recorder;
  let h2up: H2Upstream;
  let session: ClientHttp2Session;

  const routes = (http: Partial<ir.HttpSettings> = {}) =>
    snapshot(
      listener(
        [
          vhost([
            route(direct(403, 'admin is closed'), { match: match({ prefix: '/admin' }) }),
            route(forward('h2up'), { match: match({ prefix: '/h2' }) }),
            route(forward('follow'), { match: match({ prefix: '/follow' }) }),
            route(forward('rec'), { match: match({ prefix: '/' }) }),
          ]),
        ],
        { http },
      ),
      [
        upstream('rec', [rec.port]),
        upstream('h2up', [h2up.port], { protocol: 'http2' }),
        upstream('follow', [h2up.port], { protocol: 'downstream' }),
      ],
    );

  before(async () => {
    rec = await startRecorder();
    h2up = await startH2Upstream();
    gw = await startProxy();
    await gw.apply(routes());
    session = await h2connect(`http://127.0.0.1:${gw.port}`);
  });
  after(async () => {
    session.destroy();
    await gw.close();
    await rec.close();
    await h2up.close();
  });

  test('a request over h2c reaches an HTTP/1.1 upstream with Host from :authority and joined cookies', async () => {
    const before = rec.completed.length;
    const r = await h2request(session, { ':path': '/hello?x=1', ':authority': 'shop.example', cookie: 'a=1', 'x-custom': 'v' }, undefined);
    // A second cookie field, as HTTP/2 clients split them (RFC 9113 §8.2.3).
    const r2 = await h2request(session, { ':path': '/two', ':authority': 'shop.example', cookie: ['a=1', 'b=2'] });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'ok');
    assert.equal(r2.status, 200);
    const got = rec.completed.slice(before);
    assert.equal(got.length, 2);
    assert.equal(got[0]!.url, '/hello?x=1');
    assert.equal(got[0]!.headers.host, 'shop.example');
    assert.equal(got[0]!.headers['x-custom'], 'v');
    assert.equal(got[0]!.headers['x-forwarded-proto'], 'http');
    assert.equal(got[1]!.headers.cookie, 'a=1; b=2');
    // No pseudo-header crossed as a header.
    assert.ok(!got[0]!.rawHeaders.some((n) => n.startsWith(':')));
  });

  test('a request body over h2c is forwarded whole', async () => {
    const before = rec.completed.length;
    const body = 'x'.repeat(100_000);
    const r = await h2request(session, { ':path': '/upload', ':authority': 'a' }, body);
    assert.equal(r.status, 200);
    const got = rec.completed[before]!;
    assert.equal(got.method, 'POST');
    assert.equal(got.body.toString(), body);
  });

  test('HTTP/1.1 still works on the same port', async () => {
    const r = await send(gw.port, '/plain');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'ok');
  });

  test('curl --http2-prior-knowledge gets HTTP/2, and plain curl HTTP/1.1, on one port', async () => {
    const h2 = await curl(['--http2-prior-knowledge', `http://127.0.0.1:${gw.port}/curl`]);
    assert.equal(lastLine(h2.stdout), '200 2', h2.stderr);
    const h1 = await curl([`http://127.0.0.1:${gw.port}/curl`]);
    assert.equal(lastLine(h1.stdout), '200 1.1', h1.stderr);
  });

  test('useHttp2: the upstream gets HTTP/2 (from an HTTP/1.1 client too), and its trailers reach an HTTP/2 client', async () => {
    const before = h2up.requests.length;
    const r = await h2request(session, { ':path': '/h2/trailers', ':authority': 'a', te: 'trailers' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'h2 ok');
    assert.equal(r.trailers['x-trailer'], 'done');
    const h1 = await send(gw.port, '/h2/from-h1');
    assert.equal(h1.status, 200);
    assert.equal(h1.body, 'h2 ok');
    const got = h2up.requests.slice(before);
    assert.equal(got.length, 2);
    assert.equal(got[0]!.headers[':authority'], 'a');
    assert.equal(got[0]!.headers[':path'], '/h2/trailers');
    // te: trailers is the one TE value Envoy passes on; gRPC needs it.
    assert.equal(got[0]!.headers.te, 'trailers');
    assert.equal(got[1]!.headers[':path'], '/h2/from-h1');
  });

  test('USE_DOWNSTREAM_PROTOCOL: an HTTP/2 request goes on as HTTP/2, an HTTP/1.1 one as HTTP/1.1', async () => {
    // The h2c upstream speaks only HTTP/2: an HTTP/1.1 request to it fails (a 503 from the proxy).
    const r = await h2request(session, { ':path': '/follow/x', ':authority': 'a' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'h2 ok');
    const h1 = await send(gw.port, '/follow/y');
    assert.equal(h1.status, 503);
    assert.match(h1.body, /^upstream connect error or disconnect\/reset before headers/);
  });

  test('local replies on HTTP/2 end their stream only: the connection serves the next one', async () => {
    const denied = await h2request(session, { ':path': '/admin', ':authority': 'a' });
    assert.equal(denied.status, 403);
    assert.equal(denied.body, 'admin is closed');
    // The path confusion rules hold on HTTP/2 too.
    const encoded = await h2request(session, { ':path': '/%61dmin', ':authority': 'a' });
    assert.equal(encoded.status, 403);
    const dots = await h2request(session, { ':path': '/x/../admin', ':authority': 'a' });
    assert.equal(dots.status, 403);
    const next = await h2request(session, { ':path': '/after', ':authority': 'a' });
    assert.equal(next.status, 200);
    assert.equal(session.closed, false);
  });

  test('edge checks: host disagreeing with :authority, bad authority, underscores, too many headers', async () => {
    const mismatch = await h2request(session, { ':path': '/m', ':authority': 'a.example', host: 'b.example' });
    assert.equal(mismatch.status, 400);
    // nghttp2 itself refuses an authority with a space: the stream is reset.
    const arrived = rec.arrivals.length;
    const badAuthority = await h2request(session, { ':path': '/m', ':authority': 'a b' });
    assert.ok(badAuthority.status === 400 || badAuthority.rstCode !== 0, JSON.stringify(badAuthority));
    const quote = await h2request(session, { ':path': '/m', ':authority': 'a"b' });
    assert.ok(quote.status === 400 || quote.rstCode !== 0, JSON.stringify(quote));
    assert.equal(rec.arrivals.length, arrived);
    await gw.apply(routes({ headersWithUnderscoresAction: 'REJECT_REQUEST', maxHeadersCount: 10 }));
    const s = await h2connect(`http://127.0.0.1:${gw.port}`);
    try {
      const underscore = await h2request(s, { ':path': '/u', ':authority': 'a', x_under: '1' });
      assert.equal(underscore.status, 400);
      const many: Record<string, string> = { ':path': '/many', ':authority': 'a' };
      for (let i = 0; i < 11; i++) many[`x-h${i}`] = String(i);
      const tooMany = await h2request(s, many);
      assert.equal(tooMany.status, 431);
      const fine = await h2request(s, { ':path': '/fine', ':authority': 'a' });
      assert.equal(fine.status, 200);
    } finally {
      s.destroy();
      await gw.apply(routes());
    }
  });

  test('headers beyond maxRequestHeadersKb: the stream is refused, the upstream sees nothing', async () => {
    await gw.apply(routes({ maxRequestHeadersBytes: 4096 }));
    // New connections get the new SETTINGS.
    const s = await h2connect(`http://127.0.0.1:${gw.port}`);
    const before = rec.arrivals.length;
    try {
      // The first request on a connection, before the client can have acknowledged SETTINGS.
      const r = await h2request(s, { ':path': '/big', ':authority': 'a', 'x-big': 'x'.repeat(8000) });
      assert.equal(r.status, 431);
      assert.equal(rec.arrivals.length, before);
      const fits = await h2request(s, { ':path': '/fits', ':authority': 'a', 'x-big': 'x'.repeat(3000) });
      assert.equal(fits.status, 200);
    } finally {
      s.destroy();
      await gw.apply(routes());
    }
  });

  test('streamIdleTimeout: a stream whose body stalls gets 408 and the upstream request is aborted', async () => {
    await gw.apply(routes({ streamIdleTimeoutMs: 300 }));
    const s = await h2connect(`http://127.0.0.1:${gw.port}`);
    try {
      const stream = s.request({ ':method': 'POST', ':path': '/stall', ':authority': 'a' }, { endStream: false });
      stream.write('part of a body');
      const status = await new Promise<number>((resolve) => stream.on('response', (h) => resolve(Number(h[':status']))));
      assert.equal(status, 408);
      await eventually(() => rec.active === 0, { message: 'the upstream request is aborted' });
    } finally {
      s.destroy();
      await gw.apply(routes());
    }
  });

  test('a connection that opens no stream is closed after requestHeadersTimeout', async () => {
    await gw.apply(routes({ requestHeadersTimeoutMs: 300 }));
    const s = await h2connect(`http://127.0.0.1:${gw.port}`);
    try {
      await eventually(() => s.closed || s.destroyed, { message: 'the silent HTTP/2 connection is closed' });
    } finally {
      s.destroy();
      await gw.apply(routes());
    }
  });
});

describe('HTTP/2 and drain', () => {
  test('close() sends GOAWAY: the stream in flight finishes, new streams are refused', { timeout: 20_000 }, async (t) => {
    const rec = await startRecorder();
    t.after(() => rec.close());
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    rec.setHandler(async (_c, res) => {
      await held;
      res.writeHead(200, { 'content-length': 4 });
      res.end('done');
    });
    const gw = await startProxy({ drainMs: 10_000, snapshot: snapshot(listener([vhost([route(forward('rec'))])]), [upstream('rec', [rec.port])]) });
    t.after(() => gw.close());
    const s = await h2connect(`http://127.0.0.1:${gw.port}`);
    t.after(() => s.destroy());
    let goaway = false;
    s.on('goaway', () => (goaway = true));
    const inflight = h2request(s, { ':path': '/slow', ':authority': 'a' });
    await eventually(() => rec.arrivals.length === 1);
    const closing = gw.close();
    await eventually(() => goaway, { message: 'the client is told GOAWAY' });
    release();
    const r = await inflight;
    assert.equal(r.status, 200);
    assert.equal(r.body, 'done');
    await closing;
  });
});

/** MemorySecrets is a SecretSource a test fills in. */
class MemorySecrets implements SecretSource {
  readonly map = new Map<string, TlsSecret>();
  tlsSecret(namespace: string, name: string): TlsSecret | undefined {
    return this.map.get(`${namespace}/${name}`);
  }
}

describe('HTTP/2 over TLS (ALPN h2)', () => {
  const HTTPS_PORT = 8443;
  let proxy: Proxy;
  let port: number;
  let rec: Recorder;
  let files: TempFiles;
  let caPem: string;

  const tlsSnapshot = (alpn: readonly string[]) => {
    const l = listener([vhost([route(forward('rec'))])], { name: 'gloo-system.gateway-proxy-ssl', bindPort: HTTPS_PORT, ssl: true });
    const tls: ir.ListenerTls = {
      certificates: [{ name: 'default.site', sniDomains: ['*'], secretRef: { namespace: 'default', name: 'site', version: '1' } }],
      alpn,
      verifySubjectAltName: [],
      sessionResumption: true,
    };
    return snapshot({ ...l, tls }, [upstream('rec', [rec.port])]);
  };

  before(async () => {
    rec = await startRecorder();
    const ca = await createCa('h2 test ca');
    caPem = ca.certPem;
    const leaf = await ca.issue({ cn: 'site.example', dns: ['site.example'] });
    const secrets = new MemorySecrets();
    secrets.map.set('default/site', { certPem: leaf.certPem, keyPem: leaf.keyPem });
    files = await writeFiles({ 'ca.pem': ca.certPem });
    port = await freePort();
    proxy = new Proxy({ portMap: { [HTTPS_PORT]: port }, bindAddress: '127.0.0.1', drainMs: 500, log: silentLogger, secrets });
    await proxy.applySnapshot(tlsSnapshot(['h2', 'http/1.1']));
  });
  after(async () => {
    await proxy.close(0);
    await rec.close();
    await files.remove();
  });

  test('node:http2 over TLS: ALPN h2, x-forwarded-proto https', async () => {
    const before = rec.completed.length;
    const s = await h2connect(`https://site.example:${port}`, { ca: caPem, host: '127.0.0.1', servername: 'site.example' } as never);
    try {
      assert.equal((s.socket as unknown as { alpnProtocol: string }).alpnProtocol, 'h2');
      const r = await h2request(s, { ':path': '/tls', ':authority': 'site.example' });
      assert.equal(r.status, 200);
      assert.equal(rec.completed[before]!.headers['x-forwarded-proto'], 'https');
      assert.equal(rec.completed[before]!.headers.host, 'site.example');
    } finally {
      s.destroy();
    }
  });

  test('curl --http2 negotiates h2; curl --http1.1 gets HTTP/1.1', async () => {
    const common = ['--cacert', files.path('ca.pem'), '--resolve', `site.example:${port}:127.0.0.1`];
    const h2 = await curl([...common, '--http2', `https://site.example:${port}/curl`]);
    assert.equal(lastLine(h2.stdout), '200 2', h2.stderr);
    const h1 = await curl([...common, '--http1.1', `https://site.example:${port}/curl`]);
    assert.equal(lastLine(h1.stdout), '200 1.1', h1.stderr);
  });

  test('alpnProtocols [http/1.1]: a client asking for h2 settles on HTTP/1.1', async () => {
    await proxy.applySnapshot(tlsSnapshot(['http/1.1']));
    try {
      const r = await curl(['--cacert', files.path('ca.pem'), '--resolve', `site.example:${port}:127.0.0.1`, '--http2', `https://site.example:${port}/`]);
      assert.equal(lastLine(r.stdout), '200 1.1', r.stderr);
    } finally {
      await proxy.applySnapshot(tlsSnapshot(['h2', 'http/1.1']));
    }
  });
});

describe('telling HTTP/2 from HTTP/1 on a connection', () => {
  test('a client that resets its connection before the proxy can tell its protocol does not take the proxy down', async (t) => {
    const gw = await startProxy({ snapshot: snapshot(listener([vhost([route(direct(200, 'up'))])])) });
    t.after(() => gw.close());
    const { connect } = await import('node:net');
    for (const bytes of ['', 'P', 'PRI * HTTP/2.0\r\n']) {
      await new Promise<void>((resolve) => {
        const c = connect(gw.port, '127.0.0.1', () => {
          if (bytes) c.write(bytes);
          // An RST instead of a FIN: the proxy's side sees ECONNRESET.
          setImmediate(() => c.resetAndDestroy());
        });
        c.on('error', () => undefined);
        c.on('close', () => resolve());
      });
    }
    const r = await send(gw.port, '/');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'up');
  });
});
