// Self-check of the bench's h2load parsers: node --test bench/parse-h2load.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import { parseH2load, parseH2loadLog, percentile, h2RunFailure, defineTargets, defaultTlsH2Duration } from './bench.mjs';

// All samples are captured from h2load (nghttp2 1.52.0, Debian 12) as the bench runs it:
// -t1 -c64 -m10 -D <s> --log-file=..., plus --npn-list=h2 and the TLS 1.3 suite list over TLS.

// Against nginx 1.22 over TLS with ALPN h2 ("progress:" lines left out).
const OK_TLS = `starting benchmark...
spawning thread #0: 64 total client(s). Timing-based test with 0s of warm-up time and 2s of main duration for measurements.
Warm-up started for thread #0.
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
TLS Protocol: TLSv1.3
Cipher: TLS_AES_256_GCM_SHA384
Server Temp Key: X25519 253 bits
Application protocol: h2
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.01s, 81290.00 req/s, 6.05MB/s
requests: 162580 total, 163220 started, 162580 done, 162580 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 162580 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 12.10MB (12684376) total, 7.60MB (7966420) headers (space savings 50.51%), 1.71MB (1788380) data
                     min         max         mean         sd        +/- sd
time for request:     1.20ms     16.56ms      6.04ms      1.88ms    70.65%
time for connect:    12.63ms     41.76ms     27.03ms      8.49ms    57.81%
time to 1st byte:    43.32ms     53.29ms     48.66ms      3.03ms    53.13%
req/s           :    1253.29     1283.93     1268.23        6.91    76.56%
`;

// Against nginx 1.22 in cleartext (h2c, prior knowledge), complete.
const OK_H2C = `starting benchmark...
spawning thread #0: 64 total client(s). Timing-based test with 0s of warm-up time and 2s of main duration for measurements.
Warm-up started for thread #0.
progress: 9% of clients started
progress: 18% of clients started
progress: 28% of clients started
progress: 37% of clients started
progress: 46% of clients started
progress: 56% of clients started
progress: 65% of clients started
progress: 75% of clients started
progress: 84% of clients started
progress: 93% of clients started
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
Application protocol: h2c
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.01s, 91815.00 req/s, 6.83MB/s
requests: 183630 total, 184270 started, 183630 done, 183630 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 183630 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 13.66MB (14326276) total, 8.58MB (8997870) headers (space savings 50.51%), 1.93MB (2019930) data
                     min         max         mean         sd        +/- sd
time for request:       90us     17.31ms      6.79ms       954us    92.83%
time for connect:      162us      4.14ms      2.13ms      1.18ms    59.38%
time to 1st byte:     6.43ms     12.48ms      9.10ms      1.79ms    59.38%
req/s           :    1428.74     1439.84     1433.80        3.95    42.19%
`;

// -c4 -m2 -D 1 against nginx with three URIs in turn: / (200), /missing (404) and /reset (nginx's
// "return 444", which resets the HTTP/2 stream). "failed" = the 404s + the resets ("errored").
const MIXED = `starting benchmark...
spawning thread #0: 4 total client(s). Timing-based test with 0s of warm-up time and 1s of main duration for measurements.
Warm-up started for thread #0.
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
TLS Protocol: TLSv1.3
Cipher: TLS_AES_256_GCM_SHA384
Server Temp Key: X25519 253 bits
Application protocol: h2
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 1.00s, 36814.00 req/s, 5.48MB/s
requests: 55218 total, 55226 started, 55218 done, 18408 succeeded, 36810 failed, 18404 errored, 0 timeout
status codes: 18408 2xx, 0 3xx, 18406 4xx, 0 5xx
traffic: 5.48MB (5742998) total, 1.74MB (1822292) headers (space savings 50.00%), 2.88MB (3018606) data
                     min         max         mean         sd        +/- sd
time for request:       45us      5.88ms        81us       116us    99.44%
time for connect:     2.92ms      4.66ms      3.83ms       749us    50.00%
time to 1st byte:     5.13ms      5.36ms      5.28ms       103us    75.00%
req/s           :    9184.81     9213.13     9199.34       12.26    50.00%
`;

// Against meshgate's TLS listener (gateway-proxy-ssl) before it speaks HTTP/2: it offers only
// http/1.1 in ALPN, h2load offers only h2, the handshake fails and no request is ever made.
const MESHGATE_TLS_NO_H2 = `starting benchmark...
spawning thread #0: 64 total client(s). Timing-based test with 0s of warm-up time and 2s of main duration for measurements.
Warm-up started for thread #0.
progress: 9% of clients started
progress: 18% of clients started
progress: 28% of clients started
progress: 37% of clients started
progress: 46% of clients started
progress: 56% of clients started
progress: 65% of clients started
progress: 75% of clients started
progress: 84% of clients started
progress: 93% of clients started
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.02s, 0.00 req/s, 0B/s
requests: 0 total, 0 started, 0 done, 0 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 0B (0) total, 0B (0) headers (space savings 0.00%), 0B (0) data
                     min         max         mean         sd        +/- sd
time for request:        0us         0us         0us         0us     0.00%
time for connect:        0us         0us         0us         0us     0.00%
time to 1st byte:        0us         0us         0us         0us     0.00%
req/s           :       0.00        0.00        0.00        0.00   100.00%
`;

// Against meshgate's plaintext listener before it speaks h2c: h2load sends the preface and its
// 640 requests, prints "h2c" (what it assumed), and no response ever comes back.
const MESHGATE_NO_H2C = `starting benchmark...
spawning thread #0: 64 total client(s). Timing-based test with 0s of warm-up time and 2s of main duration for measurements.
Warm-up started for thread #0.
progress: 9% of clients started
progress: 18% of clients started
progress: 28% of clients started
progress: 37% of clients started
progress: 46% of clients started
progress: 56% of clients started
progress: 65% of clients started
progress: 75% of clients started
progress: 84% of clients started
progress: 93% of clients started
Warm-up phase is over for thread #0.
Main benchmark duration is started for thread #0.
Application protocol: h2c
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.01s, 0.00 req/s, 3.25KB/s
requests: 0 total, 640 started, 0 done, 0 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 6.50KB (6656) total, 0B (0) headers (space savings 0.00%), 0B (0) data
                     min         max         mean         sd        +/- sd
time for request:        0us         0us         0us         0us     0.00%
time for connect:      185us      6.61ms      3.54ms      1.76ms    67.19%
time to 1st byte:        0us         0us         0us         0us     0.00%
req/s           :       0.00        0.00        0.00        0.00   100.00%
`;

// The first lines of the --log-file of the MIXED run: start (us since epoch), status (-1: the
// stream failed), duration (us).
const MIXED_LOG = `1795745183259338	200	329
1795745183259339	404	477
1795745183259450	200	383
1795745183259450	404	393
1795745183259626	200	242
1795745183259626	404	252
1795745183259513	200	382
1795745183259514	404	392
1795745183259966	-1	158
1795745183259966	200	188
1795745183259952	-1	213
1795745183259952	200	223
`;

test('parses a clean HTTP/2-over-TLS run', () => {
  const r = parseH2load(OK_TLS);
  assert.equal(r.requestsPerSec, 81290);
  assert.equal(r.elapsedS, 2.01);
  assert.equal(r.requests, 162580);
  assert.equal(r.started, 163220);
  assert.equal(r.succeeded, 162580);
  assert.equal(r.non2xx, 0);
  assert.equal(r.errorsTotal, 0);
  assert.equal(r.protocol, 'h2');
  assert.equal(r.tlsProtocol, 'TLSv1.3');
  assert.equal(r.cipher, 'TLS_AES_256_GCM_SHA384');
  assert.equal(r.meanMs, 6.04);
  assert.equal(h2RunFailure(r, 'h2'), null);
});

test('parses a clean h2c run (microsecond figures, no TLS lines)', () => {
  const r = parseH2load(OK_H2C);
  assert.equal(r.requestsPerSec, 91815);
  assert.equal(r.protocol, 'h2c');
  assert.equal(r.tlsProtocol, null);
  assert.equal(r.cipher, null);
  assert.equal(r.meanMs, 6.79);
  assert.equal(h2RunFailure(r, 'h2c'), null);
  // the right protocol is part of the check: this run does not count as an h2-over-TLS one
  assert.match(h2RunFailure(r, 'h2'), /no h2: h2load negotiated "h2c"/);
});

test('splits HTTP-level failures from errored streams', () => {
  const r = parseH2load(MIXED);
  assert.equal(r.requests, 55218);
  assert.equal(r.succeeded, 18408);
  assert.equal(r.failed, 36810);
  assert.deepEqual(r.status, { '2xx': 18408, '3xx': 0, '4xx': 18406, '5xx': 0 });
  assert.equal(r.non2xx, 18406);
  assert.equal(r.errored, 18404);
  assert.equal(r.errorsTotal, 18404); // the resets; the 404s are non-2xx
  assert.equal(r.meanMs, 0.081);
  // some requests succeeded: the run counts, and its errors show in the table
  assert.equal(h2RunFailure(r, 'h2'), null);
});

test('a TLS listener without h2 in ALPN fails the run with the reason', () => {
  const r = parseH2load(MESHGATE_TLS_NO_H2);
  assert.equal(r.requestsPerSec, 0);
  assert.equal(r.protocol, null);
  assert.equal(r.requests, 0);
  assert.equal(r.meanMs, null);
  assert.equal(
    h2RunFailure(r, 'h2'),
    'no h2: h2load negotiated no application protocol (TLS handshake or ALPN h2 failed)',
  );
});

test('a plaintext listener without h2c fails the run although h2load printed "h2c"', () => {
  const r = parseH2load(MESHGATE_NO_H2C);
  assert.equal(r.protocol, 'h2c');
  assert.equal(r.started, 640);
  assert.equal(r.succeeded, 0);
  assert.equal(
    h2RunFailure(r, 'h2c'),
    'no h2c responses: 0 of 640 requests started succeeded (0 done, 0 errored, 0 timeout)',
  );
});

test('fails loudly on output without its summary', () => {
  assert.throws(() => parseH2load('invalid URI: nowhere\n'), /finished in/);
  assert.throws(() => parseH2load('finished in 2.01s, 1.00 req/s, 0B/s\n'), /requests:/);
});

test('latency percentiles come from the per-request log, failed streams apart', () => {
  const r = parseH2loadLog(MIXED_LOG);
  assert.equal(r.responses, 10); // 200s and 404s: every response, as wrk counts them
  assert.equal(r.failedStreams, 2);
  // sorted: 188 223 242 252 329 382 383 392 393 477 (us)
  assert.equal(r.p50Ms, 0.329);
  assert.equal(r.p99Ms, 0.477);
  assert.deepEqual(parseH2loadLog(''), { responses: 0, failedStreams: 0, p50Ms: null, p99Ms: null });
});

test('nearest-rank percentile', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 50), 50);
  assert.equal(percentile(xs, 99), 99);
  assert.equal(percentile(xs, 100), 100);
  assert.equal(percentile([7], 99), 7);
  assert.equal(percentile([], 50), null);
});

test('--only takes targets, families and groups; TLS rows of a proxy share its server', () => {
  const ids = (only) => defineTargets(only, true).targets.map((t) => t.id);
  assert.equal(ids(null).length, 28); // 18 + direct and 3 -latency rows + 4 mTLS rows (parse-hey.test.mjs) + node-undici's 2
  assert.deepEqual(ids(['h2']), ['nginx-h2', 'haproxy-h2', 'meshgate-h2', 'nginx-h2c', 'haproxy-h2c', 'meshgate-h2c']);
  assert.deepEqual(ids(['tls']), [
    'nginx-tls', 'haproxy-tls', 'meshgate-tls',
    'nginx-tls-handshake', 'haproxy-tls-handshake', 'meshgate-tls-handshake',
  ]);
  assert.deepEqual(ids(['plain']), ['nginx', 'haproxy', 'meshgate', 'node-undici', 'nginx-all', 'haproxy-all', 'meshgate-all']);
  // the reference proxy (Node's floor) has a plaintext row and a latency row, on one server
  assert.deepEqual(ids(['node-undici']), ['node-undici', 'direct', 'node-undici-latency']);
  assert.equal(defineTargets(['node-undici'], true).servers.filter((s) => s.family === 'node-undici').length, 1);
  assert.deepEqual(ids(['meshgate']), [
    'meshgate', 'meshgate-all', 'meshgate-tls', 'meshgate-tls-handshake', 'meshgate-h2', 'meshgate-h2c',
    'direct', 'meshgate-latency', 'meshgate-mtls', 'meshgate-mtls-handshake', // direct: the latency row's baseline
  ]);
  assert.deepEqual(ids(['meshgate-h2', 'nginx-h2']), ['nginx-h2', 'meshgate-h2']);

  const { targets, servers } = defineTargets(['meshgate'], true);
  assert.deepEqual(servers.map((s) => [s.id, s.listener]), [
    ['meshgate', 'http'], ['meshgate-all', 'http'], ['meshgate-tls', 'tls'], ['meshgate-h2c', 'h2c'],
    ['direct', 'http'], ['meshgate-mtls', 'http'],
  ]);
  const byId = new Map(targets.map((t) => [t.id, t]));
  assert.equal(byId.get('meshgate-h2').server, byId.get('meshgate-tls').server);
  assert.equal(byId.get('meshgate-tls-handshake').server, byId.get('meshgate-tls').server);
  assert.equal(byId.get('meshgate-h2').load, 'h2load');
  assert.equal(byId.get('meshgate-tls-handshake').load, 'wrk-close');
});

test('TLS and HTTP/2 rows run half as long by default', () => {
  assert.equal(defaultTlsH2Duration(10), 5);
  assert.equal(defaultTlsH2Duration(3), 3); // --quick
  assert.equal(defaultTlsH2Duration(20), 10);
  assert.equal(defaultTlsH2Duration(1), 1);
});
