// bench/targets.mjs reads issue #5's six figures off a run's results; every verdict is checked here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { targetRows } from './targets.mjs';

const verdicts = (rows) => Object.fromEntries(rows.map((r) => [r[0], r[3]]));

test('every figure met', () => {
  const rows = new Map([
    ['meshgate', { vsNginx: { requestsPerSecRatio: 0.6, p99Ratio: 2.5 } }],
    ['meshgate-all', { vsNginx: { requestsPerSecRatio: 0.55 } }],
    ['meshgate-latency', { latency: { p99AddedMs: 0.4 } }],
    ['meshgate-mtls', { mtls: { vsPlaintext: 0.85 } }],
    ['meshgate-mtls-handshake', { mtls: { upstreamTlsConnsPerSec: 500 } }],
  ]);
  const scale = { virtualServices: 10000, upstreams: 10000, translateMs: 800, applyP99Ms: 60, proxyRssMb: 200, lookupNsPerOp: { 10: { mixed: 100 }, 10000: { mixed: 120 } } };
  const v = verdicts(targetRows(rows, scale, { certsPerSecond: 4000, grpc: { certsPerSecond: 1200 } }));
  for (const [k, x] of Object.entries(v)) if (!k.includes('handshakes') && !k.includes('gRPC') && !k.includes('new upstream')) assert.equal(x, 'met', k);
});

test('missed figures are MISSED, and what was not measured has no verdict', () => {
  const rows = new Map([['meshgate', { vsNginx: { requestsPerSecRatio: 0.3, p99Ratio: 8 } }]]);
  const out = targetRows(rows, null, null);
  const v = verdicts(out);
  assert.equal(v['1. one core: req/s vs nginx'], 'MISSED');
  assert.equal(v['1. one core: p99 vs nginx'], 'MISSED');
  assert.equal(v['2. all cores: req/s vs nginx'], '-');
  assert.equal(v['6. CA issuance (signing path, one core)'], '-');
  assert.equal(out.find((r) => r[0].startsWith('5. route lookup'))[1], '-');
});

test('a route lookup that grows with the virtual hosts is MISSED', () => {
  const scale = { virtualServices: 10000, upstreams: 10000, lookupNsPerOp: { 10: { mixed: 100 }, 10000: { mixed: 900 } } };
  assert.equal(verdicts(targetRows(new Map(), scale, null))['5. route lookup, 10,000 vs 10 virtual hosts'], 'MISSED');
});

test('the node-undici floor is shown beside the figures it applies to, blank elsewhere', () => {
  const rows = new Map([
    ['meshgate', { vsNginx: { requestsPerSecRatio: 0.37, p99Ratio: 5.5 } }],
    ['node-undici', { vsNginx: { requestsPerSecRatio: 0.47, p99Ratio: 3.9 } }],
    ['node-undici-latency', { latency: { p99AddedMs: 0.8 } }],
  ]);
  const out = targetRows(rows, null, null);
  const floor = Object.fromEntries(out.map((r) => [r[0], r[4]]));
  assert.equal(floor['1. one core: req/s vs nginx'], '0.47x');
  assert.equal(floor['1. one core: p99 vs nginx'], '3.90x');
  assert.equal(floor['3. p99 added at 1,000 req/s, 1 kB'], '0.8 ms');
  assert.equal(floor['2. all cores: req/s vs nginx'], '');
  assert.ok(out.every((r) => r.length === 5));
  // without a node-undici row the floor is '-', and the verdicts are meshgate's alone
  assert.equal(targetRows(new Map([['meshgate', rows.get('meshgate')]]), null, null)[0][4], '-');
});
