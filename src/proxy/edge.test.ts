import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { DEFAULT_HTTP_SETTINGS, type HttpSettings, type Listener } from '../ir/snapshot.js';
import { checkRequest, edgeSettings, Refusals, trustedClientAddress, xffEntryFromRight } from './edge.js';

const settings = (http: Partial<HttpSettings> = {}, inbound = false) =>
  edgeSettings({
    name: 'l',
    bindAddress: '::',
    bindPort: 8080,
    ssl: false,
    virtualHosts: [],
    http: { ...DEFAULT_HTTP_SETTINGS, ...http },
    ...(inbound ? { inbound: { mode: 'PERMISSIVE', trustDomain: 'cluster.local' } } : {}),
  } satisfies Listener);

/** req fakes what checkRequest reads of a parsed request. */
function req(rawHeaders: string[], version = '1.1'): IncomingMessage {
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const k = rawHeaders[i]!.toLowerCase();
    headers[k] = headers[k] === undefined ? rawHeaders[i + 1]! : k === 'host' ? headers[k] : `${headers[k]}, ${rawHeaders[i + 1]}`;
  }
  const [major, minor] = version.split('.').map(Number);
  return { rawHeaders, headers, httpVersionMajor: major, httpVersionMinor: minor } as unknown as IncomingMessage;
}

test('xffEntryFromRight skips entries from the right, trimmed', () => {
  assert.equal(xffEntryFromRight('1.1.1.1, 2.2.2.2,3.3.3.3', 0), '3.3.3.3');
  assert.equal(xffEntryFromRight('1.1.1.1, 2.2.2.2,3.3.3.3', 1), '2.2.2.2');
  assert.equal(xffEntryFromRight('1.1.1.1, 2.2.2.2,3.3.3.3', 2), '1.1.1.1');
  assert.equal(xffEntryFromRight('1.1.1.1, 2.2.2.2,3.3.3.3', 3), undefined);
  assert.equal(xffEntryFromRight(',1.1.1.1', 1), '');
});

test('trustedClientAddress: the peer without trusted hops, else the nth entry if it is an address', () => {
  assert.equal(trustedClientAddress('1.1.1.1,2.2.2.2', 0, '10.0.0.1'), '10.0.0.1');
  assert.equal(trustedClientAddress('1.1.1.1,2.2.2.2', 1, '10.0.0.1'), '2.2.2.2');
  assert.equal(trustedClientAddress('1.1.1.1,2.2.2.2', 2, '10.0.0.1'), '1.1.1.1');
  assert.equal(trustedClientAddress('1.1.1.1,2.2.2.2', 3, '10.0.0.1'), '10.0.0.1');
  assert.equal(trustedClientAddress('1.1.1.1, not-an-ip', 1, '10.0.0.1'), '10.0.0.1');
  assert.equal(trustedClientAddress('2001:db8::1', 1, '10.0.0.1'), '2001:db8::1');
  assert.equal(trustedClientAddress(undefined, 1, '10.0.0.1'), '10.0.0.1');
});

test('edgeSettings: only a sidecar inbound listener is internal', () => {
  assert.equal(settings().external, true);
  assert.equal(settings({}, true).external, false);
  assert.equal(settings({ maxHeadersCount: 7 }).maxRawHeaders, 14);
});

test('checkRequest refuses what llhttp lets through', () => {
  const e = settings();
  assert.equal(checkRequest(req(['Host', 'x']), e), undefined);
  assert.equal(checkRequest(req(['Host', 'x', 'Transfer-Encoding', 'chunked']), e), undefined);
  assert.equal(checkRequest(req(['Host', 'x', 'Transfer-Encoding', 'Chunked']), e), undefined);
  assert.equal(checkRequest(req(['Host', 'x', 'Transfer-Encoding', 'gzip, chunked']), e), Refusals.transferEncoding);
  assert.equal(checkRequest(req(['Host', 'x', 'Transfer-Encoding', 'x', 'Transfer-Encoding', 'chunked']), e), Refusals.transferEncoding);
  assert.equal(checkRequest(req(['Host', 'x', 'Transfer-Encoding', 'chunked'], '1.0'), e), Refusals.transferEncoding);
  assert.equal(checkRequest(req(['Host', 'a', 'host', 'b']), e), Refusals.duplicateHost);
  assert.equal(checkRequest(req(['Host', 'a b']), e), Refusals.invalidHost);
  assert.equal(checkRequest(req(['Host', '[::1]:8080']), e), undefined);
  assert.equal(checkRequest(req(['Host', 'x'], '2.0'), e), Refusals.badVersion);
  assert.equal(checkRequest(req([], '0.9'), e), Refusals.badVersion);
  assert.equal(checkRequest(req(['Host', 'x'], '1.0'), settings({ acceptHttp10: false })), Refusals.http10);
  assert.equal(checkRequest(req(['Host', 'x', 'A', '1', 'B', '2']), settings({ maxHeadersCount: 2 })), Refusals.tooManyHeaders);
});

test('checkRequest applies headersWithUnderscoresAction', () => {
  assert.equal(checkRequest(req(['Host', 'x', 'X_A', '1']), settings()), undefined);
  assert.equal(checkRequest(req(['Host', 'x', 'X_A', '1']), settings({ headersWithUnderscoresAction: 'REJECT_REQUEST' })), Refusals.underscore);
  const r = req(['Host', 'x', 'X_A', '1', 'X-B', '2', 'y_z', '3']);
  let dropped = 0;
  assert.equal(checkRequest(r, settings({ headersWithUnderscoresAction: 'DROP_HEADER' }), (n) => (dropped = n)), undefined);
  assert.deepEqual(r.rawHeaders, ['Host', 'x', 'X-B', '2']);
  assert.deepEqual(Object.keys(r.headers).sort(), ['host', 'x-b']);
  assert.equal(dropped, 2);
});
