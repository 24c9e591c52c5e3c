// Unit tests for normalizePath: Envoy's normalize_path (RFC 3986 normalization plus the
// canonicalizer's backslash and escaping rules), merge_slashes and path_with_escaped_slashes_action,
// case by case and as properties (idempotence, no dot segments, no encoded unreserved characters,
// and RFC 3986 equivalence with a reference implementation of §5.2.4).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { normalizePath, compilePathNormalizer, type PathSettings, type PathResult } from './normalize-path.js';

type Action = PathSettings['pathWithEscapedSlashesAction'];
const ACTIONS: readonly Action[] = ['KEEP_UNCHANGED', 'REJECT_REQUEST', 'UNESCAPE_AND_REDIRECT', 'UNESCAPE_AND_FORWARD'];

const settings = (s: Partial<PathSettings> = {}): PathSettings => ({
  normalizePath: true,
  mergeSlashes: false,
  pathWithEscapedSlashesAction: 'KEEP_UNCHANGED',
  ...s,
});
const DEFAULTS = settings();
const MERGE = settings({ mergeSlashes: true });
const OFF = settings({ normalizePath: false });

const path = (p: string): PathResult => ({ path: p });
const reject = (reason: string): PathResult => ({ reject: reason }) as PathResult;
const redirect = (p: string): PathResult => ({ redirect: p });

function runCases(s: PathSettings, cases: readonly (readonly [string, PathResult, string?])[]): void {
  for (const [input, want, why] of cases) {
    test(`${JSON.stringify(input)} → ${JSON.stringify(want)}${why ? ` (${why})` : ''}`, () => {
      assert.deepEqual(normalizePath(input, s), want);
    });
  }
}

describe('normalizePath: RFC 3986 normalization (normalizePath on, the default)', () => {
  runCases(DEFAULTS, [
    ['/', path('/')],
    ['/api/v1/items', path('/api/v1/items'), 'already normal: returned as is'],
    ['/.well-known/acme', path('/.well-known/acme'), 'a segment starting with a dot is not a dot segment'],
    ['/a/..b/c.', path('/a/..b/c.')],
    ['/admin..', path('/admin..')],
    ["/a:b@c!$&'()*+,;=[]", path("/a:b@c!$&'()*+,;=[]"), 'sub-delims, `:` `@` and brackets pass'],
    // Dot segments (§5.2.4).
    ['/./admin', path('/admin')],
    ['/a/./b', path('/a/b')],
    ['/a/b/../c', path('/a/c')],
    ['/foo/../admin', path('/admin')],
    ['/a/b/..', path('/a/'), 'a final dot segment keeps the trailing slash'],
    ['/a/b/.', path('/a/b/')],
    ['/a/b/../', path('/a/')],
    ['/..', path('/'), '.. never climbs above the root'],
    ['/../admin', path('/admin')],
    ['/../../../admin', path('/admin')],
    ['/.', path('/')],
    ['/a//../b', path('/a/b'), '.. removes the empty segment between two slashes'],
    ['/foo//../admin', path('/foo/admin')],
    ['/..;/admin', path('/..;/admin'), '`..;` is a segment, not a dot segment (RFC 3986, Envoy)'],
    // Percent-decoding of unreserved characters only (§2.3, §6.2.2.2).
    ['/%61dmin', path('/admin')],
    ['/adm%69n', path('/admin')],
    ['/%61%64%6d%69%6e', path('/admin')],
    ['/%41dmin', path('/Admin'), 'A is unreserved: decoded, and paths are case-sensitive'],
    ['/%7e%2d%5f%2E', path('/~-_.')],
    ['/%30%39', path('/09')],
    ['/%2e/admin', path('/admin'), 'an encoded dot is a dot: decoded first, then removed'],
    ['/%2e%2e/admin', path('/admin')],
    ['/foo/%2E%2E/admin', path('/admin')],
    ['/.%2e/admin', path('/admin')],
    ['/%2e./admin', path('/admin')],
    ['/%2561dmin', path('/%2561dmin'), '%25 is `%`, reserved: never double-decoded'],
    ['/%252e%252e/admin', path('/%252e%252e/admin')],
    ['/a%20b', path('/a%20b')],
    ['/a%3bb%3Fc%23d', path('/a%3Bb%3Fc%23d'), 'reserved escapes keep their octet, hex uppercased'],
    ['/%c0%ae%c0%ae/admin', path('/%C0%AE%C0%AE/admin'), 'overlong UTF-8 is not decoded (not unreserved)'],
    ['/%d0%b0dmin', path('/%D0%B0dmin'), 'a Cyrillic homoglyph stays encoded'],
    // Backslashes (Envoy's canonicalizer: `\` is `/`).
    ['/\\admin', path('//admin')],
    ['/foo\\..\\admin', path('/admin')],
    ['/a\\b', path('/a/b')],
    // Characters that must be escaped in a path (as Envoy's canonicalizer escapes them).
    ['/a"b<c>d^e`f{g|h}i', path('/a%22b%3Cc%3Ed%5Ee%60f%7Bg%7Ch%7Di')],
    ['/a b\tc', path('/a%20b%09c')],
    ['/é', path('/%C3%A9'), 'non-ASCII is encoded as UTF-8'],
    ['/\u{1F600}', path('/%F0%9F%98%80')],
    ['/\ud800', reject('invalid_character'), 'a lone surrogate has no UTF-8'],
    // Refusals.
    ['/admin%00', reject('nul'), 'Envoy refuses an encoded NUL'],
    ['/a\u0000b', reject('nul')],
    ['/%zz/admin', reject('invalid_percent_encoding')],
    ['/admin%4', reject('invalid_percent_encoding'), 'a truncated escape'],
    ['/admin%', reject('invalid_percent_encoding')],
    ['/%%361dmin', reject('invalid_percent_encoding'), 'a nested escape that would decode to %61'],
    ['/%4g', reject('invalid_percent_encoding')],
    ['admin', reject('not_origin_form')],
    ['*', reject('not_origin_form')],
    ['', reject('not_origin_form')],
    // mergeSlashes off (the default): slashes stay.
    ['//admin', path('//admin')],
    ['/a///b', path('/a///b')],
  ]);
});

describe('normalizePath: mergeSlashes', () => {
  runCases(MERGE, [
    ['//admin', path('/admin')],
    ['/a///b//', path('/a/b/')],
    ['/\\admin', path('/admin'), 'a backslash becomes a slash, then merges'],
    ['/foo//../admin', path('/foo/admin'), 'merged after dot segments are removed, as Envoy does'],
    ['/a/b', path('/a/b')],
  ]);
  describe('without normalizePath', () => {
    runCases(settings({ normalizePath: false, mergeSlashes: true }), [
      ['//admin', path('/admin')],
      ['/a//./b', path('/a/./b'), 'dot segments stay without normalizePath'],
    ]);
  });
});

describe('normalizePath: pathWithEscapedSlashesAction', () => {
  const cases: [string, Action, boolean, PathResult][] = [
    ['/foo%2f..%2fadmin', 'KEEP_UNCHANGED', false, path('/foo%2F..%2Fadmin')],
    ['/foo%2f..%2fadmin', 'REJECT_REQUEST', false, reject('escaped_slash')],
    ['/foo%2f..%2fadmin', 'UNESCAPE_AND_REDIRECT', false, redirect('/admin')],
    ['/foo%2F..%2Fadmin', 'UNESCAPE_AND_FORWARD', false, path('/admin')],
    ['/foo%5c..%5cadmin', 'KEEP_UNCHANGED', false, path('/foo%5C..%5Cadmin')],
    ['/foo%5C..%5Cadmin', 'REJECT_REQUEST', false, reject('escaped_slash')],
    ['/foo%5c..%5Cadmin', 'UNESCAPE_AND_FORWARD', false, path('/admin')],
    ['/%2fadmin', 'UNESCAPE_AND_FORWARD', false, path('//admin')],
    ['/%2fadmin', 'UNESCAPE_AND_FORWARD', true, path('/admin')],
    ['/%2fadmin', 'UNESCAPE_AND_REDIRECT', true, redirect('/admin')],
    ['/admin%2f', 'UNESCAPE_AND_REDIRECT', false, redirect('/admin/')],
    ['/x/..%2f..%2fadmin', 'KEEP_UNCHANGED', false, path('/x/..%2F..%2Fadmin')],
    ['/x/..%2f..%2fadmin', 'UNESCAPE_AND_REDIRECT', false, redirect('/admin')],
    ['/a%2Fb', 'UNESCAPE_AND_REDIRECT', false, redirect('/a/b')],
    ['/a/b', 'UNESCAPE_AND_REDIRECT', false, path('/a/b')],
    ['/a%20b', 'REJECT_REQUEST', false, path('/a%20b')],
  ];
  for (const [input, action, mergeSlashes, want] of cases) {
    test(`${action}${mergeSlashes ? ' + mergeSlashes' : ''}: ${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => {
      assert.deepEqual(normalizePath(input, settings({ pathWithEscapedSlashesAction: action, mergeSlashes })), want);
    });
  }

  describe('without normalizePath, the action still applies (Envoy)', () => {
    const off = (action: Action) => settings({ normalizePath: false, pathWithEscapedSlashesAction: action });
    test('KEEP_UNCHANGED leaves every escape as sent', () => {
      assert.deepEqual(normalizePath('/foo%2f..%2fadmin', off('KEEP_UNCHANGED')), path('/foo%2f..%2fadmin'));
    });
    test('REJECT_REQUEST refuses %2F and %5C in either case', () => {
      for (const p of ['/a%2fb', '/a%2Fb', '/a%5cb', '/a%5Cb']) assert.deepEqual(normalizePath(p, off('REJECT_REQUEST')), reject('escaped_slash'), p);
    });
    test('UNESCAPE_AND_FORWARD decodes %2F to / and %5C to \\ and nothing else', () => {
      assert.deepEqual(normalizePath('/foo%2F..%5c%61dmin', off('UNESCAPE_AND_FORWARD')), path('/foo/..\\%61dmin'));
    });
    test('UNESCAPE_AND_REDIRECT redirects to the decoded path', () => {
      assert.deepEqual(normalizePath('/a%2fb', off('UNESCAPE_AND_REDIRECT')), redirect('/a/b'));
    });
  });
});

describe('normalizePath: normalizePath off', () => {
  runCases(OFF, [
    ['/./admin', path('/./admin')],
    ['/%61dmin', path('/%61dmin')],
    ['/admin%00', path('/admin%00'), 'nothing is refused without normalizePath (Envoy)'],
    ['/%zz', path('/%zz')],
    ['/\\admin', path('/\\admin')],
    ['//admin', path('//admin')],
    ['*', reject('not_origin_form')],
  ]);
});

describe('compilePathNormalizer', () => {
  test('a normal path comes back as the very string given (the fast path)', () => {
    for (const s of [DEFAULTS, MERGE, OFF, settings({ pathWithEscapedSlashesAction: 'REJECT_REQUEST', mergeSlashes: true })]) {
      const n = compilePathNormalizer(s);
      for (const p of ['/', '/api/v1/items', '/.well-known/x', '/a.b/c..d', '/a;b=c/d@e']) assert.equal(n(p), p);
    }
  });
  test('refusals are shared objects: a refused request allocates nothing for them', () => {
    const n = compilePathNormalizer(DEFAULTS);
    assert.equal(n('/a%zz'), n('/b%zz'));
    assert.equal(n('/a%00'), n('/b%00'));
  });
});

// ---- Properties ----

/** Path pieces chosen to collide: dots, slashes, escapes of every kind, backslashes, junk. */
const PIECES = [
  '/', '/', '/', '.', '..', '%2e', '%2E', '%2f', '%2F', '%5c', '%5C', '\\', 'a', 'A', 'admin', '%61', '%41', '%7e', '~', '-', '_',
  '%25', '%2561', '%20', ' ', '"', '{', ';', ':', '@', '%c0%ae', '%3b', '%3B', '%ff', '%00', '%zz', '%4', '%', 'é',
];
const pathArb = fc.array(fc.constantFrom(...PIECES), { maxLength: 14 }).map((ps) => `/${ps.join('')}`);
const settingsArb = fc.record({
  normalizePath: fc.boolean(),
  mergeSlashes: fc.boolean(),
  pathWithEscapedSlashesAction: fc.constantFrom(...ACTIONS),
});

/** outputOf is the path a result leads to: the path, or where the redirect sends the client. */
const outputOf = (r: PathResult): string | undefined => ('path' in r ? r.path : 'redirect' in r ? r.redirect : undefined);

const ENCODED_UNRESERVED = /%(?:[46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9]|2[dDeE]|5[fF]|7[eE])/;

describe('normalizePath properties', () => {
  test('idempotent: normalizing a normalized path (or a redirect target) changes nothing', () => {
    fc.assert(
      fc.property(pathArb, settingsArb, (p, s) => {
        const out = outputOf(normalizePath(p, s));
        if (out === undefined) return;
        assert.deepEqual(normalizePath(out, s), { path: out });
      }),
      { numRuns: 3000 },
    );
  });

  test('with normalizePath, the output has no dot segment, no encoded unreserved character, no lowercase escape, no backslash', () => {
    fc.assert(
      fc.property(pathArb, settingsArb, (p, s) => {
        const out = outputOf(normalizePath(p, { ...s, normalizePath: true }));
        if (out === undefined) return;
        assert.ok(out.startsWith('/'), out);
        assert.ok(!/\/\.\.?(?:\/|$)/.test(out), `dot segment in ${out}`);
        assert.ok(!ENCODED_UNRESERVED.test(out), `encoded unreserved character in ${out}`);
        assert.ok(!/%[0-9A-F]?[a-f]/.test(out), `lowercase escape in ${out}`);
        assert.ok(!out.includes('\\'), `backslash in ${out}`);
        assert.ok(/^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@[\]/]|%[0-9A-F]{2})*$/.test(out), `not a valid path: ${out}`);
      }),
      { numRuns: 3000 },
    );
  });

  test('with mergeSlashes, the output never contains //', () => {
    fc.assert(
      fc.property(pathArb, settingsArb, (p, s) => {
        const out = outputOf(normalizePath(p, { ...s, mergeSlashes: true }));
        if (out !== undefined) assert.ok(!out.includes('//'), out);
      }),
      { numRuns: 2000 },
    );
  });

  test('unless the action is KEEP_UNCHANGED, no %2F or %5C survives; REJECT_REQUEST refuses any', () => {
    fc.assert(
      fc.property(pathArb, settingsArb, (p, s) => {
        if (s.pathWithEscapedSlashesAction === 'KEEP_UNCHANGED') return;
        const r = normalizePath(p, s);
        const out = outputOf(r);
        if (out !== undefined) assert.ok(!/%(?:2f|5c)/i.test(out), out);
        if (s.pathWithEscapedSlashesAction === 'REJECT_REQUEST' && /%(?:2f|5c)/i.test(p) && 'path' in r) assert.fail(`accepted ${p}`);
        if (s.pathWithEscapedSlashesAction !== 'UNESCAPE_AND_REDIRECT') assert.ok(!('redirect' in r));
      }),
      { numRuns: 2000 },
    );
  });

  test('every refusal with normalizePath is an invalid escape, %00, or (REJECT_REQUEST) an escaped slash', () => {
    fc.assert(
      fc.property(pathArb, settingsArb, (p, s) => {
        const r = normalizePath(p, { ...s, normalizePath: true });
        if (!('reject' in r)) return;
        const badEscape = /%(?![0-9A-Fa-f]{2})/.test(p);
        const nul = /%00/.test(p);
        const slash = s.pathWithEscapedSlashesAction === 'REJECT_REQUEST' && /%(?:2f|5c)/i.test(p);
        assert.ok(badEscape || nul || slash, `${p} refused as ${r.reject}`);
      }),
      { numRuns: 2000 },
    );
  });

  // Equivalence: under KEEP_UNCHANGED without merging, normalization only rewrites a path into an
  // RFC 3986-equivalent one, so it must agree with a literal reading of the RFC. Backslashes (an
  // Envoy/browser rule, not RFC 3986) and refused inputs are left out.
  test('with KEEP_UNCHANGED and no merging, the output equals RFC 3986 §6.2.2 + §5.2.4 done by the book', () => {
    const rfcPieces = PIECES.filter((x) => !['\\', '%00', '%zz', '%4', '%', ' ', '"', '{', 'é'].includes(x));
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...rfcPieces), { maxLength: 14 }), (ps) => {
        const p = `/${ps.join('')}`;
        assert.deepEqual(normalizePath(p, DEFAULTS), { path: rfcNormalize(p) }, p);
      }),
      { numRuns: 3000 },
    );
  });
});

/** rfcNormalize: case and percent-encoding normalization (§6.2.2.1-2), then §5.2.4 as written. */
function rfcNormalize(p: string): string {
  const decoded = p.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(ch) ? ch : `%${hex.toUpperCase()}`;
  });
  return removeDotSegmentsByTheBook(decoded);
}

/** removeDotSegmentsByTheBook is RFC 3986 §5.2.4's algorithm, step by step. */
function removeDotSegmentsByTheBook(path: string): string {
  let input = path;
  let output = '';
  while (input.length > 0) {
    if (input.startsWith('../')) input = input.slice(3);
    else if (input.startsWith('./')) input = input.slice(2);
    else if (input.startsWith('/./')) input = input.slice(2);
    else if (input === '/.') input = '/';
    else if (input.startsWith('/../')) {
      input = input.slice(3);
      output = output.slice(0, Math.max(0, output.lastIndexOf('/')));
    } else if (input === '/..') {
      input = '/';
      output = output.slice(0, Math.max(0, output.lastIndexOf('/')));
    } else if (input === '.' || input === '..') input = '';
    else {
      const start = input.startsWith('/') ? 1 : 0;
      const next = input.indexOf('/', start);
      const seg = next < 0 ? input : input.slice(0, next);
      output += seg;
      input = input.slice(seg.length);
    }
  }
  return output;
}
