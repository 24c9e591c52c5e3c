// Trust at the edge, as Envoy's HTTP connection manager: x-forwarded-for and the trusted client
// address (x-envoy-external-address) by useRemoteAddress / xffNumTrustedHops / skipXffAppend,
// x-forwarded-proto kept only from trusted hops, client-sent x-envoy-* and
// x-forwarded-client-cert stripped, x-request-id generated unless generateRequestId is false.
// The test client connects from 127.0.0.1.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startProxy, type TestProxy } from '../../helpers/proxy.js';
import { startUpstream, type UpstreamServer, type RecordedRequest } from '../../helpers/upstream-server.js';
import { send } from '../../helpers/http.js';
import { snapshot, listener, vhost, route, forward, upstream, retries } from '../../helpers/snapshot.js';
import type * as ir from '../../../src/ir/index.js';

const CLIENT_XFF = '192.0.2.1, 198.51.100.2';

describe('trust', () => {
  let gw: TestProxy;
  let up: UpstreamServer;

  before(async () => {
    up = await startUpstream('backend');
    gw = await startProxy();
  });
  after(async () => {
    await gw.close();
    await up.close();
  });

  const apply = (http: Partial<ir.HttpSettings>, action: ir.ForwardAction = forward('backend_default')) =>
    gw.apply(snapshot(listener([vhost([route(action)])], { http }), [upstream('backend_default', [up.port])]));
  const last = (): RecordedRequest => up.requests.at(-1)!;
  /** count is how many times a header came in the upstream request. */
  const count = (r: RecordedRequest, name: string) => r.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === name).length;

  interface XffCase {
    readonly settings: Partial<ir.HttpSettings>;
    readonly sent?: string;
    readonly xff: string | undefined;
    readonly external: string | undefined;
  }
  const xffCases: [string, XffCase][] = [
    ['useRemoteAddress, 0 trusted hops: the peer is the client, appended', { settings: { useRemoteAddress: true, xffNumTrustedHops: 0 }, sent: CLIENT_XFF, xff: `${CLIENT_XFF},127.0.0.1`, external: '127.0.0.1' }],
    ['useRemoteAddress, no x-forwarded-for sent', { settings: { useRemoteAddress: true, xffNumTrustedHops: 0 }, xff: '127.0.0.1', external: '127.0.0.1' }],
    ['useRemoteAddress, 1 trusted hop: the last entry sent is the client', { settings: { useRemoteAddress: true, xffNumTrustedHops: 1 }, sent: CLIENT_XFF, xff: `${CLIENT_XFF},127.0.0.1`, external: '198.51.100.2' }],
    ['useRemoteAddress, 2 trusted hops: the one before', { settings: { useRemoteAddress: true, xffNumTrustedHops: 2 }, sent: CLIENT_XFF, xff: `${CLIENT_XFF},127.0.0.1`, external: '192.0.2.1' }],
    ['useRemoteAddress, more trusted hops than entries: the peer', { settings: { useRemoteAddress: true, xffNumTrustedHops: 3 }, sent: CLIENT_XFF, xff: `${CLIENT_XFF},127.0.0.1`, external: '127.0.0.1' }],
    ['useRemoteAddress, 1 trusted hop, entry not an address: the peer', { settings: { useRemoteAddress: true, xffNumTrustedHops: 1 }, sent: '192.0.2.1, unknown', xff: '192.0.2.1, unknown,127.0.0.1', external: '127.0.0.1' }],
    ['useRemoteAddress with skipXffAppend: x-forwarded-for unchanged', { settings: { useRemoteAddress: true, skipXffAppend: true }, sent: CLIENT_XFF, xff: CLIENT_XFF, external: '127.0.0.1' }],
    ['useRemoteAddress with skipXffAppend, none sent: none forwarded', { settings: { useRemoteAddress: true, skipXffAppend: true }, xff: undefined, external: '127.0.0.1' }],
    ['no useRemoteAddress, 0 hops: x-forwarded-for passes unchanged, no external address', { settings: { useRemoteAddress: false, xffNumTrustedHops: 0 }, sent: CLIENT_XFF, xff: CLIENT_XFF, external: undefined }],
    ['no useRemoteAddress, 1 hop: unchanged', { settings: { useRemoteAddress: false, xffNumTrustedHops: 1 }, sent: CLIENT_XFF, xff: CLIENT_XFF, external: undefined }],
    ['no useRemoteAddress, none sent: none forwarded', { settings: { useRemoteAddress: false }, xff: undefined, external: undefined }],
  ];

  for (const [name, c] of xffCases) {
    test(`x-forwarded-for: ${name}`, async () => {
      await apply(c.settings);
      const headers: Record<string, string> = c.sent ? { 'x-forwarded-for': c.sent } : {};
      // A spoofed external address never survives: Envoy overwrites it, meshgate strips x-envoy-*.
      headers['x-envoy-external-address'] = '203.0.113.66';
      assert.equal((await send(gw.port, '/xff', { headers })).status, 200);
      const r = last();
      assert.equal(r.headers['x-forwarded-for'], c.xff);
      assert.ok(count(r, 'x-forwarded-for') <= 1);
      assert.equal(r.headers['x-envoy-external-address'], c.external);
      assert.ok(count(r, 'x-envoy-external-address') <= 1);
    });
  }

  test('x-forwarded-proto: replaced unless useRemoteAddress is off or a trusted hop set it', async () => {
    const cases: [Partial<ir.HttpSettings>, string | undefined, string][] = [
      [{ useRemoteAddress: true, xffNumTrustedHops: 0 }, 'https', 'http'],
      [{ useRemoteAddress: true, xffNumTrustedHops: 1 }, 'https', 'https'],
      [{ useRemoteAddress: true, xffNumTrustedHops: 1 }, undefined, 'http'],
      [{ useRemoteAddress: false }, 'https', 'https'],
      [{ useRemoteAddress: false }, undefined, 'http'],
    ];
    for (const [settings, sent, want] of cases) {
      await apply(settings);
      await send(gw.port, '/xfp', { headers: sent ? { 'x-forwarded-proto': sent } : {} });
      assert.equal(last().headers['x-forwarded-proto'], want, `${JSON.stringify(settings)} sent ${sent}`);
      assert.equal(count(last(), 'x-forwarded-proto'), 1);
    }
  });

  test('client-sent x-envoy-* headers are stripped; the proxy’s own are set', async () => {
    await apply({}, forward('backend_default', { timeoutMs: 3000 }));
    const spoofed = {
      'x-envoy-upstream-rq-timeout-ms': '1',
      'x-envoy-upstream-rq-per-try-timeout-ms': '1',
      'x-envoy-max-retries': '10',
      'x-envoy-retry-on': '5xx',
      'x-envoy-retry-grpc-on': 'cancelled',
      'x-envoy-retriable-status-codes': '418',
      'x-envoy-retriable-header-names': 'x-a',
      'x-envoy-expected-rq-timeout-ms': '1',
      'x-envoy-hedge-on-per-try-timeout': 'true',
      'x-envoy-force-trace': 'true',
      'x-envoy-internal': 'true',
      'x-envoy-original-path': '/admin',
      'x-envoy-downstream-service-cluster': 'trusted',
      'x-envoy-downstream-service-node': 'trusted',
      'x-envoy-decorator-operation': 'op',
      'x-envoy-ip-tags': 'internal',
      'x-envoy-upstream-alt-stat-name': 'x',
      'X-Envoy-Anything-Else': 'spoof',
      'x-envoyish': 'not the prefix',
    };
    assert.equal((await send(gw.port, '/envoy', { headers: spoofed })).status, 200);
    const r = last();
    const envoy = r.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase().startsWith('x-envoy-')).map((h) => h.toLowerCase()).sort();
    assert.deepEqual(envoy, ['x-envoy-expected-rq-timeout-ms', 'x-envoy-external-address']);
    assert.equal(r.headers['x-envoy-expected-rq-timeout-ms'], '3000');
    assert.equal(r.headers['x-envoy-external-address'], '127.0.0.1');
    assert.equal(r.headers['x-envoyish'], 'not the prefix');
  });

  test('a client’s x-envoy-max-retries / x-envoy-retry-on do not make the proxy retry', async () => {
    await apply({}, forward('backend_default', { retries: retries(['connect-failure'], 0) }));
    let n = 0;
    up.setHandler((_rec, res) => {
      n++;
      res.writeHead(503, { 'content-length': 0 });
      res.end();
    });
    try {
      const res = await send(gw.port, '/retry', { headers: { 'x-envoy-max-retries': '5', 'x-envoy-retry-on': '5xx' } });
      assert.equal(res.status, 503);
      assert.equal(n, 1);
    } finally {
      up.setHandler((_rec, res) => void res.end('backend'));
    }
  });

  test('x-forwarded-client-cert from a client is dropped (SANITIZE)', async () => {
    await apply({});
    await send(gw.port, '/xfcc', { headers: { 'x-forwarded-client-cert': 'By=spiffe://evil;URI=spiffe://cluster.local/ns/default/sa/admin' } });
    assert.equal(last().headers['x-forwarded-client-cert'], undefined);
  });

  test('generateRequestId: generated when true, not when false; a client’s id passes', async () => {
    await apply({ generateRequestId: true });
    await send(gw.port, '/rid');
    assert.match(String(last().headers['x-request-id']), /^[0-9a-f-]{36}$/);
    await apply({ generateRequestId: false });
    await send(gw.port, '/rid');
    assert.equal(last().headers['x-request-id'], undefined);
    await send(gw.port, '/rid', { headers: { 'x-request-id': 'client-id' } });
    assert.equal(last().headers['x-request-id'], 'client-id');
  });
});
