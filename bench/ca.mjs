#!/usr/bin/env node
// bench/ca.mjs: how many workload certificates per second the mesh CA issues (issue #5).
//
// Exported for bench/bench.mjs (which the lead integrates it into):
//
//   runCaBench({ durationMs = 5000, warmupMs = 1000, pool = 256, key = 'ecdsa-p256', grpc = true,
//                concurrency = 16, connections = 2, log = () => {} } = {})
//     → Promise<{
//         certsPerSecond, p50Ms, p99Ms, cpuPercent, certs,   // (a) the signing path, sequential
//         csrsPerSecond, csrP50Ms, csrP99Ms,                 //     parseCsr alone (verify + read)
//         grpc: { certsPerSecond, p50Ms, p99Ms, serverCpuPercent, certs, errors,
//                 concurrency, connections, pinned } | undefined,  // (b) gRPC round trip
//         durationMs, warmupMs, pool, key, node }>
//
//   (a) CertificateAuthority.issue(csrPem, {namespace, serviceAccount}): CSR in → parse and verify
//       the CSR's signature → build the istiod-shaped leaf → sign → PEM chain out, one call at a
//       time in this process (so one core's worth of work; cpuPercent shows it). The CSRs are
//       made beforehand, `pool` of them with distinct keys (`key`: 'ecdsa-p256', as meshgate's
//       sidecars and Istio's agent with ECC_SIGNATURE_ALGORITHM=ECDSA send; 'ecdsa-p384'; or
//       'rsa', 2048 bits, Istio's agent default, slower to prepare) and identities, used in turn
//       so that nothing per key can be cached. csrsPerSecond is parseCsr alone on the same pool.
//   (b) the whole CreateCertificate call: `meshgate ca serve` in a child process (pinned to core 0
//       with taskset when there are two cores or more; this process, the client, then goes to
//       core 1 for the run), called over TLS on 127.0.0.1 with gRPC spoken by hand over
//       node:http2 (unary call, bearer token, protobuf written and read here), `concurrency`
//       calls in flight over `connections` HTTP/2 connections. serverCpuPercent comes from
//       /proc/<pid>/stat: about 100 means the CA's core was the limit.
//   Latencies are per call, in ms; p50/p99 are nearest-rank over every measured call.
//
// Standalone: `node bench/ca.mjs [--duration S] [--warmup S] [--pool N] [--key ALG] [--no-grpc]
//   [--concurrency N] [--connections N] [--json FILE]` prints a small table (exit 2 on bad flags). It needs dist/
// (`npm run build`; `npm run bench` builds too). Only node: built-ins are imported here;
// meshgate's own modules come from ../dist.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(REPO, 'dist');
const HOST = '127.0.0.1'; // loopback only
const CREATE_CERTIFICATE = '/istio.v1.auth.IstioCertificateService/CreateCertificate';
const ISTIOD_SERVER_NAME = 'istiod.istio-system.svc';
const TASKSET = ['/usr/bin/taskset', '/bin/taskset'].find((p) => fs.existsSync(p));
const CLK_TCK = 100; // /proc/<pid>/stat ticks per second on every Linux this runs on
const STOP_GRACE_MS = 3000;
const KEYS = ['ecdsa-p256', 'ecdsa-p384', 'rsa'];

async function dist(rel) {
  const file = path.join(DIST, rel);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
  return import(pathToFileURL(file).href);
}

/** percentile is the nearest-rank percentile of sorted values (ms). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

function summary(latencies, elapsedMs) {
  const sorted = Float64Array.from(latencies).sort();
  return {
    perSecond: latencies.length / (elapsedMs / 1000),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    count: latencies.length,
  };
}

/** timedLoop calls fn(i) one at a time for durationMs and returns each call's latency (ms). */
async function timedLoop(fn, durationMs) {
  const latencies = [];
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + durationMs;
  let now = start;
  for (let i = 0; now < end; i++) {
    const t = now;
    await fn(i);
    now = performance.now();
    latencies.push(now - t);
  }
  const elapsedMs = now - start;
  const cpu = process.cpuUsage(cpu0);
  return { ...summary(latencies, elapsedMs), cpuPercent: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100 };
}

// === gRPC by hand: just enough of it for one unary call ===

function varint(n) {
  const out = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/** grpcFrame is IstioCertificateRequest{csr: csrPem} (field 1, validity_duration unset: 24 h) in a gRPC message frame. */
export function grpcFrame(csrPem) {
  const csr = Buffer.from(csrPem);
  const msg = Buffer.concat([Buffer.from([0x0a]), varint(csr.length), csr]);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1); // byte 0: not compressed
  return Buffer.concat([head, msg]);
}

/** certChainOf reads IstioCertificateResponse.cert_chain (repeated string, field 1) from a gRPC frame. */
export function certChainOf(frame) {
  if (frame.length < 5 || frame[0] !== 0) throw new Error('bad gRPC frame');
  const msg = frame.subarray(5, 5 + frame.readUInt32BE(1));
  const out = [];
  for (let off = 0; off < msg.length; ) {
    const tag = msg[off++];
    let len = 0;
    for (let shift = 1; ; shift *= 128) {
      const b = msg[off++];
      len += (b & 0x7f) * shift;
      if (b < 0x80) break;
    }
    if (tag !== 0x0a) throw new Error(`unexpected protobuf tag ${tag}`);
    out.push(msg.subarray(off, off + len).toString());
    off += len;
  }
  return out;
}

function callCreateCertificate(session, token, frame) {
  return new Promise((resolve, reject) => {
    const req = session.request({
      ':method': 'POST',
      ':path': CREATE_CERTIFICATE,
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: `Bearer ${token}`,
    });
    const chunks = [];
    let status;
    let message;
    req.on('response', (h) => {
      // A failure can come as a trailers-only response.
      if (h['grpc-status'] !== undefined) [status, message] = [h['grpc-status'], h['grpc-message']];
    });
    req.on('trailers', (t) => ([status, message] = [t['grpc-status'], t['grpc-message']]));
    req.on('data', (d) => chunks.push(d));
    req.on('error', reject);
    req.on('end', () => {
      if (status !== '0') return reject(new Error(`grpc-status ${status}: ${decodeURIComponent(message ?? '')}`));
      try {
        const chain = certChainOf(Buffer.concat(chunks));
        if (chain.length !== 2 || !chain[0].startsWith('-----BEGIN CERTIFICATE-----')) throw new Error('unexpected cert_chain');
        resolve(chain);
      } catch (err) {
        reject(err);
      }
    });
    req.end(frame);
  });
}

function cpuTicks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime (fields 14 and 15)
  } catch {
    return undefined;
  }
}

function affinityOf(pid) {
  // "pid 123's current affinity list: 0,1"
  return execFileSync(TASKSET, ['-a', '-p', '-c', String(pid)], { encoding: 'utf8' }).trim().split(': ').pop();
}

function setAffinity(pid, list) {
  execFileSync(TASKSET, ['-a', '-p', '-c', list, String(pid)], { stdio: 'ignore' });
}

/** startCa runs `meshgate ca serve` on an ephemeral loopback port; resolves once it listens. */
function startCa(dataDir, pin) {
  const cmd = [process.execPath, path.join(REPO, 'bin', 'meshgate'), 'ca', 'serve', '--data-dir', dataDir, '--ca-port', '0', '--host', HOST];
  const argv = pin !== undefined ? [TASKSET, '-c', String(pin), ...cmd] : cmd;
  // info is the default level: nothing is logged per issued certificate.
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHGATE_LOG_LEVEL: 'info' } });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('meshgate ca serve did not start within 20 s')), 20_000);
    const fail = (e) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${e.message}\n${out}${err}`));
    };
    child.on('exit', (code, sig) => fail(new Error(`meshgate ca serve exited (${code ?? sig})`)));
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on [^\s]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({ child, port: Number(m[1]) });
      }
    });
  });
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function connectH2(port, rootPem) {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`https://${HOST}:${port}`, { ca: rootPem, servername: ISTIOD_SERVER_NAME, ALPNProtocols: ['h2'] });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** loadLoop keeps `concurrency` calls in flight until durationMs has passed; returns latencies and errors. */
async function loadLoop(call, concurrency, durationMs) {
  const latencies = [];
  let errors = 0;
  let firstError;
  let next = 0;
  const start = performance.now();
  const end = start + durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const i = next++;
      const t = performance.now();
      try {
        await call(i);
        latencies.push(performance.now() - t);
      } catch (err) {
        errors++;
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { latencies, errors, firstError, elapsedMs: performance.now() - start };
}

async function grpcBench({ dataDir, csrs, tokens, rootPem, durationMs, warmupMs, concurrency, connections, log }) {
  const twoCores = TASKSET !== undefined && os.availableParallelism() >= 2;
  const { child, port } = await startCa(dataDir, twoCores ? 0 : undefined);
  const savedAffinity = twoCores ? affinityOf(process.pid) : undefined;
  const sessions = [];
  try {
    if (twoCores) setAffinity(process.pid, '1');
    for (let i = 0; i < connections; i++) sessions.push(await connectH2(port, rootPem));
    const frames = csrs.map(grpcFrame);
    const call = (i) => callCreateCertificate(sessions[i % sessions.length], tokens[i % tokens.length], frames[i % frames.length]);
    log(`ca bench: gRPC warm-up ${warmupMs} ms`);
    const warm = await loadLoop(call, concurrency, warmupMs);
    if (warm.errors > 0 && warm.latencies.length === 0) throw new Error(`every CreateCertificate call failed: ${warm.firstError?.message}`);
    log(`ca bench: gRPC ${durationMs} ms, ${concurrency} calls in flight over ${connections} connection(s)`);
    const t0 = cpuTicks(child.pid);
    const run = await loadLoop(call, concurrency, durationMs);
    const t1 = cpuTicks(child.pid);
    const s = summary(run.latencies, run.elapsedMs);
    return {
      certsPerSecond: s.perSecond,
      p50Ms: s.p50Ms,
      p99Ms: s.p99Ms,
      certs: s.count,
      errors: run.errors,
      ...(run.firstError ? { firstError: run.firstError.message } : {}),
      serverCpuPercent: t0 !== undefined && t1 !== undefined ? ((t1 - t0) / CLK_TCK / (run.elapsedMs / 1000)) * 100 : null,
      concurrency,
      connections,
      pinned: twoCores ? 'CA on core 0, client on core 1' : 'not pinned',
    };
  } finally {
    for (const s of sessions) s.destroy();
    if (savedAffinity) setAffinity(process.pid, savedAffinity);
    await stopChild(child);
  }
}

/** runCaBench measures the CA's issuance; see the comment at the top of this file. */
export async function runCaBench({ durationMs = 5000, warmupMs = 1000, pool = 256, key = 'ecdsa-p256', grpc = true, concurrency = 16, connections = 2, log = () => {} } = {}) {
  if (!KEYS.includes(key)) throw new Error(`key must be one of ${KEYS.join(', ')}, not ${key}`);
  const x509 = await dist('mesh/ca/x509.js');
  const { CertificateAuthority } = await dist('mesh/ca/certificate-authority.js');
  const { TokenIssuer } = await dist('mesh/ca/token.js');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-ca-bench-'));
  try {
    const ca = await CertificateAuthority.loadOrCreate(dataDir);
    const tokenIssuer = await TokenIssuer.loadOrCreate(dataDir);
    log(`ca bench: making ${pool} CSRs (distinct ${key} keys)`);
    const csrs = [];
    for (let i = 0; i < pool; i++) csrs.push(await x509.createCsr(await x509.generateKeyPair(key), `spiffe://cluster.local/ns/bench/sa/w${i}`));
    const refs = Array.from({ length: pool }, (_, i) => ({ namespace: `ns${i % 16}`, serviceAccount: `sa${i}` }));

    // (a) the signing path, and parseCsr alone, in this process; warm-up runs first.
    const issue = (i) => ca.issue(csrs[i % pool], refs[i % pool]);
    const parse = (i) => x509.parseCsr(csrs[i % pool]);
    log(`ca bench: signing path warm-up ${warmupMs} ms`);
    await timedLoop(issue, warmupMs);
    await timedLoop(parse, Math.min(warmupMs, 500));
    log(`ca bench: signing path ${durationMs} ms`);
    const signing = await timedLoop(issue, durationMs);
    log(`ca bench: parseCsr ${Math.max(1000, durationMs / 2)} ms`);
    const csrOnly = await timedLoop(parse, Math.max(1000, durationMs / 2));

    // (b) the gRPC round trip through `meshgate ca serve`.
    let grpcResult;
    if (grpc) {
      const tokens = [];
      for (let i = 0; i < 16; i++) tokens.push(await tokenIssuer.create({ namespace: `ns${i}`, serviceAccount: `sa${i}` }));
      grpcResult = await grpcBench({ dataDir, csrs, tokens, rootPem: ca.rootPem, durationMs, warmupMs, concurrency, connections, log });
    }
    return {
      certsPerSecond: signing.perSecond,
      p50Ms: signing.p50Ms,
      p99Ms: signing.p99Ms,
      cpuPercent: signing.cpuPercent,
      certs: signing.count,
      csrsPerSecond: csrOnly.perSecond,
      csrP50Ms: csrOnly.p50Ms,
      csrP99Ms: csrOnly.p99Ms,
      grpc: grpcResult,
      durationMs,
      warmupMs,
      pool,
      key,
      node: process.version,
    };
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

// === Standalone ===

function fmt(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return '-';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatTable(r) {
  const rows = [
    ['path', 'per second', 'p50 ms', 'p99 ms', 'CPU %', 'calls', 'errors'],
    [`signing path (CertificateAuthority.issue, 1 at a time, ${r.key} CSRs)`, fmt(r.certsPerSecond), fmt(r.p50Ms, 3), fmt(r.p99Ms, 3), fmt(r.cpuPercent), fmt(r.certs), '0'],
    ['  of which parseCsr alone (parse + verify the CSR)', fmt(r.csrsPerSecond), fmt(r.csrP50Ms, 3), fmt(r.csrP99Ms, 3), '', '', ''],
  ];
  if (r.grpc) {
    const g = r.grpc;
    rows.push([`gRPC CreateCertificate over TLS (${g.concurrency} in flight, ${g.connections} conn)`, fmt(g.certsPerSecond), fmt(g.p50Ms, 2), fmt(g.p99Ms, 2), fmt(g.serverCpuPercent), fmt(g.certs), fmt(g.errors)]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  const out = [line(rows[0]), line(widths.map((w) => '-'.repeat(w))), ...rows.slice(1).map(line)];
  if (r.grpc) out.push(`gRPC: ${r.grpc.pinned}; CPU % is the CA process's.${r.grpc.firstError ? ` First error: ${r.grpc.firstError}` : ''}`);
  return out.join('\n');
}

async function main() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        duration: { type: 'string', default: '5' },
        warmup: { type: 'string', default: '1' },
        pool: { type: 'string', default: '256' },
        key: { type: 'string', default: 'ecdsa-p256' },
        'no-grpc': { type: 'boolean', default: false },
        concurrency: { type: 'string', default: '16' },
        connections: { type: 'string', default: '2' },
        json: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write('usage: node bench/ca.mjs [--duration S] [--warmup S] [--pool N] [--key ecdsa-p256|ecdsa-p384|rsa] [--no-grpc] [--concurrency N] [--connections N] [--json FILE]\n');
    return;
  }
  if (!KEYS.includes(values.key)) {
    process.stderr.write(`--key must be one of ${KEYS.join(', ')}, got "${values.key}"\n`);
    process.exit(2);
  }
  const num = (name, min) => {
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n < min) {
      process.stderr.write(`--${name} must be a number >= ${min}, got "${values[name]}"\n`);
      process.exit(2);
    }
    return n;
  };
  const opts = {
    durationMs: num('duration', 0.1) * 1000,
    warmupMs: num('warmup', 0) * 1000,
    pool: Math.floor(num('pool', 1)),
    key: values.key,
    grpc: !values['no-grpc'],
    concurrency: Math.floor(num('concurrency', 1)),
    connections: Math.floor(num('connections', 1)),
    log: (m) => process.stderr.write(`${m}\n`),
  };
  const r = await runCaBench(opts);
  process.stdout.write(`${formatTable(r)}\n`);
  if (values.json) fs.writeFileSync(values.json, `${JSON.stringify({ date: new Date().toISOString(), loadavg: os.loadavg(), ...r }, null, 2)}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`ca bench failed: ${err.stack ?? err}\n`);
    process.exit(1);
  });
}
