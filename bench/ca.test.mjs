// Self-checks of bench/ca.mjs: the hand-written gRPC framing, a very short runCaBench (both
// paths, against the built dist/ and `meshgate ca serve`), and the standalone command's table
// and flag errors. Run with `node --test bench/` after `npm run build`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { certChainOf, grpcFrame, percentile, runCaBench } from './ca.mjs';

const CA_BENCH = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ca.mjs');

describe('gRPC framing', () => {
  test('a request frame holds IstioCertificateRequest{csr}; a response frame gives cert_chain back', () => {
    const csr = 'x'.repeat(300);
    const frame = grpcFrame(csr);
    assert.equal(frame[0], 0, 'not compressed');
    assert.equal(frame.readUInt32BE(1), frame.length - 5);
    // field 1, wire type 2: tag 0x0a, then the varint length 300 = ac 02
    assert.deepEqual([...frame.subarray(5, 8)], [0x0a, 0xac, 0x02]);
    assert.equal(frame.subarray(8).toString(), csr);
    // A response with two strings is read back (same encoding as the request's field 1).
    const a = grpcFrame('leaf').subarray(5);
    const b = grpcFrame('r'.repeat(200)).subarray(5);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(a.length + b.length, 1);
    assert.deepEqual(certChainOf(Buffer.concat([head, a, b])), ['leaf', 'r'.repeat(200)]);
    assert.throws(() => certChainOf(Buffer.from([1, 0, 0, 0, 0])), /bad gRPC frame/);
  });

  test('percentile is nearest-rank', () => {
    const v = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(percentile(v, 50), 5);
    assert.equal(percentile(v, 99), 10);
    assert.equal(percentile(Float64Array.from([7]), 99), 7);
    assert.equal(percentile(new Float64Array(0), 50), null);
  });
});

describe('runCaBench', () => {
  test('a short run measures both paths without errors', { timeout: 120_000 }, async () => {
    const r = await runCaBench({ durationMs: 300, warmupMs: 100, pool: 4, concurrency: 2, connections: 1 });
    assert.ok(r.certsPerSecond > 0 && r.certs > 0, JSON.stringify(r));
    assert.ok(r.csrsPerSecond > 0);
    assert.ok(r.p50Ms > 0 && r.p50Ms <= r.p99Ms);
    assert.ok(r.grpc, 'the gRPC path ran');
    assert.equal(r.grpc.errors, 0, r.grpc.firstError);
    assert.ok(r.grpc.certs > 0 && r.grpc.certsPerSecond > 0);
    assert.ok(r.grpc.p50Ms <= r.grpc.p99Ms);
  });
});

describe('node bench/ca.mjs', () => {
  test('prints the table', { timeout: 120_000 }, () => {
    const r = spawnSync(process.execPath, [CA_BENCH, '--duration', '0.2', '--warmup', '0', '--pool', '2', '--no-grpc'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^path\s+per second\s+p50 ms\s+p99 ms/m);
    assert.match(r.stdout, /^signing path \(CertificateAuthority\.issue, 1 at a time, ecdsa-p256 CSRs\)\s+[\d,]+\s+[\d.]+/m);
    assert.doesNotMatch(r.stdout, /gRPC/);
  });

  test('a bad flag exits 2', () => {
    const r = spawnSync(process.execPath, [CA_BENCH, '--duration', 'soon'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--duration must be a number/);
  });
});
