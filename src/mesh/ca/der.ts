/**
 * der writes and reads the little DER (ITU-T X.690, Distinguished Encoding Rules) the CA handles
 * by hand on its hot path: x509.ts builds workload leaves from these pieces and walks CSRs with
 * the reader. It knows encodings, not certificates; x509.ts owns the X.509 structure. Every
 * writer returns the complete element (tag, length, contents). der.test.ts checks each one
 * against known encodings and against what @peculiar/x509 writes for the same values.
 *
 * Only what the CA needs is here: definite lengths (DER has no other), low tag numbers (< 31),
 * INTEGERs from unsigned big-endian bytes, and time as RFC 5280 §4.1.2.5 requires it (UTCTime
 * through 2049, GeneralizedTime from 2050, whole seconds, always "Z").
 */

/** TAG holds the universal tags used here (constructed ones with bit 0x20 set). */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
} as const;

// === Writing ===

/** encodeLength is the DER length octets for n: short form below 128, else the fewest bytes. */
export function encodeLength(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`bad DER length ${n}`);
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes.length > 4) throw new RangeError(`DER length ${n} is too large`);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** tlv is one element: tag (a single octet, tag number < 31), length, then contents in order. */
export function tlv(tag: number, ...contents: readonly Uint8Array[]): Buffer {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) throw new RangeError(`unsupported DER tag ${tag}`);
  let n = 0;
  for (const c of contents) n += c.length;
  const len = encodeLength(n);
  const out = Buffer.allocUnsafe(1 + len.length + n);
  out[0] = tag;
  len.copy(out, 1);
  let off = 1 + len.length;
  for (const c of contents) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** sequence is SEQUENCE { ...elements } (each already encoded). */
export function sequence(...elements: readonly Uint8Array[]): Buffer {
  return tlv(TAG.SEQUENCE, ...elements);
}

/**
 * unsignedInteger encodes big-endian unsigned bytes as a non-negative INTEGER: leading zero
 * bytes are dropped (one is kept for zero) and a 0x00 is put in front when the high bit is set,
 * so the value stays positive. `magnitude` is the value's minimal unsigned bytes, returned too.
 */
export function unsignedInteger(bytes: Uint8Array): { der: Buffer; magnitude: Buffer } {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const magnitude = Buffer.from(bytes.subarray(start));
  if (magnitude.length === 0) return { der: tlv(TAG.INTEGER, Buffer.from([0])), magnitude: Buffer.from([0]) };
  const der = magnitude[0]! & 0x80 ? tlv(TAG.INTEGER, Buffer.from([0]), magnitude) : tlv(TAG.INTEGER, magnitude);
  return { der, magnitude };
}

/** smallInteger encodes a small non-negative number (0 to 2^31 − 1) as an INTEGER. */
export function smallInteger(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new RangeError(`smallInteger takes 0 to 2^31-1, not ${n}`);
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(n);
  return unsignedInteger(bytes).der;
}

/** boolean is BOOLEAN; DER writes TRUE as 0xff. */
export function boolean(value: boolean): Buffer {
  return tlv(TAG.BOOLEAN, Buffer.from([value ? 0xff : 0x00]));
}

/** nullValue is NULL (05 00). */
export function nullValue(): Buffer {
  return Buffer.from([TAG.NULL, 0x00]);
}

/** oid encodes a dotted OBJECT IDENTIFIER such as "1.2.840.10045.4.3.2". */
export function oid(dotted: string): Buffer {
  if (!/^[0-2]\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/.test(dotted)) throw new RangeError(`bad OID "${dotted}"`);
  const arcs = dotted.split('.').map(Number);
  if (arcs.some((a) => !Number.isSafeInteger(a))) throw new RangeError(`OID arc too large in "${dotted}"`);
  if (arcs[0]! < 2 && arcs[1]! > 39) throw new RangeError(`bad OID "${dotted}": second arc above 39`);
  const out: number[] = [];
  for (const arc of [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)]) {
    const base128: number[] = [];
    for (let v = arc; ; v = Math.floor(v / 128)) {
      base128.unshift((v % 128) | (base128.length ? 0x80 : 0));
      if (v < 128) break;
    }
    out.push(...base128);
  }
  return tlv(TAG.OID, Buffer.from(out));
}

/** octetString is OCTET STRING. */
export function octetString(contents: Uint8Array): Buffer {
  return tlv(TAG.OCTET_STRING, contents);
}

/** bitString is BIT STRING with `unusedBits` (0–7) unused low bits in the last byte, which must be zero. */
export function bitString(bytes: Uint8Array, unusedBits = 0): Buffer {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0)) {
    throw new RangeError(`bad unused bit count ${unusedBits}`);
  }
  if (unusedBits && (bytes[bytes.length - 1]! & ((1 << unusedBits) - 1)) !== 0) throw new RangeError('unused bits of a DER BIT STRING must be zero');
  return tlv(TAG.BIT_STRING, Buffer.from([unusedBits]), bytes);
}

/**
 * namedBits is a BIT STRING of named bits (KeyUsage's kind): bit 0 is the first byte's high bit,
 * and DER drops trailing zero bits, so the string ends at the highest bit set.
 */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return bitString(Buffer.alloc(0));
  if (bits.some((b) => !Number.isInteger(b) || b < 0 || b > 255)) throw new RangeError('named bit out of range');
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc((highest >> 3) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  return bitString(bytes, 7 - (highest & 7));
}

function ascii(s: string): Buffer {
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(s)) throw new RangeError('an IA5String takes ASCII only');
  return Buffer.from(s, 'latin1');
}

/** contextExplicit is [n] EXPLICIT: a constructed context tag around complete elements. */
export function contextExplicit(n: number, ...elements: readonly Uint8Array[]): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new RangeError(`bad context tag ${n}`);
  return tlv(0xa0 | n, ...elements);
}

/** contextPrimitive is [n] IMPLICIT over a primitive type: a context tag around raw contents. */
export function contextPrimitive(n: number, contents: Uint8Array): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new RangeError(`bad context tag ${n}`);
  return tlv(0x80 | n, contents);
}

/** contextIa5 is [n] IMPLICIT IA5String (GeneralName's uniformResourceIdentifier is [6], dNSName [2]). */
export function contextIa5(n: number, s: string): Buffer {
  return contextPrimitive(n, ascii(s));
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/**
 * time is an X.509 Time as RFC 5280 §4.1.2.5 requires: UTCTime (YYMMDDHHMMSSZ) for 1950–2049,
 * GeneralizedTime (YYYYMMDDHHMMSSZ) otherwise, in UTC, milliseconds dropped (never a fraction).
 */
export function time(date: Date): Buffer {
  if (!Number.isFinite(date.getTime())) throw new RangeError('invalid date');
  const d = wholeSeconds(date);
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) throw new RangeError(`year ${year} cannot be written in an X.509 Time`);
  const rest = `${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}${pad2(d.getUTCHours())}${pad2(d.getUTCMinutes())}${pad2(d.getUTCSeconds())}Z`;
  if (year >= 1950 && year <= 2049) return tlv(TAG.UTC_TIME, Buffer.from(`${pad2(year % 100)}${rest}`, 'latin1'));
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(`${String(year).padStart(4, '0')}${rest}`, 'latin1'));
}

/** wholeSeconds is date rounded down to the second: what time() writes and a parser reads back. */
export function wholeSeconds(date: Date): Date {
  const ms = date.getTime();
  return new Date(ms - (((ms % 1000) + 1000) % 1000));
}

// === Reading ===

/** DerElement locates one element inside a buffer: its tag, where its contents start and where it ends. */
export interface DerElement {
  readonly tag: number;
  readonly valueStart: number;
  readonly end: number;
}

/**
 * readElement reads the element starting at `off`. It is strict: single-octet tags only, no
 * indefinite length, lengths in the fewest octets (as DER requires), nothing past the buffer.
 */
export function readElement(buf: Uint8Array, off: number): DerElement {
  if (off + 2 > buf.length) throw new Error('truncated DER');
  const tag = buf[off]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('multi-byte DER tags are not supported');
  let len = buf[off + 1]!;
  let valueStart = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new Error('indefinite length is not DER');
    if (n > 4 || valueStart + n > buf.length) throw new Error('bad DER length');
    if (buf[valueStart] === 0) throw new Error('DER length has a leading zero');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[valueStart + i]!;
    if (len < 0x80) throw new Error('DER length in long form below 128');
    valueStart += n;
  }
  const end = valueStart + len;
  if (end > buf.length) throw new Error('truncated DER');
  return { tag, valueStart, end };
}

/**
 * children splits one constructed element (a SEQUENCE unless `tag` says otherwise) that fills
 * `buf` exactly into its elements' complete encodings, which share buf's memory.
 */
export function children(buf: Buffer, tag: number = TAG.SEQUENCE): Buffer[] {
  const outer = readElement(buf, 0);
  if (outer.tag !== tag) throw new Error(`expected DER tag 0x${tag.toString(16)}, got 0x${outer.tag.toString(16)}`);
  if (outer.end !== buf.length) throw new Error('trailing bytes after DER element');
  const out: Buffer[] = [];
  for (let off = outer.valueStart; off < outer.end; ) {
    const el = readElement(buf, off);
    if (el.end > outer.end) throw new Error('DER element overruns its parent');
    out.push(buf.subarray(off, el.end));
    off = el.end;
  }
  return out;
}

/** contents returns a complete element's contents (after tag and length), sharing its memory. */
export function contents(el: Buffer): Buffer {
  const e = readElement(el, 0);
  if (e.end !== el.length) throw new Error('trailing bytes after DER element');
  return el.subarray(e.valueStart);
}
