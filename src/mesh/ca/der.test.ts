// The DER writer and reader of der.ts: known encodings (X.690 and RFC 5280 examples, the bytes
// openssl writes), the boundaries where encodings change (lengths 127/128/255/256, INTEGERs with
// the high bit set, 2049/2050 for time), and, as properties, the same bytes as @peculiar/x509
// writes for the extensions a workload leaf carries. Whole certificates are compared with the
// library's in x509.test.ts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import fc from 'fast-check';
// reflect-metadata must load before @peculiar/x509 (its tsyringe dependency needs it at import).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as der from './der.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fromHex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');

/** asn1parse is `openssl asn1parse` of DER bytes: an independent reader for known encodings. */
function asn1parse(bytes: Buffer): string {
  return execFileSync('openssl', ['asn1parse', '-inform', 'DER'], { input: bytes, encoding: 'utf8' });
}

describe('encodeLength and tlv', () => {
  test('short form below 128, then the fewest length octets', () => {
    for (const [n, want] of [
      [0, '00'],
      [1, '01'],
      [127, '7f'],
      [128, '8180'],
      [255, '81ff'],
      [256, '820100'],
      [65535, '82ffff'],
      [65536, '83010000'],
      [0xffffffff, '84ffffffff'],
    ] as const) {
      assert.equal(hex(der.encodeLength(n)), want, `length ${n}`);
    }
    assert.throws(() => der.encodeLength(-1), RangeError);
    assert.throws(() => der.encodeLength(1.5), RangeError);
    assert.throws(() => der.encodeLength(2 ** 32), RangeError);
  });

  test('tlv puts tag, length and the contents in order; the reader gives them back', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 4 }), (parts) => {
        const el = der.tlv(0x04, ...parts);
        const all = Buffer.concat(parts);
        assert.equal(hex(el), hex(Buffer.concat([Buffer.from([0x04]), der.encodeLength(all.length), all])));
        assert.deepEqual(der.readElement(el, 0), { tag: 0x04, valueStart: el.length - all.length, end: el.length });
        assert.equal(hex(der.contents(el)), hex(all));
      }),
      { numRuns: 300 },
    );
    assert.throws(() => der.tlv(0x1f), RangeError, 'high tag numbers are not written');
    assert.throws(() => der.tlv(256), RangeError);
  });

  test('sequence nests elements; an empty SEQUENCE is 30 00', () => {
    assert.equal(hex(der.sequence()), '3000');
    assert.equal(hex(der.sequence(der.boolean(true), der.nullValue())), '30050101ff0500');
  });
});

describe('INTEGER', () => {
  test('unsignedInteger drops leading zeros and keeps the value positive', () => {
    for (const [input, want, magnitude] of [
      ['', '020100', '00'],
      ['00', '020100', '00'],
      ['0000', '020100', '00'],
      ['01', '020101', '01'],
      ['7f', '02017f', '7f'],
      ['80', '02020080', '80'],
      ['ff', '020200ff', 'ff'],
      ['0080', '02020080', '80'],
      ['000001', '020101', '01'],
      ['00ff00', '020300ff00', 'ff00'],
      ['7fffffffffffffffffffffffffffffff', '02107fffffffffffffffffffffffffffffff', '7fffffffffffffffffffffffffffffff'],
      ['ffffffffffffffffffffffffffffffff', '021100ffffffffffffffffffffffffffffffff', 'ffffffffffffffffffffffffffffffff'],
    ] as const) {
      const got = der.unsignedInteger(fromHex(input));
      assert.equal(hex(got.der), want, `integer ${input}`);
      assert.equal(hex(got.magnitude), magnitude, `magnitude of ${input}`);
    }
  });

  test('unsignedInteger of random 16-byte serials reads back as the same number (openssl asn1parse)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const { der: el, magnitude } = der.unsignedInteger(bytes);
        const want = BigInt(`0x${hex(bytes) || '0'}`);
        assert.equal(BigInt(`0x${hex(magnitude)}`), want);
        const body = der.contents(el);
        assert.ok(body.length === 1 || !(body[0] === 0 && body[1]! < 0x80), 'minimal encoding');
        assert.ok(body[0]! < 0x80, 'positive');
        assert.equal(BigInt(`0x${hex(body)}`), want);
      }),
      { numRuns: 500 },
    );
    assert.match(asn1parse(der.unsignedInteger(fromHex('00ff0102')).der), /prim: INTEGER\s+:FF0102/);
  });

  test('smallInteger writes the X.509 version and refuses what it cannot', () => {
    assert.equal(hex(der.smallInteger(0)), '020100');
    assert.equal(hex(der.smallInteger(2)), '020102');
    assert.equal(hex(der.smallInteger(128)), '02020080');
    assert.equal(hex(der.smallInteger(256)), '02020100');
    assert.throws(() => der.smallInteger(-1), RangeError);
    assert.throws(() => der.smallInteger(2 ** 31), RangeError);
  });
});

describe('OBJECT IDENTIFIER', () => {
  test('known OIDs encode as openssl writes them', () => {
    for (const [dotted, want] of [
      ['2.5.29.17', '0603551d11'],
      ['2.5.29.35', '0603551d23'],
      ['1.2.840.10045.4.3.2', '06082a8648ce3d040302'],
      ['1.2.840.10045.4.3.3', '06082a8648ce3d040303'],
      ['1.2.840.113549.1.1.11', '06092a864886f70d01010b'],
      ['1.3.6.1.5.5.7.3.1', '06082b06010505070301'],
      ['2.999.3', '0603883703'], // X.690 §8.19.5's example: first subidentifier 1079
      ['0.0', '060100'],
      ['1.2.16384', '0604 2a 81 80 00'.replace(/ /g, '')],
    ] as const) {
      assert.equal(hex(der.oid(dotted)), want, dotted);
    }
    assert.match(asn1parse(der.oid('1.2.840.10045.4.3.2')), /OBJECT\s+:ecdsa-with-SHA256/);
  });

  test('malformed OIDs are refused', () => {
    for (const bad of ['', '1', '3.1', '1.40', '1.2.', '1..2', '01.2', '1.2.a', `1.2.${2 ** 60}`]) {
      assert.throws(() => der.oid(bad), RangeError, bad);
    }
  });

  test('random OIDs encode as @peculiar/x509 encodes them (ExtendedKeyUsage)', () => {
    const oidArb = fc
      .tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(fc.integer({ min: 0, max: 2 ** 32 }), { maxLength: 8 }))
      .map(([a, b, rest]) => [a, b, ...rest].join('.'));
    fc.assert(
      fc.property(fc.array(oidArb, { minLength: 1, maxLength: 5 }), (oids) => {
        const ours = der.sequence(der.oid('2.5.29.37'), der.octetString(der.sequence(...oids.map(der.oid))));
        assert.equal(hex(ours), hex(new Uint8Array(new x509.ExtendedKeyUsageExtension(oids).rawData)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('strings, BOOLEAN, NULL, BIT STRING', () => {
  test('BOOLEAN and NULL', () => {
    assert.equal(hex(der.boolean(true)), '0101ff');
    assert.equal(hex(der.boolean(false)), '010100');
    assert.equal(hex(der.nullValue()), '0500');
  });

  test('OCTET STRING and BIT STRING', () => {
    assert.equal(hex(der.octetString(fromHex('0102'))), '04020102');
    assert.equal(hex(der.bitString(fromHex('0102'))), '0303000102');
    assert.equal(hex(der.bitString(Buffer.alloc(0))), '030100');
    assert.equal(hex(der.bitString(fromHex('a0'), 5)), '030205a0');
    assert.throws(() => der.bitString(fromHex('a1'), 5), RangeError, 'unused bits must be zero');
    assert.throws(() => der.bitString(fromHex('a0'), 8), RangeError);
  });

  test('namedBits ends at the highest bit set, as DER requires (RFC 5280 KeyUsage)', () => {
    assert.equal(hex(der.namedBits([0, 2])), '030205a0'); // digitalSignature, keyEncipherment
    assert.equal(hex(der.namedBits([5, 6])), '03020106'); // keyCertSign, cRLSign
    assert.equal(hex(der.namedBits([0])), '03020780');
    assert.equal(hex(der.namedBits([8])), '0303070080'); // decipherOnly
    assert.equal(hex(der.namedBits([])), '030100');
  });

  test('every KeyUsage combination is what @peculiar/x509 writes', () => {
    for (let flags = 1; flags < 512; flags++) {
      const bits = [...Array(9).keys()].filter((b) => flags & (1 << b));
      for (const critical of [true, false]) {
        const ours = der.sequence(der.oid('2.5.29.15'), ...(critical ? [der.boolean(true)] : []), der.octetString(der.namedBits(bits)));
        assert.equal(hex(ours), hex(new Uint8Array(new x509.KeyUsagesExtension(flags, critical).rawData)), `flags ${flags}`);
      }
    }
  });

  test('context tags: [n] EXPLICIT is constructed, [n] IMPLICIT over a primitive is not', () => {
    assert.equal(hex(der.contextExplicit(0, der.smallInteger(2))), 'a003020102');
    assert.equal(hex(der.contextExplicit(3, der.sequence())), 'a3023000');
    assert.equal(hex(der.contextPrimitive(0, fromHex('0102'))), '80020102');
    assert.equal(hex(der.contextIa5(6, 'spiffe://a')), '860a7370696666653a2f2f61');
    assert.throws(() => der.contextIa5(6, 'spiffe://é'), RangeError, 'IA5 is ASCII only');
    assert.throws(() => der.contextExplicit(31), RangeError);
  });

  test('URI SANs of every length are what @peculiar/x509 writes (lengths cross 127/128 and 255/256)', () => {
    const uriArb = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-./:'), minLength: 0, maxLength: 400 }).map((s) => `spiffe://${s}`);
    fc.assert(
      fc.property(uriArb, (uri) => {
        const ours = der.sequence(der.oid('2.5.29.17'), der.boolean(true), der.octetString(der.sequence(der.contextIa5(6, uri))));
        assert.equal(hex(ours), hex(new Uint8Array(new x509.SubjectAlternativeNameExtension([{ type: 'url', value: uri }], true).rawData)));
      }),
      { numRuns: 300 },
    );
  });

  test('authority key identifiers and CA:FALSE are what @peculiar/x509 writes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), (keyId) => {
        const ours = der.sequence(der.oid('2.5.29.35'), der.octetString(der.sequence(der.contextPrimitive(0, keyId))));
        assert.equal(hex(ours), hex(new Uint8Array(new x509.AuthorityKeyIdentifierExtension(hex(keyId)).rawData)));
      }),
      { numRuns: 200 },
    );
    const bc = der.sequence(der.oid('2.5.29.19'), der.boolean(true), der.octetString(der.sequence()));
    assert.equal(hex(bc), hex(new Uint8Array(new x509.BasicConstraintsExtension(false, undefined, true).rawData)));
  });
});

describe('time', () => {
  test('UTCTime from 1950 to 2049, GeneralizedTime outside, whole seconds, always Z', () => {
    for (const [iso, want] of [
      ['2026-11-27T02:30:05.000Z', '170d3236313132373032333030355a'],
      ['2026-11-27T02:30:05.999Z', '170d3236313132373032333030355a'], // milliseconds dropped, never rounded up
      ['2049-12-31T23:59:59.500Z', '170d3439313233313233353935395a'],
      ['2050-01-01T00:00:00.000Z', '180f32303530303130313030303030305a'],
      ['1950-01-01T00:00:00.000Z', '170d3530303130313030303030305a'],
      ['1949-12-31T23:59:59.000Z', '180f31393439313233313233353935395a'],
      ['2036-01-01T00:00:00Z', '170d3336303130313030303030305a'],
    ] as const) {
      assert.equal(hex(der.time(new Date(iso))), want, iso);
    }
    assert.match(asn1parse(der.time(new Date('2050-06-01T12:00:00Z'))), /GENERALIZEDTIME\s+:20500601120000Z/);
    assert.match(asn1parse(der.time(new Date('2049-06-01T12:00:00Z'))), /UTCTIME\s+:490601120000Z/);
    assert.throws(() => der.time(new Date(Number.NaN)), RangeError);
    assert.throws(() => der.time(new Date('+010000-01-01T00:00:00Z')), RangeError);
  });

  test('reads back as the same instant, rounded down to the second', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1951-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }), (d) => {
        const el = der.time(d);
        const s = der.contents(el).toString('latin1');
        const full = el[0] === der.TAG.UTC_TIME ? `${Number(s.slice(0, 2)) >= 50 ? '19' : '20'}${s}` : s;
        const m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(full);
        assert.ok(m, s);
        const back = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
        assert.equal(back, der.wholeSeconds(d).getTime());
        assert.equal(el[0], d.getUTCFullYear() <= 2049 ? der.TAG.UTC_TIME : der.TAG.GENERALIZED_TIME);
      }),
      { numRuns: 500 },
    );
  });
});

describe('reading', () => {
  test('children splits a SEQUENCE into complete elements', () => {
    const seq = der.sequence(der.smallInteger(0), der.sequence(), der.octetString(Buffer.alloc(200, 7)));
    const parts = der.children(seq);
    assert.deepEqual(parts.map(hex), [hex(der.smallInteger(0)), '3000', hex(der.octetString(Buffer.alloc(200, 7)))]);
    assert.deepEqual(der.children(der.sequence()), []);
  });

  test('refuses what is not DER: indefinite, padded or long-form-short lengths, overruns, trailing bytes, wrong tags', () => {
    const bad: [string, string][] = [
      ['', 'empty'],
      ['30', 'no length'],
      ['3080020100 0000', 'indefinite length'],
      ['308103020100', 'long form for a length below 128'],
      ['30820003020100', 'length with a leading zero'],
      ['3003020100 00', 'trailing bytes'],
      ['3004020100', 'contents shorter than the length'],
      ['3003020200', 'child overruns its parent'],
      ['3085ffffffffff', 'length of 5 octets'],
      ['0400', 'not a SEQUENCE'],
      ['3f00', 'multi-byte tag'],
    ];
    for (const [h, why] of bad) assert.throws(() => der.children(fromHex(h)), Error, why);
    assert.throws(() => der.contents(fromHex('040100 00')), Error, 'trailing bytes after an element');
  });

  test('a random walk over what the writer makes always reads back', () => {
    const leaf = fc.uint8Array({ maxLength: 300 }).map((b) => der.octetString(b));
    const tree = fc.letrec<{ node: Buffer }>((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node'), { maxLength: 5 }).map((kids) => der.sequence(...kids))),
    })).node;
    fc.assert(
      fc.property(fc.array(tree, { maxLength: 6 }), (kids) => {
        const seq = der.sequence(...kids);
        assert.deepEqual(der.children(seq).map(hex), kids.map(hex));
      }),
      { numRuns: 200 },
    );
  });
});
