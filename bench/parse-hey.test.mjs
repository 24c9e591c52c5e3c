// Self-check of the bench's hey and haproxy-stats parsers: node --test bench/parse-hey.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import { parseHey, parseHaproxyInfo, latencyAdded, defineTargets } from './bench.mjs';

// All hey samples are captured from hey 0.1.4 (Debian 12 package 0.1.4-2+b4) run as the bench
// runs it: -z <s> -c <workers> -q <per-worker rate> -cpus 1; hey separates label and value with
// tabs (kept as \t here).

// hey -z 5s -c 10 -q 100 against nginx 1.22 answering a 1,024-byte body (the bench's direct row).
const OK_RUN = `
Summary:
  Total:\t5.0048 secs
  Slowest:\t0.0064 secs
  Fastest:\t0.0001 secs
  Average:\t0.0007 secs
  Requests/sec:\t997.0489
  
  Total data:\t5109760 bytes
  Size/request:\t1024 bytes

Response time histogram:
  0.000 [1]\t|
  0.001 [3301]\t|■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■
  0.001 [1414]\t|■■■■■■■■■■■■■■■■■
  0.002 [192]\t|■■
  0.003 [36]\t|
  0.003 [26]\t|
  0.004 [11]\t|
  0.004 [2]\t|
  0.005 [2]\t|
  0.006 [3]\t|
  0.006 [2]\t|


Latency distribution:
  10% in 0.0003 secs
  25% in 0.0004 secs
  50% in 0.0006 secs
  75% in 0.0008 secs
  90% in 0.0011 secs
  95% in 0.0014 secs
  99% in 0.0025 secs

Details (average, fastest, slowest):
  DNS+dialup:\t0.0000 secs, 0.0001 secs, 0.0064 secs
  DNS-lookup:\t0.0000 secs, 0.0000 secs, 0.0000 secs
  req write:\t0.0000 secs, 0.0000 secs, 0.0030 secs
  resp wait:\t0.0006 secs, 0.0000 secs, 0.0061 secs
  resp read:\t0.0000 secs, 0.0000 secs, 0.0025 secs

Status code distribution:
  [200]\t4990 responses



`;

// hey -z 1s -c 2 -q 5 against a port where nothing listens: every request fails, no response.
const REFUSED = `
Summary:
  Total:\t1.0156 secs
  Slowest:\t0.0000 secs
  Fastest:\t0.0000 secs
  Average:\t NaN secs
  Requests/sec:\t9.8465
  

Response time histogram:


Latency distribution:

Details (average, fastest, slowest):
  DNS+dialup:\t NaN secs, 0.0000 secs, 0.0000 secs
  DNS-lookup:\t NaN secs, 0.0000 secs, 0.0000 secs
  req write:\t NaN secs, 0.0000 secs, 0.0000 secs
  resp wait:\t NaN secs, 0.0000 secs, 0.0000 secs
  resp read:\t NaN secs, 0.0000 secs, 0.0000 secs

Status code distribution:

Error distribution:
  [10]\tGet "http://127.0.0.1:1/": dial tcp 127.0.0.1:1: connect: connection refused

`;

// hey -z 2s -c 10 -q 100 against a Node server answering every third request with 503 (and
// dropping every 50th connection, which Go's client retries without counting an error).
const MIXED = `
Summary:
  Total:\t2.0066 secs
  Slowest:\t0.0244 secs
  Fastest:\t0.0002 secs
  Average:\t0.0025 secs
  Requests/sec:\t989.2411
  

Response time histogram:
  0.000 [1]\t|
  0.003 [1374]\t|■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■
  0.005 [505]\t|■■■■■■■■■■■■■■■
  0.008 [53]\t|■■
  0.010 [25]\t|■
  0.012 [11]\t|
  0.015 [9]\t|
  0.017 [2]\t|
  0.020 [1]\t|
  0.022 [1]\t|
  0.024 [3]\t|


Latency distribution:
  10% in 0.0009 secs
  25% in 0.0014 secs
  50% in 0.0020 secs
  75% in 0.0030 secs
  90% in 0.0042 secs
  95% in 0.0052 secs
  99% in 0.0114 secs

Details (average, fastest, slowest):
  DNS+dialup:\t0.0000 secs, 0.0002 secs, 0.0244 secs
  DNS-lookup:\t0.0000 secs, 0.0000 secs, 0.0000 secs
  req write:\t0.0000 secs, 0.0000 secs, 0.0033 secs
  resp wait:\t0.0023 secs, 0.0002 secs, 0.0233 secs
  resp read:\t0.0000 secs, 0.0000 secs, 0.0022 secs

Status code distribution:
  [200]\t1323 responses
  [503]\t662 responses



`;

// haproxy 2.6.12's \`show info\` on its stats socket, after three mTLS connections.
const HAPROXY_INFO = `Name: HAProxy
Version: 2.6.12-1+deb12u4
Release_date: 2026/10/17
Nbthread: 1
Nbproc: 1
Process_num: 1
Pid: 1086
Uptime: 0d 0h00m01s
Uptime_sec: 1
Memmax_MB: 0
PoolAlloc_MB: 0
PoolUsed_MB: 0
PoolFailed: 0
Ulimit-n: 8218
Maxsock: 8218
Maxconn: 4096
Hard_maxconn: 4096
CurrConns: 0
CumConns: 4
CumReq: 4
MaxSslConns: 0
CurrSslConns: 0
CumSslConns: 3
Maxpipes: 0
PipesUsed: 0
PipesFree: 0
ConnRate: 3
ConnRateLimit: 0
MaxConnRate: 3
SessRate: 3
SessRateLimit: 0
MaxSessRate: 3
SslRate: 3
SslRateLimit: 0
MaxSslRate: 3
SslFrontendKeyRate: 3
SslFrontendMaxKeyRate: 3
SslFrontendSessionReuse_pct: 0
SslBackendKeyRate: 0
SslBackendMaxKeyRate: 0
SslCacheLookups: 0
SslCacheMisses: 0
CompressBpsIn: 0
CompressBpsOut: 0
CompressBpsRateLim: 0
Tasks: 11
Run_queue: 0
Idle_pct: 100
node: vm
Stopping: 0
Jobs: 4
Unstoppable Jobs: 0
Listeners: 3
ActivePeers: 0
ConnectedPeers: 0
DroppedLogs: 0
BusyPolling: 0
FailedResolutions: 0
TotalBytesOut: 8350
TotalSplicdedBytesOut: 0
BytesOutRate: 8448
DebugCommandsIssued: 0
CumRecvLogs: 0
Build info: 2.6.12-1+deb12u4
Memmax_bytes: 0
PoolAlloc_bytes: 71112
PoolUsed_bytes: 71112
Start_time_sec: 1795747159
Tainted: 0

`;

test('parses a clean fixed-rate run', () => {
  const r = parseHey(OK_RUN);
  assert.equal(r.elapsedS, 5.0048);
  assert.equal(r.requests, 4990);
  assert.equal(Math.round(r.requestsPerSec), 997); // responses / Total
  assert.equal(r.heyRequestsPerSec, 997.0489);
  assert.equal(r.p50Ms, 0.6);
  assert.equal(r.p99Ms, 2.5);
  assert.deepEqual(r.status, { 200: 4990 });
  assert.equal(r.non2xx, 0);
  assert.equal(r.errorsTotal, 0);
});

test('a run without responses: rate 0 (not hey\'s Requests/sec, which counts failures), errors counted', () => {
  const r = parseHey(REFUSED);
  assert.equal(r.heyRequestsPerSec, 9.8465);
  assert.equal(r.requestsPerSec, 0);
  assert.equal(r.requests, 0);
  assert.equal(r.p50Ms, null);
  assert.equal(r.p99Ms, null);
  assert.equal(r.errorsTotal, 10);
  assert.match(r.errors[0].error, /connect: connection refused$/);
});

test('non-2xx responses count as responses and as non-2xx', () => {
  const r = parseHey(MIXED);
  assert.deepEqual(r.status, { 200: 1323, 503: 662 });
  assert.equal(r.requests, 1985);
  assert.equal(r.non2xx, 662);
  assert.equal(r.errorsTotal, 0);
  assert.equal(r.p50Ms, 2);
  assert.equal(r.p99Ms, 11.4);
});

test('fails loudly on output without its summary', () => {
  assert.throws(() => parseHey('Usage: hey [options...] <url>\n'), /Total:/);
});

test('haproxy show info: counters as numbers, text as text', () => {
  const info = parseHaproxyInfo(HAPROXY_INFO);
  assert.equal(info.CumSslConns, 3);
  assert.equal(info.SslFrontendSessionReuse_pct, 0);
  assert.equal(info.Version, '2.6.12-1+deb12u4');
  assert.equal(info['Ulimit-n'], 8218);
  assert.equal(info['Unstoppable Jobs'], 0);
});

test('latency added: per-round differences with direct, median over rounds, target 0.5 ms', () => {
  const runs = (p99s) => p99s.map((p99Ms, i) => ({ round: i + 1, p50Ms: 0.5, p99Ms }));
  const direct = runs([2.5, 2.0, 3.1]);
  const a = latencyAdded(runs([2.9, 2.4, 3.6]), direct); // added 0.4, 0.4, 0.5
  assert.equal(a.p99AddedMs, 0.4);
  assert.equal(a.p50AddedMs, 0);
  assert.equal(a.targetMet, true);
  const b = latencyAdded(runs([3.0, 2.6, 3.6]), direct); // 0.5, 0.6, 0.5: 0.5 is still within
  assert.equal(b.p99AddedMs, 0.5);
  assert.equal(b.targetMet, true);
  const c = latencyAdded(runs([3.1, 2.6, 3.7]), direct); // 0.6, 0.6, 0.6
  assert.equal(c.targetMet, false);
  // a round direct has no figure for does not count
  assert.equal(latencyAdded([{ round: 4, p50Ms: 1, p99Ms: 9 }], direct).p99AddedMs, null);
});

test('--only latency and mtls bring their baselines; rows share the servers they should', () => {
  const ids = (only) => defineTargets(only, true).targets.map((t) => t.id);
  assert.deepEqual(ids(['latency']), ['direct', 'nginx-latency', 'haproxy-latency', 'meshgate-latency', 'node-undici-latency']);
  assert.deepEqual(ids(['meshgate-latency']), ['direct', 'meshgate-latency']);
  assert.deepEqual(ids(['mtls']), ['nginx', 'meshgate', 'nginx-mtls', 'meshgate-mtls', 'nginx-mtls-handshake', 'meshgate-mtls-handshake']);
  assert.deepEqual(ids(['meshgate-mtls-handshake']), ['meshgate-mtls-handshake']);
  const { targets, servers } = defineTargets(['latency', 'mtls'], true);
  const byId = new Map(targets.map((t) => [t.id, t]));
  // a latency row runs on the proxy of the plaintext row, on the 1 kB path, driven by hey
  assert.equal(byId.get('meshgate-latency').server, byId.get('meshgate').server);
  assert.equal(byId.get('meshgate-latency').path, '/1k');
  assert.equal(byId.get('meshgate-latency').load, 'hey');
  assert.equal(byId.get('direct').server.id, 'direct');
  // both mTLS rows of a proxy share its mTLS-upstream process; the handshake row has its own path
  assert.equal(byId.get('meshgate-mtls-handshake').server, byId.get('meshgate-mtls').server);
  assert.equal(byId.get('meshgate-mtls').server.upstream, 'mtls');
  assert.equal(byId.get('meshgate-mtls-handshake').path, '/handshake');
  assert.deepEqual(servers.map((s) => s.id), ['nginx', 'meshgate', 'direct', 'haproxy', 'node-undici', 'nginx-mtls', 'meshgate-mtls']);
});
