/**
 * Path normalization, as Envoy's HTTP connection manager does it before routing (normalize_path,
 * merge_slashes, path_with_escaped_slashes_action). The normalized path is what route matching
 * sees and what is forwarded upstream, so the route a request matches is the route its upstream
 * would think it asked for. The query string is never looked at here: callers pass the path only.
 *
 * With normalizePath, in one pass (RFC 3986 §6.2.2 plus what Envoy's canonicalizer adds):
 *   - `%XX` of an unreserved character (ALPHA DIGIT - . _ ~) is decoded; every other escape keeps
 *     its octet and gets uppercase hex; `%2F`/`%5C` follow pathWithEscapedSlashesAction;
 *   - a `%` not followed by two hex digits is refused (Envoy's header validator does the same;
 *     passing it on would let `%%361` become `%61` one decode later), and so is `%00`;
 *   - `\` becomes `/` (Envoy's canonicalizer treats a backslash as a slash, as browsers do);
 *   - characters not allowed in a path (controls, space, `"` `<` `>` `^` `` ` `` `{` `|` `}`, DEL,
 *     non-ASCII) are percent-encoded (UTF-8), as Envoy's canonicalizer does;
 * then dot segments are removed (RFC 3986 §5.2.4; `..` above the root stays at the root), then,
 * with mergeSlashes, runs of `/` become one (Envoy merges after normalizing).
 *
 * Without normalizePath only the escaped-slash action and mergeSlashes apply, as in Envoy.
 *
 * A path that needs none of this (the common case) is returned as the same string: the scan
 * reads each character once against a table and allocates nothing.
 */
import type * as ir from '../../ir/index.js';

/** PathSettings are the listener settings path handling reads. */
export type PathSettings = Pick<ir.HttpSettings, 'normalizePath' | 'mergeSlashes' | 'pathWithEscapedSlashesAction'>;

/** PathReject: the request is refused with 400; reject names why (for logs and stats). */
export interface PathReject {
  readonly reject: PathRejectReason;
}
/** PathRedirect: the client is sent a 307 to this path (UNESCAPE_AND_REDIRECT). */
export interface PathRedirect {
  readonly redirect: string;
}
export type PathRejectReason = 'not_origin_form' | 'invalid_percent_encoding' | 'nul' | 'escaped_slash' | 'invalid_character';

/** PathResult is normalizePath's answer. */
export type PathResult = { readonly path: string } | PathReject | PathRedirect;

/**
 * PathNormalizer is a listener's compiled normalizer: the normalized path as a string (the very
 * string it was given when nothing changes), or a refusal.
 */
export type PathNormalizer = (path: string) => string | PathReject | PathRedirect;

const REJECT: { readonly [K in PathRejectReason]: PathReject } = {
  not_origin_form: Object.freeze({ reject: 'not_origin_form' }),
  invalid_percent_encoding: Object.freeze({ reject: 'invalid_percent_encoding' }),
  nul: Object.freeze({ reject: 'nul' }),
  escaped_slash: Object.freeze({ reject: 'escaped_slash' }),
  invalid_character: Object.freeze({ reject: 'invalid_character' }),
};

/** normalizePath normalizes one path (no query) under the settings. */
export function normalizePath(path: string, settings: PathSettings): PathResult {
  const r = compilePathNormalizer(settings)(path);
  return typeof r === 'string' ? { path: r } : r;
}

/** compilePathNormalizer builds the normalizer for a listener's settings, once per snapshot. */
export function compilePathNormalizer(settings: PathSettings): PathNormalizer {
  const escaped = ACTIONS[settings.pathWithEscapedSlashesAction] ?? KEEP;
  const merge = settings.mergeSlashes;
  if (settings.normalizePath) return (path) => normalize(path, merge, escaped);
  if (escaped === KEEP && !merge) return (path) => (path.charCodeAt(0) === SLASH ? path : REJECT.not_origin_form);
  return (path) => unescapeAndMerge(path, merge, escaped);
}

// Escaped-slash actions.
const KEEP = 0;
const REJECT_REQUEST = 1;
const UNESCAPE_AND_REDIRECT = 2;
const UNESCAPE_AND_FORWARD = 3;
const ACTIONS: Readonly<Record<string, number>> = {
  KEEP_UNCHANGED: KEEP,
  REJECT_REQUEST,
  UNESCAPE_AND_REDIRECT,
  UNESCAPE_AND_FORWARD,
};

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const BACKSLASH = 0x5c;

// Character classes for the ASCII range; anything else is OTHER.
/** OTHER must be percent-encoded in a normalized path (or is `%`, `\`, handled on their own). */
const OTHER = 0;
/** PLAIN passes unchanged: unreserved, sub-delims, `:` `@`, and `[` `]` (Envoy passes those). */
const PLAIN = 1;
const CLASS = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@[]/") CLASS[c.charCodeAt(0)] = PLAIN;

/** UNRESERVED are the characters whose percent-encoding RFC 3986 §2.3 says to decode. */
const UNRESERVED = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') UNRESERVED[c.charCodeAt(0)] = 1;

const HEX = '0123456789ABCDEF';

/** hexValue is a hex digit's value, or -1. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** isDotSegmentAt: path[i] is `.` right after a `/`; is it the segment `.` or `..`? */
function isDotSegmentAt(path: string, i: number): boolean {
  const n = path.length;
  if (i + 1 === n || path.charCodeAt(i + 1) === SLASH) return true;
  if (path.charCodeAt(i + 1) !== DOT) return false;
  return i + 2 === n || path.charCodeAt(i + 2) === SLASH;
}

/** needsNormalizing is the fast path's scan: false means the path is already normal. */
function needsNormalizing(path: string, merge: boolean): boolean {
  let prev = 0;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c >= 128 || CLASS[c] !== PLAIN) return true;
    if (prev === SLASH) {
      if (c === SLASH ? merge : c === DOT && isDotSegmentAt(path, i)) return true;
    }
    prev = c;
  }
  return false;
}

function normalize(path: string, merge: boolean, escaped: number): string | PathReject | PathRedirect {
  if (path.charCodeAt(0) !== SLASH) return REJECT.not_origin_form;
  if (!needsNormalizing(path, merge)) return path;
  // Pass 1: decode, escape, backslashes. `out` grows by slices of unchanged runs.
  let out = '';
  let from = 0;
  let redirect = false;
  const n = path.length;
  for (let i = 0; i < n; i++) {
    const c = path.charCodeAt(i);
    if (c < 128 && CLASS[c] === PLAIN) continue;
    let rep: string;
    let next = i + 1;
    if (c === PERCENT) {
      const hi = i + 2 < n ? hexValue(path.charCodeAt(i + 1)) : -1;
      const lo = hi >= 0 ? hexValue(path.charCodeAt(i + 2)) : -1;
      if (lo < 0) return REJECT.invalid_percent_encoding;
      const v = hi * 16 + lo;
      next = i + 3;
      if (v === 0) return REJECT.nul;
      if (UNRESERVED[v] === 1) rep = String.fromCharCode(v);
      else if (v === SLASH || v === BACKSLASH) {
        if (escaped === KEEP) rep = v === SLASH ? '%2F' : '%5C';
        else if (escaped === REJECT_REQUEST) return REJECT.escaped_slash;
        else {
          if (escaped === UNESCAPE_AND_REDIRECT) redirect = true;
          // A decoded backslash is a slash to the canonicalizer, as a literal one is.
          rep = '/';
        }
      } else rep = `%${HEX[v >> 4]}${HEX[v & 15]}`;
    } else if (c === BACKSLASH) rep = '/';
    else if (c === 0) return REJECT.nul;
    else if (c < 128) rep = `%${HEX[c >> 4]}${HEX[c & 15]}`;
    else {
      // Non-ASCII (Node's parser refuses it on the wire; a caller may still pass it): UTF-8.
      const cp = path.codePointAt(i)!;
      if (cp >= 0xd800 && cp <= 0xdfff) return REJECT.invalid_character; // a lone surrogate
      const ch = String.fromCodePoint(cp);
      rep = encodeURIComponent(ch);
      next = i + ch.length;
    }
    out += path.slice(from, i) + rep;
    from = next;
    i = next - 1;
  }
  let s = from === 0 ? path : out + path.slice(from);
  // Pass 2: dot segments. Pass 3: merge slashes (after, as Envoy does).
  if (hasDotSegment(s)) s = removeDotSegments(s);
  if (merge && s.includes('//')) s = s.replace(/\/{2,}/g, '/');
  return redirect ? { redirect: s } : s;
}

/** unescapeAndMerge is the escaped-slash action and mergeSlashes without normalizePath. */
function unescapeAndMerge(path: string, merge: boolean, escaped: number): string | PathReject | PathRedirect {
  if (path.charCodeAt(0) !== SLASH) return REJECT.not_origin_form;
  let s = path;
  let redirect = false;
  if (escaped !== KEEP && s.includes('%') && ESCAPED_SLASH.test(s)) {
    if (escaped === REJECT_REQUEST) return REJECT.escaped_slash;
    redirect = escaped === UNESCAPE_AND_REDIRECT;
    // `%2F` is `/`, `%5C` is `\` (which, without normalizePath, is not a slash).
    s = s.replace(ESCAPED_SLASHES_ALL, (m) => ((m.charCodeAt(2) | 0x20) === 0x66 ? '/' : '\\'));
  }
  if (merge && s.includes('//')) s = s.replace(/\/{2,}/g, '/');
  return redirect ? { redirect: s } : s;
}

const ESCAPED_SLASH = /%(?:2f|5c)/i;
const ESCAPED_SLASHES_ALL = /%(?:2f|5c)/gi;

function hasDotSegment(s: string): boolean {
  for (let i = s.indexOf('/.'); i >= 0; i = s.indexOf('/.', i + 1)) if (isDotSegmentAt(s, i + 1)) return true;
  return false;
}

/**
 * removeDotSegments is RFC 3986 §5.2.4 for an absolute path: `.` segments go, `..` removes the
 * segment before it (never above the root), and a path ending in a dot segment keeps its
 * trailing slash (`/a/b/..` is `/a/`).
 */
function removeDotSegments(s: string): string {
  const segs = s.split('/');
  const out: string[] = [];
  const last = segs.length - 1;
  for (let i = 1; i <= last; i++) {
    const seg = segs[i]!;
    if (seg === '.' || seg === '..') {
      if (seg === '..') out.pop();
      if (i === last) out.push('');
    } else out.push(seg);
  }
  return `/${out.join('/')}`;
}
