// Black-box tests for the bundled httpbin: a real server on an ephemeral port, driven with
// fetch, or node:http where fetch would hide the detail (repeated headers, raw sockets).

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent, request, type OutgoingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startHttpbin, type Httpbin } from './httpbin.js';

const JSON_TYPE = 'application/json; charset=utf-8';
const MiB = 1024 * 1024;

interface RawResponse {
  status: number;
  rawHeaders: string[];
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

// node:http client: sends array header values as separate lines and exposes rawHeaders,
// neither of which fetch does.
function raw(
  port: number,
  path: string,
  opts: { method?: string; headers?: OutgoingHttpHeaders; body?: string | Buffer[]; agent?: Agent } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (Array.isArray(opts.body)) for (const chunk of opts.body) req.write(chunk);
    else if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

function rawValues(res: RawResponse, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    if (res.rawHeaders[i]?.toLowerCase() === name.toLowerCase()) out.push(res.rawHeaders[i + 1] ?? '');
  }
  return out;
}

// Timers that keep the process alive; the /delay timer is one of them while it waits.
function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

// Yield to the event loop until cond holds; the enclosing test's timeout bounds the wait.
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((resolve) => setImmediate(resolve));
}

interface Echo {
  args: Record<string, string[]>;
  headers: Record<string, string[]>;
  method: string;
  origin: string;
  url: string;
}
interface BodyEcho extends Echo {
  data: string;
  files: Record<string, string[]>;
  form: Record<string, string[]>;
  json: unknown;
}

describe('httpbin', () => {
  let hb: Httpbin;
  let base: string;

  before(async () => {
    hb = await startHttpbin({ port: 0 });
    base = `http://127.0.0.1:${hb.port}`;
  });
  after(() => hb.close());

  async function getJSON<T>(path: string, init?: RequestInit): Promise<{ res: Response; body: T }> {
    const res = await fetch(base + path, init);
    assert.equal(res.headers.get('content-type'), JSON_TYPE);
    return { res, body: (await res.json()) as T };
  }

  test('reports the port it listens on and its host', () => {
    assert.ok(hb.port > 0);
    assert.equal(hb.host, '127.0.0.1');
  });

  describe('/headers', () => {
    test('list-valued headers with Go-canonical names and Host', async () => {
      const { res, body } = await getJSON<{ headers: Record<string, string[]> }>('/headers', {
        headers: { 'x-envoy-expected-rq-timeout-ms': '15000', 'x-forwarded-client-cert': 'By=spiffe://a;Hash=b' },
      });
      assert.equal(res.status, 200);
      assert.deepEqual(body.headers['X-Envoy-Expected-Rq-Timeout-Ms'], ['15000']);
      assert.deepEqual(body.headers['X-Forwarded-Client-Cert'], ['By=spiffe://a;Hash=b']);
      assert.deepEqual(body.headers.Host, [`127.0.0.1:${hb.port}`]);
      assert.equal(body.headers['x-envoy-expected-rq-timeout-ms'], undefined);
      for (const [name, values] of Object.entries(body.headers)) {
        assert.ok(Array.isArray(values), `${name} should be a list`);
        assert.match(name, /^[A-Z0-9][a-z0-9]*(-[A-Z0-9][a-z0-9]*)*$/, `${name} should be canonical`);
      }
    });

    test('repeated request headers become several list items, in order', async () => {
      const res = await raw(hb.port, '/headers', { headers: { 'x-repeat': ['first', 'second'], 'WWW-authenticate': 'x' } });
      assert.equal(res.status, 200);
      const { headers } = JSON.parse(res.body) as { headers: Record<string, string[]> };
      assert.deepEqual(headers['X-Repeat'], ['first', 'second']);
      assert.deepEqual(headers['Www-Authenticate'], ['x']);
    });
  });

  describe('/get', () => {
    test('echoes args as lists, method, origin and url', async () => {
      const { res, body } = await getJSON<Echo>('/get?a=1&a=2&b=x%20y');
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys(body), ['args', 'headers', 'method', 'origin', 'url']);
      assert.deepEqual(body.args, { a: ['1', '2'], b: ['x y'] });
      assert.equal(body.method, 'GET');
      assert.equal(body.origin, '127.0.0.1');
      assert.equal(body.url, `http://127.0.0.1:${hb.port}/get?a=1&a=2&b=x%20y`);
      assert.deepEqual(body.headers.Host, [`127.0.0.1:${hb.port}`]);
    });

    test('origin and scheme come from X-Forwarded-For / X-Forwarded-Proto', async () => {
      const { body } = await getJSON<Echo>('/get', {
        headers: { 'x-forwarded-for': '203.0.113.7, 10.0.0.1', 'x-forwarded-proto': 'https' },
      });
      assert.equal(body.origin, '203.0.113.7');
      assert.equal(body.url, `https://127.0.0.1:${hb.port}/get`);
    });

    test('malformed query escapes are kept literally instead of failing', async () => {
      const { res, body } = await getJSON<Echo>('/get?%zz=%G1&ok=1&bad-utf8=%E0%A4');
      assert.equal(res.status, 200);
      assert.deepEqual(body.args.ok, ['1']);
      assert.deepEqual(body.args['%zz'], ['%G1']);
      assert.deepEqual(body.args['bad-utf8'], ['\uFFFD']);
    });

    test('a __proto__ query key is an ordinary arg', async () => {
      const { body } = await getJSON<Echo>('/get?__proto__=x');
      assert.deepEqual(Object.getOwnPropertyDescriptor(body.args, '__proto__')?.value, ['x']);
    });

    test('other methods get 405 with Allow', async () => {
      const res = await fetch(`${base}/get`, { method: 'POST', body: 'x' });
      assert.equal(res.status, 405);
      assert.equal(res.headers.get('allow'), 'GET, HEAD');
      assert.equal(((await res.json()) as { status_code: number }).status_code, 405);
    });
  });

  describe('/anything', () => {
    test('any method, any sub-path, JSON body parsed', async () => {
      const { res, body } = await getJSON<BodyEcho>('/anything/deep/path?q=1', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ hello: ['world'] }),
      });
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys(body), ['args', 'headers', 'method', 'origin', 'url', 'data', 'files', 'form', 'json']);
      assert.equal(body.method, 'PUT');
      assert.equal(body.url, `http://127.0.0.1:${hb.port}/anything/deep/path?q=1`);
      assert.deepEqual(body.args, { q: ['1'] });
      assert.equal(body.data, '{"hello":["world"]}');
      assert.deepEqual(body.json, { hello: ['world'] });
      assert.deepEqual(body.files, {});
      assert.deepEqual(body.form, {});
    });

    test('GET /anything with no body', async () => {
      const { body } = await getJSON<BodyEcho>('/anything');
      assert.equal(body.method, 'GET');
      assert.equal(body.data, '');
      assert.equal(body.json, null);
    });

    test('an invalid JSON body gives json: null and the raw data', async () => {
      const { res, body } = await getJSON<BodyEcho>('/anything', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"not": json',
      });
      assert.equal(res.status, 200);
      assert.equal(body.json, null);
      assert.equal(body.data, '{"not": json');
    });

    test('a path that only starts with "anything" is not found', async () => {
      const res = await fetch(`${base}/anythingelse`);
      assert.equal(res.status, 404);
    });
  });

  describe('/post, /put, /patch, /delete', () => {
    test('POST /post parses urlencoded forms into lists', async () => {
      const { res, body } = await getJSON<BodyEcho>('/post', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'a=1&a=2&b=hello+world',
      });
      assert.equal(res.status, 200);
      assert.equal(body.method, 'POST');
      assert.deepEqual(body.form, { a: ['1', '2'], b: ['hello world'] });
      assert.equal(body.data, 'a=1&a=2&b=hello+world');
      assert.equal(body.json, null);
    });

    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      test(`${method} /${method.toLowerCase()} echoes the body`, async () => {
        const { res, body } = await getJSON<BodyEcho>(`/${method.toLowerCase()}`, {
          method,
          headers: { 'content-type': 'text/plain' },
          body: `${method} body`,
        });
        assert.equal(res.status, 200);
        assert.equal(body.method, method);
        assert.equal(body.data, `${method} body`);
      });
    }

    test('the wrong method gets 405 with Allow', async () => {
      for (const [path, allowed] of [['/post', 'POST'], ['/put', 'PUT'], ['/patch', 'PATCH'], ['/delete', 'DELETE']] as const) {
        const res = await fetch(base + path);
        assert.equal(res.status, 405, path);
        assert.equal(res.headers.get('allow'), allowed, path);
        await res.body?.cancel();
      }
    });
  });

  describe('request body cap', () => {
    test('a body of exactly 1 MiB is accepted', async () => {
      const { res, body } = await getJSON<BodyEcho>('/post', { method: 'POST', body: 'a'.repeat(MiB) });
      assert.equal(res.status, 200);
      assert.equal(body.data.length, MiB);
    });

    test('a body over 1 MiB gets 413', async () => {
      const res = await fetch(`${base}/anything`, { method: 'POST', body: new Uint8Array(MiB + 1) });
      assert.equal(res.status, 413);
      assert.equal(((await res.json()) as { status_code: number }).status_code, 413);
    });

    test('a chunked upload that grows past 1 MiB gets 413', async () => {
      const chunk = Buffer.alloc(256 * 1024, 'x');
      const res = await raw(hb.port, '/post', { method: 'POST', body: [chunk, chunk, chunk, chunk, chunk] });
      assert.equal(res.status, 413);
      assert.equal(res.headers.connection, 'close');
    });
  });

  describe('/status', () => {
    test('replies with the requested code and go-httpbin extras', async () => {
      const teapot = await fetch(`${base}/status/418`);
      assert.equal(teapot.status, 418);
      assert.equal(await teapot.text(), "I'm a teapot!");

      const noContent = await fetch(`${base}/status/204`, { method: 'POST' });
      assert.equal(noContent.status, 204);

      const error = await fetch(`${base}/status/503`);
      assert.equal(error.status, 503);
      await error.body?.cancel();
    });

    test('3xx carries Location: /redirect/1', async () => {
      const res = await fetch(`${base}/status/302`, { redirect: 'manual' });
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), '/redirect/1');
    });

    test('a 1xx is sent as informational and followed by a final 200, as Go does', async () => {
      const res = await fetch(`${base}/status/103`);
      assert.equal(res.status, 200);
    });

    test('weighted choices pick only codes with weight', async () => {
      const res = await fetch(`${base}/status/418:1,500:0`);
      assert.equal(res.status, 418);
      await res.body?.cancel();
    });

    test('invalid codes get 400', async () => {
      for (const code of ['abc', '99', '600', '2000', '200:x', '200,', '-1', '200:0']) {
        const res = await fetch(`${base}/status/${code}`);
        assert.equal(res.status, 400, code);
        assert.equal(((await res.json()) as { status_code: number }).status_code, 400, code);
      }
    });

    test('a missing or extra segment is not found', async () => {
      for (const path of ['/status', '/status/', '/status/200/x']) {
        const res = await fetch(base + path);
        assert.equal(res.status, 404, path);
        await res.body?.cancel();
      }
    });
  });

  describe('/delay', () => {
    test('a small fractional delay replies like /get', async () => {
      const { res, body } = await getJSON<Echo>('/delay/0.05?x=1');
      assert.equal(res.status, 200);
      assert.equal(body.method, 'GET');
      assert.deepEqual(body.args, { x: ['1'] });
      assert.equal(body.url, `http://127.0.0.1:${hb.port}/delay/0.05?x=1`);
    });

    test('invalid delays get 400', async () => {
      for (const d of ['abc', '-1', '1e3', 'Infinity', 'NaN', '1s']) {
        const res = await fetch(`${base}/delay/${d}`);
        assert.equal(res.status, 400, d);
        await res.body?.cancel();
      }
    });

    test('a huge delay is accepted, and its timer is cleared when the client goes away', { timeout: 10_000 }, async () => {
      const baseline = activeTimers();
      const req = request({ host: '127.0.0.1', port: hb.port, path: '/delay/99999999999', agent: false });
      const failed = once(req, 'error');
      req.end();
      await until(() => activeTimers() > baseline); // the server is now waiting
      req.destroy();
      await failed;
      await until(() => activeTimers() === baseline);
      assert.equal(activeTimers(), baseline);
    });
  });

  describe('/ip and /uuid', () => {
    test('/ip reports the client address', async () => {
      const { body } = await getJSON<{ origin: string }>('/ip');
      assert.deepEqual(body, { origin: '127.0.0.1' });
      const forwarded = await getJSON<{ origin: string }>('/ip', { headers: { 'x-forwarded-for': '198.51.100.1' } });
      assert.equal(forwarded.body.origin, '198.51.100.1');
    });

    test('/uuid returns a fresh v4 uuid', async () => {
      const a = await getJSON<{ uuid: string }>('/uuid');
      const b = await getJSON<{ uuid: string }>('/uuid');
      assert.match(a.body.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.notEqual(a.body.uuid, b.body.uuid);
    });
  });

  describe('/response-headers', () => {
    test('sets each query pair as a response header and echoes them as lists', async () => {
      const res = await raw(hb.port, '/response-headers?X-Test=a&X-Test=b&Foo=bar');
      assert.equal(res.status, 200);
      assert.deepEqual(rawValues(res, 'X-Test'), ['a', 'b']);
      assert.deepEqual(rawValues(res, 'Foo'), ['bar']);
      assert.deepEqual(rawValues(res, 'Content-Type'), [JSON_TYPE]);
      assert.deepEqual(JSON.parse(res.body), { 'Content-Type': [JSON_TYPE], Foo: ['bar'], 'X-Test': ['a', 'b'] });
    });

    test('POST works too, and a caller-chosen HTML content type gets an escaped body', async () => {
      const res = await fetch(`${base}/response-headers?Content-Type=text/html&X-Evil=%3Cscript%3E`, { method: 'POST' });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/html');
      assert.equal(res.headers.get('x-evil'), '<script>');
      const text = await res.text();
      assert.ok(!text.includes('<script>'), text);
      assert.ok(text.includes('&#60;script&#62;'), text);
    });

    test('header values that cannot be sent, or framing headers, get 400', async () => {
      for (const query of ['X-Bad=a%0Ab', 'Content-Length=5', 'Bad%20Name=x']) {
        const res = await fetch(`${base}/response-headers?${query}`);
        assert.equal(res.status, 400, query);
        await res.body?.cancel();
      }
    });
  });

  test('unknown paths get a small 404', async () => {
    for (const path of ['/', '/nope', '/get/extra', '//get']) {
      const { res, body } = await getJSON<{ status_code: number; error: string }>(path);
      assert.equal(res.status, 404, path);
      assert.deepEqual(body, { status_code: 404, error: 'Not Found' });
    }
  });

  test('the server survives all of the above and still answers', async () => {
    const res = await fetch(`${base}/get`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });
});

describe('httpbin lifecycle', () => {
  test('close() resolves while a keep-alive connection is open, and closes it', { timeout: 10_000 }, async () => {
    const hb = await startHttpbin({ port: 0 });
    const agent = new Agent({ keepAlive: true });
    try {
      const first = await raw(hb.port, '/get', { agent });
      assert.equal(first.status, 200);
      // The connection is idle in the agent's pool, still open.
      const idle = Object.values(agent.freeSockets).flat() as Socket[];
      assert.equal(idle.length, 1);
      const socket = idle[0]!;
      assert.equal(socket.destroyed, false);
      // The agent unrefs pooled sockets; ref it so the event loop stays up until it closes.
      socket.ref();
      const socketClosed = once(socket, 'close');

      await hb.close();
      await socketClosed;
      assert.equal(socket.destroyed, true);
      await assert.rejects(fetch(`http://127.0.0.1:${hb.port}/get`));
      await hb.close(); // idempotent
    } finally {
      agent.destroy();
    }
  });

  test('close() does not wait for a connection with a half-sent request', { timeout: 10_000 }, async () => {
    const hb = await startHttpbin({ port: 0 });
    const socket = connect(hb.port, '127.0.0.1');
    await once(socket, 'connect');
    // Headers never finish, so the connection is neither idle nor going to finish on its own
    // before the server's 60 s headersTimeout: only closeAllConnections() ends it.
    socket.write('GET /get HTTP/1.1\r\nHost: x\r\n');
    // The server resets the connection; only that it closes matters (events.once would reject).
    socket.on('error', () => {});
    const socketClosed = new Promise((resolve) => socket.once('close', resolve));
    await hb.close();
    await socketClosed;
    assert.equal(socket.destroyed, true);
  });

  test('close() clears a pending /delay timer', { timeout: 10_000 }, async () => {
    const hb = await startHttpbin({ port: 0 });
    const baseline = activeTimers();
    const req = request({ host: '127.0.0.1', port: hb.port, path: '/delay/5', agent: false });
    const failed = once(req, 'error');
    req.end();
    await until(() => activeTimers() > baseline);
    await hb.close();
    assert.equal(activeTimers(), baseline);
    const [err] = (await failed) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNRESET');
  });

  test('default host, and a port already in use rejects', async () => {
    const hb = await startHttpbin({ port: 0 });
    try {
      assert.equal(hb.host, '127.0.0.1');
      await assert.rejects(startHttpbin({ port: hb.port }), { code: 'EADDRINUSE' });
    } finally {
      await hb.close();
    }
  });
});
