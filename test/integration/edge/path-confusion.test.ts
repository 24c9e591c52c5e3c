// Path confusion: a route that denies /admin (direct response 403, listed first) in front of a
// catch-all that forwards to a recording upstream. Every trick in the table is sent as raw bytes
// to listeners with different path settings; each must be denied (403), refused (400), redirected
// (307, whose target is then denied), or forwarded with a path the upstream would not read as
// /admin. The table pins the exact outcome per setting, so it is also the documentation of what
// each setting does (docs/security.md, "Paths").
//
// "Would not read as /admin" is checked against models of the upstream's reading of the path it
// received (see VIEWS): an RFC 3986 server (percent-decodes, `%2F` stays data, resolves dot
// segments), one that also merges slashes, and a sloppy one (decodes everything including %2F and
// %5C, treats `\` as `/`, merges slashes, then resolves dots). The defaults are checked against
// the first; the hardened settings (mergeSlashes + UNESCAPE_AND_REDIRECT or REJECT_REQUEST)
// against all three. With normalizePath off the tricks that get through are listed, not refused.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type * as ir from '../../../src/ir/index.js';
import { startProxy, type TestProxy } from '../../helpers/proxy.js';
import { startUpstream, type UpstreamServer } from '../../helpers/upstream-server.js';
import { rawExchange, statusOf } from '../../helpers/http.js';
import { snapshot, listener, vhost, route, forward, direct, match, upstream } from '../../helpers/snapshot.js';

// ---- Settings under test ----

interface Config {
  readonly name: string;
  readonly bindPort: number;
  readonly http: Partial<ir.HttpSettings>;
  /** views the upstream must not read as /admin; empty: leaks are expected and listed (`!`). */
  readonly views: readonly View[];
}

// ---- How an upstream might read the path it receives ----

type View = (url: string) => string;

/** decodeOnce percent-decodes each valid escape once (UTF-8, bad bytes as U+FFFD); keepSlashes leaves %2F and %5C encoded. */
function decodeOnce(s: string, keepSlashes: boolean): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const hex = s.slice(i + 1, i + 3);
    if (s[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      const v = parseInt(hex, 16);
      if (!(keepSlashes && (v === 0x2f || v === 0x5c))) {
        bytes.push(v);
        i += 2;
        continue;
      }
    }
    bytes.push(...Buffer.from(s[i]!, 'utf8'));
  }
  return new TextDecoder().decode(Uint8Array.from(bytes));
}

/** resolveDots removes `.` and `..` segments (RFC 3986 §5.2.4, never above the root). */
function resolveDots(p: string): string {
  const out: string[] = [];
  const segs = p.split('/');
  for (let i = 1; i < segs.length; i++) {
    const s = segs[i]!;
    if (s === '..') out.pop();
    if (s === '.' || s === '..') {
      if (i === segs.length - 1) out.push('');
    } else out.push(s);
  }
  return `/${out.join('/')}`;
}

const pathOf = (url: string) => url.split('?')[0]!;
const mergeSlashes = (p: string) => p.replace(/\/{2,}/g, '/');

/** rfc: an RFC 3986 server. `%2F` is data, `\` is not a separator. */
const rfc: View = (url) => resolveDots(decodeOnce(pathOf(url), true));
/** rfcMerged: the same, merging slashes first (nginx's merge_slashes). */
const rfcMerged: View = (url) => resolveDots(mergeSlashes(decodeOnce(pathOf(url), true)));
/** sloppy: decodes everything once (%2F and %5C too), `\` is `/`, merges slashes, resolves dots. */
const sloppy: View = (url) => resolveDots(mergeSlashes(decodeOnce(pathOf(url), false).replace(/\\/g, '/')));

const denied = (v: string) => v.startsWith('/admin');

const CONFIGS: readonly Config[] = [
  { name: 'defaults (normalizePath, KEEP_UNCHANGED)', bindPort: 8080, http: {}, views: [rfc] },
  { name: 'mergeSlashes', bindPort: 8081, http: { mergeSlashes: true }, views: [rfc, rfcMerged] },
  {
    name: 'hardened: mergeSlashes + UNESCAPE_AND_REDIRECT',
    bindPort: 8082,
    http: { mergeSlashes: true, pathWithEscapedSlashesAction: 'UNESCAPE_AND_REDIRECT' },
    views: [rfc, rfcMerged, sloppy],
  },
  {
    name: 'hardened: mergeSlashes + REJECT_REQUEST',
    bindPort: 8083,
    http: { mergeSlashes: true, pathWithEscapedSlashesAction: 'REJECT_REQUEST' },
    views: [rfc, rfcMerged, sloppy],
  },
  { name: 'UNESCAPE_AND_FORWARD', bindPort: 8084, http: { pathWithEscapedSlashesAction: 'UNESCAPE_AND_FORWARD' }, views: [rfc] },
  { name: 'normalizePath off', bindPort: 8085, http: { normalizePath: false }, views: [] },
];
const CASE_INSENSITIVE_PORT = 8086;

// ---- The tricks ----

/**
 * Outcome: `403` denied, `400` refused and closed, `404`, `307 <location>`, or the URL the
 * upstream received; `!<url>`: received, and an RFC 3986 upstream reads it as /admin (only with
 * normalizePath off, where that is the documented cost).
 */
type Outcome = string;

interface Trick {
  readonly target: string;
  readonly method: string;
  readonly host: string;
  /** one outcome per CONFIGS entry, in order. */
  readonly want: readonly Outcome[];
  readonly why?: string;
}

const HOST = 'good.example';
const TRICKS: Trick[] = [];

/**
 * trick adds a row. want: one outcome for every setting; [a, b]: a with normalizePath, b without;
 * or one per setting [defaults, mergeSlashes, redirect, reject, unescape-forward, off].
 */
function trick(target: string, want: Outcome | readonly Outcome[], opts: { method?: string; host?: string; why?: string } = {}): void {
  const all =
    typeof want === 'string' ? Array<Outcome>(6).fill(want) : want.length === 2 ? [...Array<Outcome>(5).fill(want[0]!), want[1]!] : [...want];
  assert.equal(all.length, CONFIGS.length, target);
  TRICKS.push({ target, method: opts.method ?? 'GET', host: opts.host ?? HOST, want: all, ...(opts.why ? { why: opts.why } : {}) });
}

// The route itself, and what a prefix match covers.
trick('/admin', '403');
trick('/admin/', '403');
trick('/admin/users/1', '403');
trick('/admin?x=1', '403');
trick('/admin;param', '403', { why: 'path parameters are part of the segment' });
trick('/admin..', '403');
trick('/admin%20', '403');
// Case: RFC 3986 paths and Envoy's matching are case-sensitive; the upstream sees what it got.
trick('/ADMIN', '/ADMIN', { why: 'case-sensitive route: forwarded as is (see the caseSensitive: false suite)' });
trick('/Admin', '/Admin');
trick('/%41dmin', ['/Admin', '/%41dmin'], { why: 'A is unreserved: decoded to /Admin, which is not /admin' });
// Slashes.
trick('//admin', ['//admin', '403', '403', '403', '//admin', '//admin'], { why: 'only mergeSlashes makes this /admin' });
trick('///admin', ['///admin', '403', '403', '403', '///admin', '///admin']);
trick('/foo//../admin', ['/foo/admin', '/foo//../admin'], { why: 'dot segments first, then merging (Envoy\'s order)' });
// Dot segments.
trick('/./admin', ['403', '!/./admin']);
trick('/foo/../admin', ['403', '!/foo/../admin']);
trick('/../admin', ['403', '!/../admin']);
trick('/foo/bar/../../admin', ['403', '!/foo/bar/../../admin']);
trick('/..;/admin', '/..;/admin', { why: '`..;` is a segment, not `..` (a servlet container may disagree)' });
// Percent-encoded unreserved characters, and double encoding.
trick('/%61dmin', ['403', '!/%61dmin']);
trick('/adm%69n', ['403', '!/adm%69n']);
trick('/%61%64%6D%69%6E', ['403', '!/%61%64%6D%69%6E']);
trick('/%2561dmin', '/%2561dmin', { why: '%25 is not decoded: no double decoding' });
trick('/%252e%252e/admin', '/%252e%252e/admin');
// Percent-encoded dots.
trick('/%2e/admin', ['403', '!/%2e/admin']);
trick('/%2e%2e/admin', ['403', '!/%2e%2e/admin']);
trick('/%2E%2E/admin', ['403', '!/%2E%2E/admin']);
trick('/foo/%2e%2e/admin', ['403', '!/foo/%2e%2e/admin']);
trick('/.%2e/admin', ['403', '!/.%2e/admin']);
trick('/%2e./admin', ['403', '!/%2e./admin']);
// Percent-encoded slashes and backslashes, under each escaped-slash action.
trick('/foo%2f..%2fadmin', ['/foo%2F..%2Fadmin', '/foo%2F..%2Fadmin', '307 /admin', '400', '403', '/foo%2f..%2fadmin']);
trick('/foo%2F..%2Fadmin', ['/foo%2F..%2Fadmin', '/foo%2F..%2Fadmin', '307 /admin', '400', '403', '/foo%2F..%2Fadmin']);
trick('/%2fadmin', ['/%2Fadmin', '/%2Fadmin', '307 /admin', '400', '//admin', '/%2fadmin']);
trick('/admin%2f', ['403', '403', '307 /admin/', '400', '403', '403']);
trick('/x/..%2f..%2fadmin', ['/x/..%2F..%2Fadmin', '/x/..%2F..%2Fadmin', '307 /admin', '400', '403', '/x/..%2f..%2fadmin']);
trick('/%2e%2e%2fadmin', ['/..%2Fadmin', '/..%2Fadmin', '307 /admin', '400', '403', '/%2e%2e%2fadmin']);
trick('/%5cadmin', ['/%5Cadmin', '/%5Cadmin', '307 /admin', '400', '//admin', '/%5cadmin']);
trick('/foo%5c..%5cadmin', ['/foo%5C..%5Cadmin', '/foo%5C..%5Cadmin', '307 /admin', '400', '403', '/foo%5c..%5cadmin']);
// Backslashes: with normalizePath, `\` is `/` (Envoy's canonicalizer).
trick('/\\admin', ['//admin', '403', '403', '403', '//admin', '/\\admin']);
trick('/foo\\..\\admin', ['403', '/foo\\..\\admin']);
// Refused encodings.
trick('/admin%00', ['400', '403'], { why: 'Envoy refuses %00 when normalizing' });
trick('/%00/admin', ['400', '/%00/admin']);
trick('/%zz/admin', ['400', '/%zz/admin'], { why: 'an invalid escape' });
trick('/admin%4', ['400', '403'], { why: 'a truncated escape' });
trick('/%%361dmin', ['400', '/%%361dmin'], { why: 'a nested escape: %%36 1 decodes to %61 one step later' });
// Fragments and queries.
trick('/admin#frag', '400', { why: 'a fragment is never part of a request target (Envoy refuses it)' });
trick('/#/admin', '400');
trick('/?/admin', '/?/admin', { why: 'the query is not the path' });
trick('/x?a=%2e%2e/../admin&b=%61', '/x?a=%2e%2e/../admin&b=%61', { why: 'the query is never normalized' });
// Whitespace and control characters.
trick('/ admin', '400', { why: 'not a valid request line (Node\'s parser)' });
trick('/\tadmin', '400');
trick('/%09admin', '/%09admin');
trick('/%20admin', '/%20admin');
// Unicode.
trick('/аdmin', '400', { why: 'raw non-ASCII (Cyrillic а): Node\'s parser refuses it' });
trick('/%d0%b0dmin', ['/%D0%B0dmin', '/%d0%b0dmin'], { why: 'a homoglyph stays a different path' });
trick('/%EF%BD%81dmin', '/%EF%BD%81dmin', { why: 'fullwidth a: only an NFKC-normalizing upstream would fold it' });
trick('/%c0%ae%c0%ae/admin', ['/%C0%AE%C0%AE/admin', '/%c0%ae%c0%ae/admin'], { why: 'overlong UTF-8 dots are not dots' });
// Targets that are not a path.
trick('admin', '400', { why: 'Node\'s parser refuses it' });
trick('*', '400', { why: 'asterisk-form is only for OPTIONS' });
trick('*', '404', { method: 'OPTIONS', why: 'Envoy routes paths only: absolute_path_rejected' });
// Absolute-form.
trick('http://good.example/admin', '403');
trick('HTTP://GOOD.EXAMPLE/admin', '403');
trick('http://good.example:80/admin', '403', { why: 'the default port is the same authority' });
trick('http://good.example//admin', ['//admin', '403', '403', '403', '//admin', '//admin']);
trick('http://good.example/%61dmin', ['403', '!/%61dmin']);
trick('http://good.example/./admin', ['403', '!/./admin']);
trick('http://good.example/foo/%2e%2e/admin', ['403', '!/foo/%2e%2e/admin']);
trick('http://other.example/admin', '400', { why: 'authority disagrees with Host' });
trick('http://good.example:8080/admin', '400', { why: 'another port is another authority' });
trick('http://user@good.example/admin', '400', { why: 'userinfo' });
trick('ftp://good.example/admin', '400');
trick('http://good.example', '/', { why: 'no path is /' });
trick('http://good.example?x=/admin', '/?x=/admin');

// ---- Running them ----

interface Answer {
  readonly status: number;
  readonly location: string | undefined;
  readonly raw: string;
}

function request(target: string, opts: { method?: string; host?: string; close?: boolean } = {}): Buffer {
  const conn = opts.close === false ? '' : 'Connection: close\r\n';
  return Buffer.concat([Buffer.from(`${opts.method ?? 'GET'} `), Buffer.from(target, 'utf8'), Buffer.from(` HTTP/1.1\r\nHost: ${opts.host ?? HOST}\r\n${conn}\r\n`)]);
}

async function exchange(port: number, target: string, opts: { method?: string; host?: string } = {}): Promise<Answer> {
  const raw = await rawExchange(port, request(target, opts));
  const location = /\r\nlocation: ([^\r]*)/i.exec(raw)?.[1];
  return { status: statusOf(raw), location, raw };
}

describe('path confusion: /admin denied by a 403 route stays unreachable', () => {
  let gw: TestProxy;
  let up: UpstreamServer;

  before(async () => {
    up = await startUpstream('backend');
    const routes = (caseSensitive: boolean) => [
      route(direct(403, 'denied'), { name: 'deny-admin', match: match({ prefix: '/admin', caseSensitive }) }),
      route(forward('backend_default'), { name: 'catch-all' }),
    ];
    const listeners = CONFIGS.map((c) => listener([vhost(routes(true))], { name: `edge.${c.bindPort}`, bindPort: c.bindPort, http: c.http }));
    listeners.push(listener([vhost(routes(false))], { name: 'edge.ci', bindPort: CASE_INSENSITIVE_PORT }));
    gw = await startProxy({
      bindPorts: [...CONFIGS.map((c) => c.bindPort), CASE_INSENSITIVE_PORT],
      snapshot: snapshot(listeners, [upstream('backend_default', [up.port])]),
    });
  });
  after(async () => {
    await gw.close();
    await up.close();
  });

  test(`the suite has at least 40 tricks (${TRICKS.length})`, () => {
    assert.ok(TRICKS.length >= 40);
  });

  for (const [ci, config] of CONFIGS.entries()) {
    describe(config.name, () => {
      /** check sends one target and checks the outcome and what, if anything, reached the upstream. */
      async function check(t: Trick, want: Outcome): Promise<void> {
        const port = gw.portFor(config.bindPort);
        const seen = up.requests.length;
        const a = await exchange(port, t.target, t);
        const received = up.requests.slice(seen).map((r) => r.url);
        const shown = JSON.stringify(a.raw.split('\r\n')[0]);
        if (want === '403' || want === '400' || want === '404') {
          assert.equal(a.status, Number(want), `answered ${shown}`);
          assert.deepEqual(received, [], 'nothing reached the upstream');
          if (want === '403') assert.match(a.raw, /\r\n\r\ndenied$/, 'the deny route answered');
          if (want === '400') assert.match(a.raw, /\r\nconnection: close\r\n/i, 'the connection is closed');
        } else if (want.startsWith('307 ')) {
          assert.equal(a.status, 307, `answered ${shown}`);
          assert.equal(a.location, want.slice(4));
          assert.deepEqual(received, [], 'nothing reached the upstream');
          // Following the redirect lands on the deny route, or on a path that is not /admin.
          const followed = await exchange(port, a.location!);
          const reached = up.requests.slice(seen).map((r) => r.url);
          assert.ok(followed.status === 403 || reached.length === 1, `the redirect target answered ${followed.status}`);
          for (const url of reached) for (const view of config.views) assert.ok(!denied(view(url)), `${url} reads as ${view(url)}`);
        } else {
          const leak = want.startsWith('!');
          const url = leak ? want.slice(1) : want;
          assert.equal(a.status, 200, `answered ${shown}`);
          assert.deepEqual(received, [url], 'the upstream received exactly this');
          assert.equal(denied(rfc(url)), leak, leak ? `${url} was expected to read as /admin` : `${url} reads as ${rfc(url)}`);
        }
        for (const url of received) for (const view of config.views) assert.ok(!denied(view(url)), `the upstream may read ${url} as ${view(url)}`);
      }

      for (const t of TRICKS) {
        const want = t.want[ci]!;
        const label = `${t.method === 'GET' ? '' : `${t.method} `}${JSON.stringify(t.target)} → ${want}${t.why ? ` (${t.why})` : ''}`;
        test(label, () => check(t, want));
      }
    });
  }

  describe('a caseSensitive: false deny route also covers case tricks', () => {
    for (const target of ['/ADMIN', '/Admin', '/%41dmin', '/%41%44%4D%49%4E', '/aDmIn/x', '/./ADMIN', 'http://good.example/AdMiN']) {
      test(`${JSON.stringify(target)} → 403`, async () => {
        const seen = up.requests.length;
        const a = await exchange(gw.portFor(CASE_INSENSITIVE_PORT), target);
        assert.equal(a.status, 403, a.raw);
        assert.equal(up.requests.length, seen);
      });
    }
  });

  describe('refusals close the connection; a 404 for OPTIONS * does not', () => {
    // A second request is pipelined behind the first: it is answered only if the connection stays open.
    const pipelined = (first: string, opts: { method?: string; host?: string } = {}) =>
      Buffer.concat([request(first, { ...opts, close: false }), request('/next')]);
    const statuses = (raw: string) => [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

    for (const [target, port, opts] of [
      ['/admin%00', 8080, {}],
      ['/%zz', 8080, {}],
      ['/admin#x', 8080, {}],
      ['/%2fadmin', 8083, {}],
      ['*', 8080, {}],
      ['http://other.example/', 8080, {}],
    ] as const) {
      test(`${JSON.stringify(target)} on :${port}: 400, and the request behind it is never read`, async () => {
        const seen = up.requests.length;
        const raw = await rawExchange(gw.portFor(port), pipelined(target, opts));
        assert.deepEqual(statuses(raw), [400], raw);
        assert.match(raw, /\r\nconnection: close\r\n/i, 'the refusal says it closes');
        assert.equal(up.requests.length, seen, 'the pipelined request never reached the upstream');
      });
    }

    test('OPTIONS * answers 404 and the connection serves the next request', async () => {
      const seen = up.requests.length;
      const raw = await rawExchange(gw.portFor(8080), pipelined('*', { method: 'OPTIONS' }));
      assert.deepEqual(statuses(raw), [404, 200], raw);
      assert.deepEqual(up.requests.slice(seen).map((r) => r.url), ['/next']);
    });

    test('a 307 for an escaped slash keeps the connection, and carries the query', async () => {
      const raw = await rawExchange(gw.portFor(8082), pipelined('/a%2Fb?q=%2F1'));
      assert.deepEqual(statuses(raw), [307, 200], raw);
      assert.match(raw, /\r\nlocation: \/a\/b\?q=%2F1\r\n/i);
    });
  });

  test('absolute-form: the upstream gets origin form and the client’s Host', async () => {
    const seen = up.requests.length;
    const a = await exchange(gw.portFor(8080), 'http://GOOD.example:80/x/../y?q=1');
    assert.equal(a.status, 200, a.raw);
    const [got] = up.requests.slice(seen);
    assert.equal(got?.url, '/y?q=1');
    assert.equal(got?.headers.host, HOST);
  });
});
