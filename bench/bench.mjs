#!/usr/bin/env node
// bench/bench.mjs: measures meshgate side by side with nginx and haproxy, over loopback only.
//
// Run with `npm run bench` (installs nginx/haproxy/wrk/h2load/openssl if missing and builds
// meshgate first), or directly:
//   node bench/bench.mjs [--quick] [--rounds N] [--duration S] [--tls-h2-duration S]
//                        [--latency-duration S] [--mtls-duration S] [--json FILE] [--only LIST]
//
// Method (see docs/performance.md): a fast nginx backend serves a fixed 200-byte body; each proxy
// forwards to it over plaintext HTTP/1.1; wrk drives 64 keep-alive connections. The backend and
// the load generator share core 1 and the proxy under test gets core 0 to itself, so a proxy's
// figures are not disturbed by the load generator. The "all cores" variants run the proxy with
// two workers/threads, unpinned. The -tls rows terminate TLS (one self-signed ECDSA P-256
// certificate made at start) and are driven by wrk over https; -tls-handshake adds
// `Connection: close`, so every request pays for a new TLS connection; the -h2 and -h2c
// rows are driven by h2load (HTTP/2 over TLS with ALPN h2, and h2c with prior knowledge). Every
// round measures every target once, in a rotated order, so slow drifts of the machine (thermal,
// neighbours on a shared host) spread evenly over all targets; the report shows medians.
//
// Two more kinds of rows get tables of their own. Latency (issue #5, target 3): hey at a fixed
// 1,000 requests/s (10 keep-alive connections x 100/s) for a 1 kB body, straight to a backend
// (`direct`: a twin of the backend, on core 0 where the proxies run) and through each proxy; the
// table shows what each proxy adds to direct's p50/p99.
// mTLS (target 4): the proxy's upstream is an mTLS server on core 1 (haproxy, verify required,
// a certificate signed by meshgate's own mesh root), reached with pooled keep-alive connections
// (-mtls, compared with the same proxy's plaintext row) or with a new TLS connection per request
// (-mtls-handshake: the upstream closes each connection; its stats count the handshakes).
//
// Only node: built-ins: the bench must run on a fresh checkout without extra npm packages.

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { targetRows } from './targets.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1'; // loopback only, always: the bench must never listen on or hit other addresses
const NGINX = '/usr/sbin/nginx';
const HAPROXY = '/usr/sbin/haproxy';
const WRK = '/usr/bin/wrk';
const H2LOAD = '/usr/bin/h2load'; // Debian package nghttp2-client
const OPENSSL = '/usr/bin/openssl';
const TASKSET = fs.existsSync('/usr/bin/taskset') ? '/usr/bin/taskset' : 'taskset';
// MESHGATE_BIN lets the bench itself be tested against a stand-in; normally bin/meshgate.
const MESHGATE_BIN = path.resolve(REPO, process.env.MESHGATE_BIN || 'bin/meshgate');

const PROXY_CORE = 0; // the proxy under test gets this core to itself
const LOAD_CORE = 1; // the backend and wrk share this one
const CONNECTIONS = 64;
const WRK_THREADS = 1;
// h2load: the same 64 connections as wrk, each with up to 10 concurrent streams, so the HTTP/2
// rows exercise multiplexing (640 requests in flight, against wrk's 64: compare latencies only
// between HTTP/2 rows). One h2load thread, like wrk, sharing core 1 with the backend.
const H2_CLIENTS = 64;
const H2_STREAMS = 10;
const H2_THREADS = 1;
// TLS 1.3 suites in OpenSSL's default order, which is what wrk (and Node) offer. h2load's own
// default puts AES-128-GCM first, and nginx and Node follow the client's order while haproxy
// follows its own: offering the same list everywhere makes every TLS row negotiate
// TLS_AES_256_GCM_SHA384 (with X25519), so the rows compare the proxies, not the ciphers.
const TLS13_CIPHERS = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';
// Upstream idle pool of the nginx proxies behind TLS/HTTP/2 listeners: h2load keeps 640 requests
// in flight, each needing its own HTTP/1.1 connection to the backend; a pool of 64 would make
// nginx close and reopen backend connections all the time, which haproxy and Node do not do.
const NGINX_H2_UPSTREAM_KEEPALIVE = 1024;
// A fixed 200-byte body: small enough that the proxy's per-request cost dominates, not copying.
const BODY = 'meshgate-bench:' + 'x'.repeat(200 - 'meshgate-bench:'.length);
// The latency rows (issue #5, target 3): a 1 kB (1,024-byte) body on its own backend path, at a
// fixed 1,000 requests/s from hey: 10 workers (one keep-alive connection each) x 100 requests/s.
const HEY = '/usr/bin/hey'; // Debian package hey
const LATENCY_PATH = '/1k';
const BODY_1K = 'meshgate-bench-1k:' + 'y'.repeat(1024 - 'meshgate-bench-1k:'.length);
const HEY_WORKERS = 10;
const HEY_QPS_PER_WORKER = 100;
const LATENCY_RATE = HEY_WORKERS * HEY_QPS_PER_WORKER;
// A run that delivered less than this share of the fixed rate did not hold it: flagged in the table.
const LATENCY_RATE_HELD = 0.95;
const LATENCY_TARGET_MS = 0.5; // meshgate's p99 at most this much above going to the backend directly
// The mTLS rows (issue #5, target 4): the proxy's upstream is an mTLS server on core 1 (haproxy,
// see startMtlsUpstream), reached with pooled keep-alive connections ('-mtls') or with a new TLS
// connection per request ('-mtls-handshake', on a path whose upstream closes every connection).
const MTLS_RATIO_TARGET = 0.8; // meshgate-mtls req/s over meshgate's plaintext req/s
const HANDSHAKE_PATH = '/handshake';
// The mTLS upstream answers this path (under / and /handshake) with what its TLS session was.
const MTLS_CHECK_PATH = '/mtls-check';
const MTLS_SERVER_ID = 'spiffe://cluster.local/ns/default/sa/bench-backend';
// nginx checks an upstream certificate's name against DNS names only (mesh certificates have
// none), so the bench's mTLS server certificate carries this one too, for nginx-mtls alone.
const MTLS_SERVER_DNS = 'bench-backend.default.svc.cluster.local';
const NGINX_CLIENT_ID = 'spiffe://cluster.local/ns/gloo-system/sa/bench-nginx';
const STOP_GRACE_MS = 3000;

// ---------------------------------------------------------------------------------------------
// Small pure helpers (exported for bench/parse-wrk.test.mjs)

/** Converts a wrk time figure ("812.00us", "1.23ms", "2.00s", "1.00m") to milliseconds. */
export function toMs(value, unit) {
  const factor = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit];
  if (factor === undefined) throw new Error(`unknown wrk time unit "${unit}"`);
  return Number(value) * factor;
}

/**
 * Parses the text wrk prints with --latency. Throws if the essential "Requests/sec" line is
 * missing, since a silently-zero figure would be worse than a clear failure.
 * Note: wrk's "Non-2xx or 3xx responses" line actually counts statuses >= 400; we report it as
 * non2xx, which is what it means for a proxy that never redirects.
 */
export function parseWrk(text) {
  const rps = text.match(/^Requests\/sec:\s+([\d.]+)/m);
  if (!rps) throw new Error('wrk output has no "Requests/sec" line:\n' + text);
  const latency = (pct) => {
    const m = text.match(new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm'));
    return m ? toMs(m[1], m[2]) : null;
  };
  const total = text.match(/^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)/m);
  const sock = text.match(
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/,
  );
  const non2xx = text.match(/Non-2xx or 3xx responses: (\d+)/);
  const socketErrors = sock
    ? { connect: +sock[1], read: +sock[2], write: +sock[3], timeout: +sock[4] }
    : { connect: 0, read: 0, write: 0, timeout: 0 };
  const socketErrorsTotal = Object.values(socketErrors).reduce((a, b) => a + b, 0);
  return {
    requestsPerSec: Number(rps[1]),
    p50Ms: latency(50),
    p99Ms: latency(99),
    requests: total ? Number(total[1]) : null,
    elapsedS: total ? toMs(total[2], total[3]) / 1000 : null,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors,
    socketErrorsTotal,
    // the table's "errors" column: wrk's socket errors, h2load's errored and timed-out requests
    errorsTotal: socketErrorsTotal,
  };
}

/**
 * Parses h2load's summary (nghttp2 1.52). Throws if the "finished in" line is missing. h2load
 * prints no percentiles: p50/p99 come from its --log-file (parseH2loadLog). Its counters:
 * "succeeded" = responses with a 2xx or 3xx status; "failed" = everything else, including
 * "errored" (stream reset, connection lost: the network-level part); "timeout" = requests
 * stopped by h2load's own timeouts (none are set here).
 */
export function parseH2load(text) {
  const fin = text.match(/^finished in ([\d.]+)(us|ms|s|m|h), ([\d.]+) req\/s/m);
  if (!fin) throw new Error('h2load output has no "finished in ... req/s" line:\n' + text);
  const req = text.match(
    /^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m,
  );
  if (!req) throw new Error('h2load output has no "requests:" line:\n' + text);
  const codes = text.match(/^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/m);
  const status = codes
    ? { '2xx': +codes[1], '3xx': +codes[2], '4xx': +codes[3], '5xx': +codes[4] }
    : { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  const line = (re) => text.match(re)?.[1] ?? null;
  const mean = text.match(/^time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m|h)\s/m);
  const errored = +req[6];
  const timeout = +req[7];
  return {
    requestsPerSec: Number(fin[3]),
    elapsedS: toMs(fin[1], fin[2]) / 1000,
    requests: +req[3], // done: responses and failures within the measured duration
    started: +req[2],
    succeeded: +req[4],
    failed: +req[5],
    errored,
    timeout,
    status,
    non2xx: status['3xx'] + status['4xx'] + status['5xx'],
    errorsTotal: errored + timeout,
    // "h2" or "h2c"; h2load prints "h2c" for a cleartext URI before the server has answered
    protocol: line(/^Application protocol: (\S+)/m),
    tlsProtocol: line(/^TLS Protocol: (\S+)/m),
    cipher: line(/^Cipher: (\S+)/m),
    meanMs: mean && Number(mean[1]) > 0 ? toMs(mean[1], mean[2]) : null,
  };
}

/**
 * Latency percentiles from h2load's --log-file: one line per request finished in the measured
 * duration, "<start, us since epoch>\t<status, -1 if the stream failed>\t<duration, us>".
 * Like wrk's, the percentiles cover every response (whatever its status), not failed streams.
 */
export function parseH2loadLog(text) {
  const us = [];
  let failedStreams = 0;
  for (const row of text.split('\n')) {
    if (!row) continue;
    const [, status, duration] = row.split('\t');
    if (Number(status) > 0) us.push(Number(duration));
    else failedStreams++;
  }
  const sorted = Float64Array.from(us).sort();
  return {
    responses: sorted.length,
    failedStreams,
    p50Ms: percentile(sorted, 50) === null ? null : percentile(sorted, 50) / 1000,
    p99Ms: percentile(sorted, 99) === null ? null : percentile(sorted, 99) / 1000,
  };
}

/** Nearest-rank percentile of an ascending list; null if it is empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/**
 * Why an h2load run does not count as an HTTP/2 measurement, or null if it does: the protocol
 * must be the expected one (h2 over TLS, h2c in cleartext) and some requests must have
 * succeeded. A server without HTTP/2 shows up here: over TLS, h2load (offering only h2) reports
 * no application protocol and makes no request; in cleartext it sends its preface, prints "h2c",
 * and gets no response.
 */
export function h2RunFailure(r, expected) {
  if (r.protocol !== expected) {
    return `no ${expected}: h2load negotiated ${r.protocol ? `"${r.protocol}"` : 'no application protocol'}` +
      (expected === 'h2' ? ' (TLS handshake or ALPN h2 failed)' : '');
  }
  if (r.succeeded === 0) {
    return `no ${expected} responses: 0 of ${r.started} requests started succeeded` +
      ` (${r.requests} done, ${r.errored} errored, ${r.timeout} timeout)`;
  }
  return null;
}

/**
 * Parses the summary hey (0.1.4, Debian) prints. Throws without its "Total:" line. hey prints
 * times in seconds with 4 decimals (0.1 ms steps); its "Requests/sec" counts failed requests
 * too, so the rate here is responses (any status) per second, and failed requests (connection
 * errors, timeouts) are the errors. Percentiles cover every response, whatever its status, as
 * wrk's do; hey prints none when no response arrived.
 */
export function parseHey(text) {
  const total = text.match(/^\s*Total:\s+([\d.]+) secs/m);
  if (!total) throw new Error('hey output has no "Total: ... secs" line:\n' + text);
  const elapsedS = Number(total[1]);
  const latency = (pct) => {
    const m = text.match(new RegExp(`^\\s*${pct}% in ([\\d.]+) secs`, 'm'));
    return m ? Number((Number(m[1]) * 1000).toFixed(1)) : null; // 0.1 ms steps, no float noise
  };
  const status = {};
  for (const m of text.matchAll(/^\s*\[(\d{3})\]\s+(\d+) responses/gm)) status[m[1]] = Number(m[2]);
  const responses = Object.values(status).reduce((a, b) => a + b, 0);
  const errors = [];
  const errSection = text.split(/^Error distribution:\s*$/m)[1] ?? '';
  for (const m of errSection.matchAll(/^\s*\[(\d+)\]\s+(.*\S)\s*$/gm)) errors.push({ count: Number(m[1]), error: m[2] });
  const errorsTotal = errors.reduce((a, e) => a + e.count, 0);
  return {
    requestsPerSec: elapsedS > 0 ? responses / elapsedS : 0,
    heyRequestsPerSec: Number(text.match(/^\s*Requests\/sec:\s+([\d.]+)/m)?.[1] ?? NaN),
    elapsedS,
    requests: responses,
    p50Ms: latency(50),
    p99Ms: latency(99),
    status,
    non2xx: Object.entries(status).filter(([code]) => !code.startsWith('2')).reduce((a, [, n]) => a + n, 0),
    errors,
    errorsTotal,
  };
}

/**
 * Parses haproxy's `show info` (from its stats socket) into name -> value (numbers where they
 * are numbers): the bench reads CumSslConns from the mTLS upstream to count TLS handshakes.
 */
export function parseHaproxyInfo(text) {
  const info = {};
  for (const line of text.split('\n')) {
    const m = line.match(/^([^:]+):\s*(.*)$/);
    if (m) info[m[1]] = /^-?\d+(\.\d+)?$/.test(m[2]) ? Number(m[2]) : m[2];
  }
  return info;
}

/** Median of the finite numbers in a list; null if there are none. */
export function median(values) {
  const xs = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = Math.floor(xs.length / 2);
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/** The list rotated left by n: round r starts with a different target each time. */
export function rotate(list, n) {
  if (list.length === 0) return [];
  const k = n % list.length;
  return list.slice(k).concat(list.slice(0, k));
}

// ---------------------------------------------------------------------------------------------
// Child processes: every one is tracked so that it can be stopped on exit, error or Ctrl-C.

const children = new Set();
let tmpRoot = null;
let benchLoadCore = null; // LOAD_CORE when pinning, else null; set by main()
let tlsCert = null; // { certFile, keyFile, pemFile, certPem, keyPem }, made by makeCertificate()

class StartError extends Error {
  constructor(message, tail = '') {
    super(message);
    this.tail = tail;
  }
}

/**
 * Spawns a long-running server, optionally pinned to a core with taskset (which execs the
 * command, so the pid we get is the server's own). It gets its own process group (detached) so
 * stopping it also reaches any workers it forks. Its stdout/stderr go to a log file rather than a
 * pipe, so that the bench process does no work on their behalf while measuring.
 */
function startProcess(name, cmd, args, { pin = null, cwd = REPO, logFile, extraLogs = [] } = {}) {
  const argv = pin === null ? [cmd, ...args] : [TASKSET, '-c', String(pin), cmd, ...args];
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(argv[0], argv.slice(1), { cwd, detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const proc = { name, child, pid: child.pid, logFiles: [logFile, ...extraLogs], exited: false, exitInfo: '' };
  proc.exitPromise = new Promise((resolve) => {
    const done = (info) => {
      if (!proc.exited) {
        proc.exited = true;
        proc.exitInfo = info;
      }
      resolve();
    };
    child.once('exit', (code, signal) => done(signal ? `killed by ${signal}` : `exited with code ${code}`));
    child.once('error', (err) => done(`could not start: ${err.message}`));
  });
  children.add(proc);
  return proc;
}

/** The last lines of a server's output (and of its own error log), for error messages. */
function tailOf(proc, maxBytes = 3000) {
  const parts = [];
  for (const file of proc.logFiles) {
    try {
      const text = fs.readFileSync(file, 'utf8');
      if (text.trim()) parts.push(`--- ${path.basename(file)} (last lines) ---\n` + text.slice(-maxBytes).trimEnd());
    } catch {
      // the file may not exist if the server died before creating it
    }
  }
  if (proc.exited) parts.push(`--- ${proc.name} ${proc.exitInfo} ---`);
  return parts.join('\n');
}

function signalGroup(proc, signal) {
  try {
    process.kill(-proc.pid, signal);
  } catch {
    // ESRCH: the group is already gone
  }
}

/** SIGTERM, then SIGKILL after a grace period; also sweeps workers left behind in the group. */
async function stopProcess(proc) {
  if (!proc.pid) return children.delete(proc);
  if (!proc.exited) {
    signalGroup(proc, 'SIGTERM');
    await Promise.race([proc.exitPromise, delay(STOP_GRACE_MS)]);
  }
  if (!proc.exited) {
    signalGroup(proc, 'SIGKILL');
    await Promise.race([proc.exitPromise, delay(STOP_GRACE_MS)]);
  }
  signalGroup(proc, 'SIGKILL'); // orphaned workers of a leader that exited first
  children.delete(proc);
}

/**
 * Runs a short command to completion and collects its output (wrk, meshgate apply, versions).
 * Tracked like the servers so that Ctrl-C stops it too; killed if it overruns timeoutMs.
 */
function runCommand(cmd, args, { pin = null, cwd = REPO, timeoutMs = 30_000 } = {}) {
  const argv = pin === null ? [cmd, ...args] : [TASKSET, '-c', String(pin), cmd, ...args];
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = { name: path.basename(cmd), child, pid: child.pid, logFiles: [], exited: false };
    proc.exitPromise = new Promise((r) => child.once('close', r));
    children.add(proc);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => signalGroup(proc, 'SIGKILL'), timeoutMs);
    const finish = (code, signal, error) => {
      clearTimeout(timer);
      proc.exited = true;
      children.delete(proc);
      resolve({ code, signal, stdout, stderr, error });
    };
    child.once('error', (err) => finish(null, null, err));
    child.once('close', (code, signal) => finish(code, signal, null));
  });
}

let cleanupPromise = null;
/** Stops every child and removes the temp dir. Safe to call more than once. */
function cleanup() {
  cleanupPromise ??= (async () => {
    await Promise.all([...children].map(stopProcess));
    if (tmpRoot) fs.rmSync(tmpRoot, { recursive: true, force: true });
    for (const f of strayFiles) fs.rmSync(f, { force: true });
  })();
  return cleanupPromise;
}

// ---------------------------------------------------------------------------------------------
// Ports and HTTP probing

const handedOutPorts = new Set();

/** An ephemeral loopback port the kernel says is free (never the same one twice per run). */
async function freePort() {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, HOST, () => {
        const p = srv.address().port;
        srv.close(() => resolve(p));
      });
    });
    if (!handedOutPorts.has(port)) {
      handedOutPorts.add(port);
      return port;
    }
  }
}

/** One GET with a fresh connection (no agent), so a probe never keeps a socket open. */
function httpGet(port, urlPath = '/', timeoutMs = 1000) {
  return new Promise((resolve) => {
    const req = http.request({ host: HOST, port, path: urlPath, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body, headers: res.headers }));
      res.on('error', (err) => resolve({ status: 0, body: '', error: err }));
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', (err) => resolve({ status: 0, body: '', error: err }));
    req.end();
  });
}

/**
 * One GET over TLS (HTTP/1.1, no ALPN offered, as wrk does), checking the bench's certificate.
 * Also reports what was negotiated, so the report can show that every TLS row used the same.
 */
function httpsGet(port, urlPath = '/', timeoutMs = 2000) {
  return new Promise((resolve) => {
    const req = https.request(
      { host: HOST, port, path: urlPath, agent: false, timeout: timeoutMs, ca: tlsCert.certPem },
      (res) => {
        const tls = { protocol: res.socket.getProtocol(), cipher: res.socket.getCipher()?.name ?? null };
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode, body, tls }));
        res.on('error', (err) => resolve({ status: 0, body: '', error: err }));
      },
    );
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', (err) => resolve({ status: 0, body: '', error: err }));
    req.end();
  });
}

/**
 * One GET over HTTP/2 on a fresh session: over TLS with ALPN h2 (Node's client offers only h2),
 * or h2c with prior knowledge (the connection preface straight away) when tls is false.
 */
function h2Get(port, { tls }, urlPath = '/', timeoutMs = 2000) {
  return new Promise((resolve) => {
    let session = null;
    let settled = false;
    const done = (r) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session?.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ status: 0, body: '', error: new Error(`no response within ${timeoutMs} ms`) }), timeoutMs);
    session = http2.connect(`${tls ? 'https' : 'http'}://${HOST}:${port}`, tls ? { ca: tlsCert.certPem } : {});
    session.on('error', (err) => done({ status: 0, body: '', error: err }));
    session.on('close', () => done({ status: 0, body: '', error: new Error('connection closed without a response') }));
    const req = session.request({ ':path': urlPath });
    let status = 0;
    let body = '';
    req.setEncoding('utf8');
    req.on('response', (headers) => (status = headers[':status']));
    req.on('data', (d) => (body += d));
    req.on('end', () => done({ status, body, alpn: session.alpnProtocol ?? null }));
    req.on('error', (err) => done({ status: 0, body: '', error: err }));
  });
}

// What the usual probe errors mean, for the reader of a failed row.
const PROBE_HINTS = {
  ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL: 'the server offers no h2 in ALPN',
  ERR_HTTP2_ERROR: 'the answer was not HTTP/2',
  ECONNREFUSED: 'nothing listens there',
};

/** Why a probe's answer is not the expected body: a short, one-line reason for error messages. */
function probeFailure(res, body = BODY) {
  if (res.error) {
    // An HTTP/2 stream cancelled because its TLS session failed: the TLS error is the news.
    const e = res.error.cause ?? res.error;
    const what = e.reason ?? String(e.message).split('\n')[0];
    const hint = PROBE_HINTS[e.code];
    return `${e.code ? `${e.code}: ` : ''}${what}${hint ? ` (${hint})` : ''}`;
  }
  if (res.status !== 200) return `status ${res.status}`;
  if (res.body !== body) return `unexpected body (${res.body.length} bytes)`;
  return null;
}

// Checks for waitUntil: true once / serves the backend's body, else the reason why not.
const servesBody = (port, urlPath = '/', body = BODY) => async () => probeFailure(await httpGet(port, urlPath), body) ?? true;
const servesBodyTls = (port, onTls) => async () => {
  const res = await httpsGet(port, '/');
  const why = probeFailure(res);
  if (!why) onTls?.(res.tls);
  return why ?? true;
};
const servesBodyH2 = (port, tls) => async () => probeFailure(await h2Get(port, { tls })) ?? true;

/**
 * Polls check() until it returns true (anything else, such as a reason string, means not yet).
 * Fails early, with the server's output, if the server exits; fails with the same output, and
 * the last reason check() gave, if it is not ready within timeoutMs.
 */
async function waitUntil(proc, what, check, timeoutMs, { who = proc.name } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = null;
  for (;;) {
    if (proc.exited) {
      throw new StartError(`${who === proc.name ? '' : `${who}: `}${proc.name} ${proc.exitInfo} before ${what}`, tailOf(proc));
    }
    const r = await check();
    if (r === true) return;
    if (typeof r === 'string') last = r;
    if (Date.now() > deadline) {
      throw new StartError(
        `${who}: no ${what} within ${timeoutMs / 1000} s${last ? ` (last try: ${last})` : ''}`,
        tailOf(proc),
      );
    }
    await delay(100); // poll interval, not a readiness guess
  }
}

// ---------------------------------------------------------------------------------------------
// Servers

function makeDir(name) {
  const dir = path.join(tmpRoot, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * The parts of an nginx config every instance shares: foreground master (so we own its pid),
 * all paths in its own dir (nothing touches /var/log or /run), no access log.
 */
function nginxConfig(dir, workers, httpBody) {
  return `daemon off;
master_process on;
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  # The default (1000) would make every proxy reconnect to the backend, and wrk to nginx, every
  # 1000 requests; haproxy and Node do not do that, so lift it for a like-for-like comparison.
  keepalive_requests 1000000;
  keepalive_timeout 75s;
${httpBody}
}
`;
}

async function startNginxInstance(name, dir, conf, pin) {
  const confFile = path.join(dir, 'nginx.conf');
  fs.writeFileSync(confFile, conf);
  // -e: the error log before the config is read goes to our dir too, not /var/log/nginx.
  return startProcess(name, NGINX, ['-p', dir, '-e', `${dir}/error.log`, '-c', confFile], {
    pin,
    logFile: path.join(dir, 'stdout.log'),
    extraLogs: [path.join(dir, 'error.log')],
  });
}

/**
 * The backend every proxy forwards to: nginx answering any path with the 200-byte body, and
 * LATENCY_PATH with the 1 kB one. The `direct` row gets a twin of it (name, dir) on core 0.
 */
async function startBackend(pinning, { name = 'backend (nginx)', dirName = 'backend', pin = pinning ? LOAD_CORE : null } = {}) {
  const dir = makeDir(dirName);
  const port = await freePort();
  const conf = nginxConfig(
    dir,
    1,
    `  server {
    listen ${HOST}:${port};
    location / { default_type text/plain; return 200 "${BODY}"; }
    location = ${LATENCY_PATH} { default_type text/plain; return 200 "${BODY_1K}"; }
  }`,
  );
  const proc = await startNginxInstance(name, dir, conf, pin);
  await waitUntil(proc, 'answer on /', servesBody(port), 10_000);
  await waitUntil(proc, `answer on ${LATENCY_PATH}`, servesBody(port, LATENCY_PATH, BODY_1K), 10_000);
  return { proc, port };
}

/**
 * The bench's TLS certificate: one self-signed ECDSA P-256 certificate for 127.0.0.1, made with
 * openssl in the temp dir at start (so no key is ever committed or reused between runs). Every
 * TLS target serves it; the probes trust it explicitly, h2load and wrk do not check it.
 */
async function makeCertificate() {
  const dir = makeDir('tls');
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  const res = await runCommand(OPENSSL, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=meshgate-bench',
    '-addext', `subjectAltName=IP:${HOST}`,
  ], { timeoutMs: 15_000 });
  if (res.error || res.code !== 0 || !fs.existsSync(certFile) || !fs.existsSync(keyFile)) {
    throw new Error(`openssl could not make the bench certificate (${res.error?.message ?? `exit ${res.code ?? res.signal}`}):\n${res.stdout}${res.stderr}`);
  }
  const certPem = fs.readFileSync(certFile, 'utf8');
  const keyPem = fs.readFileSync(keyFile, 'utf8');
  // haproxy wants the certificate and its key in one file.
  const pemFile = path.join(dir, 'cert+key.pem');
  fs.writeFileSync(pemFile, certPem + keyPem, { mode: 0o600 });
  return { certFile, keyFile, pemFile, certPem, keyPem };
}

// ---------------------------------------------------------------------------------------------
// The mTLS upstream of the -mtls rows

/** openssl with its output collected; throws with that output (openssl never prints keys). */
async function openssl(args, what) {
  const res = await runCommand(OPENSSL, args, { timeoutMs: 15_000 });
  if (res.error || res.code !== 0) {
    throw new Error(`openssl could not ${what} (${res.error?.message ?? `exit ${res.code ?? res.signal}`}):\n${res.stdout}${res.stderr}`);
  }
}

/**
 * A mesh root made by the bench (ECDSA P-256, like meshgate's), used only when meshgate's own CA
 * is not there to sign with: meshgate-mtls not selected (`--only nginx-mtls`) or not started.
 */
async function makeBenchRoot() {
  const dir = makeDir('bench-root');
  const certFile = path.join(dir, 'root-cert.pem');
  const keyFile = path.join(dir, 'root-key.pem');
  await openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/O=cluster.local',
  ], 'make the bench root');
  return { certFile, keyFile, source: 'a root made by the bench (meshgate-mtls did not run, so there was no meshgate CA to sign with)' };
}

/**
 * A leaf certificate as the mesh CA issues them (ECDSA P-256, empty subject, critical SAN,
 * serverAuth + clientAuth, 2 days), its key made here, signed by root with openssl. The root's
 * key is only read by openssl, where it lies; it is never copied or printed.
 */
async function signLeaf(root, dir, name, san) {
  const keyFile = path.join(dir, `${name}-key.pem`);
  const csrFile = path.join(dir, `${name}.csr`);
  const certFile = path.join(dir, `${name}-cert.pem`);
  const extFile = path.join(dir, `${name}.ext`);
  fs.writeFileSync(extFile, [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth,clientAuth',
    `subjectAltName=critical,${san}`,
  ].join('\n') + '\n');
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', keyFile, '-out', csrFile, '-subj', '/'], `make the ${name} key`);
  // -set_serial: no serial file is written next to the root (in meshgate's data dir)
  await openssl(['x509', '-req', '-in', csrFile, '-CA', root.certFile, '-CAkey', root.keyFile,
    '-set_serial', `0x${crypto.randomBytes(8).toString('hex')}`, '-days', '2', '-extfile', extFile, '-out', certFile],
  `sign the ${name} certificate`);
  return { certFile, keyFile };
}

let mtlsUpstreamPromise = null;

/**
 * The mTLS upstream, started once and shared by nginx-mtls and meshgate-mtls. meshgate-mtls
 * passes meshgate's own root (its data dir's ca/) and is started first, so that both proxies
 * reach one upstream that trusts the mesh root; nginx-mtls passes null and takes whatever root
 * the upstream has (a bench-made one when meshgate-mtls did not start it). A failed start is
 * forgotten, so the next caller tries again.
 */
function ensureMtlsUpstream(meshRoot) {
  if (!mtlsUpstreamPromise) {
    mtlsUpstreamPromise = (async () => startMtlsUpstream(meshRoot ?? (await makeBenchRoot())))();
    mtlsUpstreamPromise.catch(() => (mtlsUpstreamPromise = null));
  }
  return mtlsUpstreamPromise.then((up) => {
    if (meshRoot && up.root.certFile !== meshRoot.certFile) {
      throw new Error(`the mTLS upstream already trusts ${up.root.source}, not ${meshRoot.source}`);
    }
    return up;
  });
}

/**
 * The upstream of the -mtls rows, on core 1 with the backend and the load generator: haproxy
 * terminating mTLS (`verify required` against the mesh root; its certificate has the URI SAN
 * spiffe://cluster.local/ns/default/sa/bench-backend) and answering the 200-byte body itself, so
 * that the rows differ from the plaintext ones only by the TLS between proxy and upstream (and
 * core 1 carries no extra hop). Two listeners: one keeps connections alive (the -mtls rows), one
 * closes each connection after its response (`option httpclose`: the -mtls-handshake rows, where
 * every request needs a new TLS connection). It is haproxy and not nginx because nginx (since
 * 1.21.4) refuses a TLS handshake whose ALPN list has no protocol it knows, and the sslConfig
 * of `meshgate istio enable-mtls` offers only `istio`, as glooctl's does; haproxy, like a real
 * sidecar, completes the handshake (here without ALPN, which is then HTTP/1.1). Its stats
 * socket's CumSslConns counts the TLS connections (handshakes) it accepted.
 */
async function startMtlsUpstream(root) {
  const dir = makeDir('mtls-upstream');
  const server = await signLeaf(root, dir, 'server', `URI:${MTLS_SERVER_ID},DNS:${MTLS_SERVER_DNS}`);
  const nginxClient = await signLeaf(root, dir, 'nginx-client', `URI:${NGINX_CLIENT_ID}`);
  const pemFile = path.join(dir, 'server-cert+key.pem');
  fs.writeFileSync(pemFile, fs.readFileSync(server.certFile, 'utf8') + fs.readFileSync(server.keyFile, 'utf8'), { mode: 0o600 });
  const [keepAlivePort, closePort] = [await freePort(), await freePort()];
  const statsSocket = path.join(dir, 'stats.sock');
  const bind = (port) => `bind ${HOST}:${port} ssl crt ${pemFile} ca-file ${root.certFile} verify required`;
  // What the TLS session of this connection was, on MTLS_CHECK_PATH only: the bench's probe
  // through each proxy reads it; measured requests get the plain body.
  const answer = `  http-request return status 200 content-type text/plain hdr x-bench-mtls "%[ssl_fc_protocol] %[ssl_fc_cipher] client-verify=%[ssl_c_verify] client-cert=%[ssl_c_used] resumed=%[ssl_fc_is_resumed]" string "${BODY}" if { path_end ${MTLS_CHECK_PATH} }
  http-request return status 200 content-type text/plain string "${BODY}"`;
  const cfg = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(cfg, `global
  nbthread 1
  maxconn 4096
  stats socket ${statsSocket} mode 600 level user

defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 30s

frontend mtls_keepalive
  ${bind(keepAlivePort)}
${answer}

frontend mtls_close
  ${bind(closePort)}
  option httpclose
${answer}
`);
  const proc = startProcess('mTLS upstream (haproxy)', HAPROXY, ['-f', cfg, '-db'], { pin: benchLoadCore, logFile: path.join(dir, 'output.log') });
  const clientTls = {
    ca: fs.readFileSync(root.certFile, 'utf8'),
    cert: fs.readFileSync(nginxClient.certFile, 'utf8'),
    key: fs.readFileSync(nginxClient.keyFile, 'utf8'),
    servername: MTLS_SERVER_DNS,
    checkServerIdentity: () => undefined, // the chain is checked; the name is a URI SAN
  };
  try {
    for (const port of [keepAlivePort, closePort]) {
      await waitUntil(proc, `mTLS answer on ${port}`, async () => probeFailure(await mtlsGet(port, clientTls)) ?? true, 10_000);
    }
  } catch (err) {
    await stopProcess(proc);
    throw annotate(err, 'mTLS upstream');
  }
  log(`mTLS upstream (haproxy) ready on ${HOST}:${keepAlivePort} (keep-alive) and ${HOST}:${closePort} (closes every connection); mesh root: ${root.source}`);
  return { proc, keepAlivePort, closePort, statsSocket, root, nginxClient };
}

/** One GET over mTLS (the bench's readiness probe of the mTLS upstream). */
function mtlsGet(port, tlsOptions, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const req = https.request({ host: HOST, port, path: '/', agent: false, timeout: timeoutMs, ...tlsOptions }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', (err) => resolve({ status: 0, body: '', error: err }));
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', (err) => resolve({ status: 0, body: '', error: err }));
    req.end();
  });
}

/** haproxy's `show info` over its stats socket, parsed. */
function haproxyInfo(socketPath, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    let text = '';
    sock.setEncoding('utf8');
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error(`no answer from ${socketPath}`)));
    sock.on('data', (d) => (text += d));
    sock.on('end', () => resolve(parseHaproxyInfo(text)));
    sock.on('error', reject);
    sock.end('show info\n');
  });
}

/**
 * Waits until a proxy serves / and HANDSHAKE_PATH from the mTLS upstream, then asks both
 * routes for MTLS_CHECK_PATH: the upstream's x-bench-mtls header says which TLS the proxy's
 * connection used and that the proxy's client certificate was verified. Returns those strings.
 */
async function waitMtlsRoutes(proc, port, who) {
  await waitUntil(proc, 'routed 200 on / over mTLS', servesBody(port, '/'), 15_000, { who });
  await waitUntil(proc, `routed 200 on ${HANDSHAKE_PATH} over mTLS`, servesBody(port, HANDSHAKE_PATH), 15_000, { who });
  const seen = {};
  for (const [name, urlPath] of [['keepAlive', MTLS_CHECK_PATH], ['handshake', HANDSHAKE_PATH + MTLS_CHECK_PATH]]) {
    const r = await httpGet(port, urlPath, 2000);
    const header = r.headers?.['x-bench-mtls'] ?? null;
    if (r.status !== 200 || !header || !/client-verify=0 client-cert=1\b/.test(header)) {
      throw new StartError(
        `${who}: ${urlPath} did not come from the mTLS upstream with a verified client certificate ` +
          `(status ${r.status}, x-bench-mtls: ${header ?? 'none'}${r.error ? `, ${r.error.message}` : ''})`,
        tailOf(proc),
      );
    }
    seen[name] = header;
  }
  return seen;
}

/**
 * nginx as a reverse proxy to the mTLS upstream (for context next to meshgate-mtls): client
 * certificate signed by the same mesh root, upstream chain verified against that root and its
 * name against the certificate's DNS SAN (nginx cannot check a URI SAN), keep-alive pool of 64
 * on /, and on HANDSHAKE_PATH the closing listener with session reuse off, so that every request
 * pays a full handshake there as meshgate's does (Node offers no session to resume).
 * nginx 1.22 proxies with TLSv1 to TLSv1.2 unless told otherwise: TLSv1.3 like meshgate.
 */
async function startNginxMtlsProxy(id, { pin, onUpstreamTls }) {
  const up = await ensureMtlsUpstream(null);
  const dir = makeDir(id);
  const port = await freePort();
  const conf = nginxConfig(
    dir,
    1,
    `  upstream mtls_keepalive {
    server ${HOST}:${up.keepAlivePort};
    keepalive 64;
    keepalive_requests 1000000;
  }
  upstream mtls_close {
    server ${HOST}:${up.closePort};
  }
  server {
    listen ${HOST}:${port};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_ssl_certificate ${up.nginxClient.certFile};
    proxy_ssl_certificate_key ${up.nginxClient.keyFile};
    proxy_ssl_trusted_certificate ${up.root.certFile};
    proxy_ssl_verify on;
    proxy_ssl_verify_depth 2;
    proxy_ssl_name ${MTLS_SERVER_DNS};
    proxy_ssl_server_name on;
    proxy_ssl_protocols TLSv1.2 TLSv1.3;
    location / { proxy_pass https://mtls_keepalive; }
    location ${HANDSHAKE_PATH} { proxy_pass https://mtls_close; proxy_ssl_session_reuse off; }
  }`,
  );
  const proc = await startNginxInstance(id, dir, conf, pin);
  onUpstreamTls?.(await waitMtlsRoutes(proc, port, id));
  return { proc, port };
}

/**
 * The readiness check of a proxy listening with `listener` on `port`. A proxy listens with
 * 'http' (plaintext HTTP/1.1), 'tls' (TLS offering ALPN h2 and http/1.1, so it serves wrk's
 * HTTP/1.1 and h2load's HTTP/2 alike) or 'h2c' (cleartext HTTP/2 with prior knowledge only).
 * Every proxy forwards plaintext HTTP/1.1 to the backend whatever it listens with.
 */
function readyCheck(listener, port, onTls) {
  if (listener === 'tls') return servesBodyTls(port, onTls);
  if (listener === 'h2c') return servesBodyH2(port, false);
  return servesBody(port);
}

/** nginx as a reverse proxy with a keep-alive upstream pool, as one would run it in production. */
async function startNginxProxy(id, backendPort, { workers, pin, listener = 'http', onTls }) {
  const dir = makeDir(id);
  const port = await freePort();
  // nginx 1.22 (Debian 12) takes "http2" as a listen parameter (the "http2 on;" directive came in
  // 1.25.1); "listen ... http2" without ssl speaks h2c with prior knowledge only.
  // Functions, so that the TLS one (which needs the certificate) is only built when used.
  const listen = {
    http: () => `listen ${HOST}:${port};`,
    tls: () => `listen ${HOST}:${port} ssl http2;
    ssl_certificate ${tlsCert.certFile};
    ssl_certificate_key ${tlsCert.keyFile};
    # nginx before 1.23.4 enables only TLSv1-TLSv1.2 unless told otherwise.
    ssl_protocols TLSv1.2 TLSv1.3;`,
    h2c: () => `listen ${HOST}:${port} http2;`,
  }[listener]();
  const conf = nginxConfig(
    dir,
    workers,
    `  upstream bench_backend {
    server ${HOST}:${backendPort};
    keepalive ${listener === 'http' ? 64 : NGINX_H2_UPSTREAM_KEEPALIVE};
    keepalive_requests 1000000;
  }
  server {
    ${listen}
    location / {
      proxy_pass http://bench_backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`,
  );
  const proc = await startNginxInstance(id, dir, conf, pin);
  await waitUntil(proc, `proxied answer on / (${listener})`, readyCheck(listener, port, onTls), 10_000);
  return { proc, port };
}

/** The `node-undici` reference proxy (REFERENCE): Node's floor on the same machine. */
async function startNodeUndici(id, backendPort, { pin }) {
  const dir = makeDir(id);
  const port = await freePort();
  const script = path.join(REPO, 'bench', 'node-undici-proxy.mjs');
  const proc = startProcess(id, process.execPath, [script, String(port), String(backendPort)], { pin, logFile: path.join(dir, 'out.log') });
  await waitUntil(proc, 'proxied answer on /', servesBody(port), 10_000);
  return { proc, port };
}

/** haproxy in http mode, reusing backend connections across client connections. */
async function startHaproxy(id, backendPort, { threads, pin, listener = 'http', onTls }) {
  const dir = makeDir(id);
  const port = await freePort();
  const cfg = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(
    cfg,
    `global
  nbthread ${threads}
  maxconn 4096

defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 30s
  http-reuse always

frontend bench
  bind ${HOST}:${port}${{ http: () => '', tls: () => ` ssl crt ${tlsCert.pemFile} alpn h2,http/1.1`, h2c: () => ' proto h2' }[listener]()}
  default_backend bench_backend

backend bench_backend
  server backend1 ${HOST}:${backendPort}
`,
  );
  // -db: stay in the foreground (no daemon), so the pid we hold is the proxy itself.
  const proc = startProcess(id, HAPROXY, ['-f', cfg, '-db'], { pin, logFile: path.join(dir, 'output.log') });
  await waitUntil(proc, `proxied answer on / (${listener})`, readyCheck(listener, port, onTls), 10_000);
  return { proc, port };
}

/**
 * What the bench applies to meshgate: a static Upstream for the backend and a VirtualService
 * routing / to it. For the TLS listener, as a user would do it: a kubernetes.io/tls Secret with
 * the bench certificate, and the VirtualService's sslConfig.secretRef pointing at it (which puts
 * it on the gateway-proxy-ssl Gateway, the --https-port listener). No alpnProtocols: the bench
 * measures what meshgate offers by default.
 */
export function meshgateRouteYaml(backendPort, { tls = false } = {}) {
  const b64 = (text) => Buffer.from(text).toString('base64');
  const secret = tls
    ? `apiVersion: v1
kind: Secret
metadata: {name: bench-tls, namespace: gloo-system}
type: kubernetes.io/tls
data:
  tls.crt: ${b64(tlsCert.certPem)}
  tls.key: ${b64(tlsCert.keyPem)}
---
`
    : '';
  const sslConfig = tls ? `  sslConfig:
    secretRef: {name: bench-tls, namespace: gloo-system}
` : '';
  return `${secret}apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: bench-backend, namespace: gloo-system}
spec:
  static:
    hosts: [{addr: ${HOST}, port: ${backendPort}}]
---
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: bench, namespace: gloo-system}
spec:
${sslConfig}  virtualHost:
    domains: ['*']
    routes:
    - matchers: [{prefix: /}]
      routeAction: {single: {upstream: {name: bench-backend, namespace: gloo-system}}}
`;
}

/**
 * What meshgate-mtls applies: two static Upstreams, one per listener of the mTLS upstream, and a
 * VirtualService routing HANDSHAKE_PATH to the closing one and / to the keep-alive one. They are
 * applied in plaintext; `meshgate istio enable-mtls` then gives each the Istio sslConfig.
 */
function meshgateMtlsRouteYaml(keepAlivePort, closePort) {
  const upstream = (name, port) => `apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: ${name}, namespace: gloo-system}
spec:
  static:
    hosts: [{addr: ${HOST}, port: ${port}}]
---
`;
  return `${upstream('bench-mtls', keepAlivePort)}${upstream('bench-mtls-handshake', closePort)}apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: bench, namespace: gloo-system}
spec:
  virtualHost:
    domains: ['*']
    routes:
    - matchers: [{prefix: ${HANDSHAKE_PATH}}]
      routeAction: {single: {upstream: {name: bench-mtls-handshake, namespace: gloo-system}}}
    - matchers: [{prefix: /}]
      routeAction: {single: {upstream: {name: bench-mtls, namespace: gloo-system}}}
`;
}

/** Runs a meshgate CLI command against a running meshgate; throws with its output if it fails. */
async function meshgateCli(proc, controlPort, args) {
  const res = await runCommand(
    process.execPath,
    [MESHGATE_BIN, ...args, '--control-plane', `http://${HOST}:${controlPort}`],
    { timeoutMs: 30_000 },
  );
  if (res.error || res.code !== 0) {
    const out = (res.stdout + res.stderr).trim().slice(-3000);
    throw new StartError(
      `"meshgate ${args.slice(0, 2).join(' ')}" failed (${res.error?.message ?? `exit ${res.code ?? res.signal}`})`,
      `--- meshgate ${args[0]} output ---\n${out}\n${tailOf(proc)}`,
    );
  }
  return res.stdout.trim();
}

/** Does `meshgate up --help` offer --workers? Decides whether the all-cores variant can run. */
async function meshgateHasWorkersFlag() {
  if (!fs.existsSync(MESHGATE_BIN)) return false;
  const res = await runCommand(process.execPath, [MESHGATE_BIN, 'up', '--help'], { timeoutMs: 15_000 });
  return /--workers\b/.test(res.stdout + res.stderr);
}

/**
 * meshgate with its control plane: start, wait for /ready on the admin port, apply the route to
 * the backend through the CLI (as a user would), then wait until the route actually serves.
 * Only the port flags are passed (plus --workers for the all-cores variant). With listener
 * 'tls' the route (and Secret) go to the --https-port listener; 'http' and 'h2c' both use the
 * plaintext --http-port listener, where meshgate is to accept h2c with prior knowledge next to
 * HTTP/1.1: its readiness is checked over HTTP/1.1 there, and HTTP/2 by the row's own check.
 */
async function startMeshgate(id, backendPort, { workers, pin, listener = 'http', upstream = 'backend', onTls, onUpstreamTls }) {
  if (!fs.existsSync(MESHGATE_BIN)) {
    throw new StartError(`${path.relative(REPO, MESHGATE_BIN)} not found (is the CLI written and built?)`);
  }
  const dir = makeDir(id);
  const [httpPort, httpsPort, adminPort, controlPort, caPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const args = [
    MESHGATE_BIN, 'up',
    '--data-dir', path.join(dir, 'data'),
    '--http-port', String(httpPort),
    '--https-port', String(httpsPort),
    '--admin-port', String(adminPort),
    '--control-port', String(controlPort),
    // Both meshgate targets run at once: each needs its own CA port too.
    '--ca-port', String(caPort),
  ];
  // The one-process rows say so: `up` forks one worker per core by default.
  args.push('--workers', String(workers ?? 1));
  const proc = startProcess(id, process.execPath, args, { pin, logFile: path.join(dir, 'output.log') });
  try {
    await waitUntil(proc, '200 on admin /ready', async () => (await httpGet(adminPort, '/ready')).status === 200, 30_000);

    const routeFile = path.join(dir, 'route.yaml');
    if (upstream === 'mtls') {
      // The gateway's mesh identity comes from the CA that `meshgate up` creates in its data dir
      // (docs/mesh.md); the mTLS upstream gets a certificate signed by that root, read in place.
      const ca = path.join(dir, 'data', 'ca');
      const root = {
        certFile: path.join(ca, 'root-cert.pem'),
        keyFile: path.join(ca, 'root-key.pem'),
        source: `meshgate's CA (${id}'s data dir, ca/root-cert.pem and ca/root-key.pem)`,
      };
      for (const f of [root.certFile, root.keyFile]) {
        if (!fs.existsSync(f)) throw new StartError(`${id}: ${f} not found once meshgate was ready (where is the mesh root?)`, tailOf(proc));
      }
      const up = await ensureMtlsUpstream(root);
      fs.writeFileSync(routeFile, meshgateMtlsRouteYaml(up.keepAlivePort, up.closePort), { mode: 0o600 });
      await meshgateCli(proc, controlPort, ['apply', '-f', routeFile]);
      // As a user does it: the sslConfig glooctl writes, with Istio's SDS names.
      for (const name of ['bench-mtls', 'bench-mtls-handshake']) {
        log(`${id}: ${await meshgateCli(proc, controlPort, ['istio', 'enable-mtls', '--upstream', name])}`);
      }
      onUpstreamTls?.(await waitMtlsRoutes(proc, httpPort, id));
      return { proc, port: httpPort };
    }
    fs.writeFileSync(routeFile, meshgateRouteYaml(backendPort, { tls: listener === 'tls' }), { mode: 0o600 });
    await meshgateCli(proc, controlPort, ['apply', '-f', routeFile]);
    if (listener === 'tls') {
      await waitUntil(proc, 'routed 200 on / over TLS', servesBodyTls(httpsPort, onTls), 15_000);
    } else {
      await waitUntil(proc, 'routed 200 on /', servesBody(httpPort), 15_000);
    }
  } catch (err) {
    await stopProcess(proc); // a half-started meshgate must not eat CPU while others are measured
    throw err;
  }
  return { proc, port: listener === 'tls' ? httpsPort : httpPort };
}

// ---------------------------------------------------------------------------------------------
// Measuring

/**
 * One wrk run against a URL (http:// or https://); wrk shares core 1 with the backend unless pin
 * is null. extraArgs: e.g. -H 'Connection: close' for the handshake rows.
 */
async function runWrk(url, seconds, pin, extraArgs = []) {
  const args = [`-t${WRK_THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', ...extraArgs, url];
  const res = await runCommand(WRK, args, { pin, timeoutMs: (seconds + 30) * 1000 });
  if (res.error || res.code !== 0) {
    throw new Error(`wrk failed (${res.error?.message ?? `exit ${res.code ?? res.signal}`}):\n${res.stdout}${res.stderr}`);
  }
  return { ...parseWrk(res.stdout), raw: res.stdout };
}

/**
 * One hey run at the fixed rate: HEY_WORKERS workers, each with one keep-alive connection and
 * HEY_QPS_PER_WORKER requests/s (each worker waits for its response before its next tick; a tick
 * missed while waiting is dropped, so a slow server shows as a rate below LATENCY_RATE, which the
 * table flags). -cpus 1: hey's Go runtime gets one thread, as it has one core (core 1). No
 * compression asked, so no server compresses the body.
 */
async function runHey(url, seconds, pin) {
  const args = ['-z', `${seconds}s`, '-c', String(HEY_WORKERS), '-q', String(HEY_QPS_PER_WORKER), '-cpus', '1', '-disable-compression', url];
  const res = await runCommand(HEY, args, { pin, timeoutMs: (seconds + 30) * 1000 });
  if (res.error || res.code !== 0) {
    throw new Error(`hey failed (${res.error?.message ?? `exit ${res.code ?? res.signal}`}):\n${res.stdout}${res.stderr}`);
  }
  return { ...parseHey(res.stdout), raw: res.stdout };
}

// h2load's per-request log goes to tmpfs when there is one: several MB per run that should not
// be written back to disk (by kernel threads, on some core) while the next run is measured.
const H2_LOG_DIR = (() => {
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return '/dev/shm';
  } catch {
    return null; // then the bench's temp dir
  }
})();
let h2LogCount = 0;
const strayFiles = new Set(); // h2load logs outside tmpRoot, removed on exit whatever happens

/**
 * One h2load run: HTTP/2 over TLS (ALPN h2 only, so it can never quietly fall back to HTTP/1.1)
 * for an https:// URL, h2c with prior knowledge (h2load's default) for an http:// one. The
 * summary gives requests/s and counts; --log-file gives one line per request, from which the
 * bench computes p50 and p99 (h2load itself prints only min/max/mean/sd). Writing that line costs
 * h2load one write() per request, a few percent of its core: the same for every HTTP/2 row.
 */
async function runH2load(url, seconds, pin) {
  const logFile = path.join(H2_LOG_DIR ?? tmpRoot, `meshgate-bench-h2load-${process.pid}-${++h2LogCount}.log`);
  const tls = url.startsWith('https:');
  const args = [
    `-t${H2_THREADS}`, `-c${H2_CLIENTS}`, `-m${H2_STREAMS}`, '-D', String(seconds), `--log-file=${logFile}`,
    ...(tls ? ['--npn-list=h2', `--tls13-ciphers=${TLS13_CIPHERS}`] : []),
    url,
  ];
  strayFiles.add(logFile);
  try {
    const res = await runCommand(H2LOAD, args, { pin, timeoutMs: (seconds + 30) * 1000 });
    if (res.error || res.code !== 0) {
      throw new Error(`h2load failed (${res.error?.message ?? `exit ${res.code ?? res.signal}`}):\n${res.stdout}${res.stderr}`);
    }
    const summary = parseH2load(res.stdout);
    let log = { responses: 0, failedStreams: 0, p50Ms: null, p99Ms: null };
    try {
      log = parseH2loadLog(fs.readFileSync(logFile, 'utf8'));
    } catch (err) {
      if (err.code !== 'ENOENT') throw err; // h2load makes no file when no request finished
    }
    return { ...summary, p50Ms: log.p50Ms, p99Ms: log.p99Ms, loggedResponses: log.responses, raw: res.stdout };
  } finally {
    fs.rmSync(logFile, { force: true });
    strayFiles.delete(logFile);
  }
}

/** Pids of a process and all its descendants, via /proc/<pid>/task/<tid>/children. */
function processTree(pid) {
  const pids = [pid];
  let tasks = [];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return pids; // the process is gone
  }
  for (const tid of tasks) {
    let kids = '';
    try {
      kids = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const kid of kids.split(/\s+/).filter(Boolean)) pids.push(...processTree(Number(kid)));
  }
  return pids;
}

// Clock ticks per second of /proc/<pid>/stat's times: 100 on every Linux the bench runs on
// (x86-64, arm64); main() asks getconf to be sure.
let clockTicks = 100;

/**
 * CPU time (user + system) used so far by a server with all its workers and threads, in seconds:
 * utime and stime of /proc/<pid>/stat cover every thread of a process.
 */
function treeCpuSeconds(pid) {
  let ticks = 0;
  for (const p of new Set(processTree(pid))) {
    try {
      // fields after the ")" that ends the command name: state is field 3, utime 14, stime 15
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited between listing and reading
    }
  }
  return ticks / clockTicks;
}

/** Resident memory of a server with all its workers, in MB (sum of VmRSS over the tree). */
function treeRssMB(pid) {
  let kB = 0;
  for (const p of new Set(processTree(pid))) {
    try {
      const m = fs.readFileSync(`/proc/${p}/status`, 'utf8').match(/^VmRSS:\s+(\d+)\s+kB/m);
      if (m) kB += Number(m[1]);
    } catch {
      // exited between listing and reading
    }
  }
  return kB / 1024;
}

// ---------------------------------------------------------------------------------------------
// Report

const fmt = (v, digits = 2) => (v === null || v === undefined ? '-' : v.toFixed(digits));
const fmtInt = (v) => (v === null || v === undefined ? '-' : Math.round(v).toLocaleString('en-US'));

/** Medians per target, totals of errors, and ratios to nginx's row of the same kind. */
function summarize(targets) {
  const byId = new Map(targets.map((t) => [t.id, t]));
  for (const t of targets) {
    const runs = t.runs;
    t.summary = {
      runs: runs.length,
      requestsPerSec: median(runs.map((r) => r.requestsPerSec)),
      // (max - min) / median: how much the rounds disagreed, so a reader can judge the noise
      requestsPerSecSpreadPct: runs.length > 1
        ? (100 * (Math.max(...runs.map((r) => r.requestsPerSec)) - Math.min(...runs.map((r) => r.requestsPerSec)))) /
          median(runs.map((r) => r.requestsPerSec))
        : null,
      p50Ms: median(runs.map((r) => r.p50Ms)),
      p99Ms: median(runs.map((r) => r.p99Ms)),
      rssMB: median(runs.map((r) => r.rssMB)),
      cpuPct: median(runs.map((r) => r.cpuPct)),
      // requests per second of the proxy's own CPU time: what it would do with a whole core to
      // itself, whoever else was the limit (the mTLS table shows it)
      requestsPerCpuSecond: median(runs.map((r) => (r.cpuPct > 0 ? r.requestsPerSec / (r.cpuPct / 100) : null))),
      non2xxTotal: runs.reduce((a, r) => a + r.non2xx, 0),
      errorsTotal: runs.reduce((a, r) => a + r.errorsTotal, 0),
    };
  }
  for (const t of targets) {
    // each row against nginx's row of the same kind: one-process meshgate (and 1-thread haproxy)
    // vs one-worker nginx, all-cores vs all-cores, -tls vs nginx-tls, -h2 vs nginx-h2, ...
    const base = byId.get(`nginx${t.variant}`);
    t.vsNginx = null;
    if (t.family === 'nginx' || !base || !t.summary.runs || !base.summary?.runs) continue;
    const ratio = (a, b) => (a !== null && b ? a / b : null);
    t.vsNginx = {
      baseline: base.id,
      requestsPerSecRatio: ratio(t.summary.requestsPerSec, base.summary.requestsPerSec),
      p99Ratio: ratio(t.summary.p99Ms, base.summary.p99Ms),
    };
  }
  summarizeLatency(targets, byId.get('direct'));
  summarizeMtls(targets, byId);
}

/**
 * The latency rows against `direct`: the latency a proxy adds is, per round, its p50 (p99) minus
 * direct's p50 (p99) in the same round, and the median of that over the rounds (pairing by round
 * keeps a slow drift of the machine out of the difference). hey prints times in 0.1 ms steps, so
 * each difference is good to about 0.1 ms.
 */
export function latencyAdded(runs, directRuns) {
  const diffs = (key) => runs.map((r) => {
    const d = directRuns.find((x) => x.round === r.round);
    return d && r[key] !== null && d[key] !== null ? Number((r[key] - d[key]).toFixed(4)) : null;
  });
  const p99AddedMs = median(diffs('p99Ms'));
  return {
    p50AddedMs: median(diffs('p50Ms')),
    p99AddedMs,
    targetMs: LATENCY_TARGET_MS,
    targetMet: p99AddedMs === null ? null : p99AddedMs <= LATENCY_TARGET_MS,
  };
}

function summarizeLatency(targets, direct) {
  for (const t of targets.filter((x) => x.group === 'latency')) {
    const runs = t.runs;
    t.latency = {
      rateRequested: LATENCY_RATE,
      runsHoldingRate: runs.filter((r) => r.rateHeld).length,
      ...(t.family !== 'direct' && direct?.runs.length ? latencyAdded(runs, direct.runs) : {}),
    };
  }
}

/**
 * The mTLS rows: the upstream's new TLS connections per second (handshakes), and for -mtls the
 * ratio of requests/s to the same proxy's plaintext row (target 4: meshgate's at least 0.8).
 */
function summarizeMtls(targets, byId) {
  for (const t of targets.filter((x) => x.group === 'mtls')) {
    const plain = t.variant === '-mtls' ? byId.get(t.family) : null;
    const measuredBoth = plain?.summary?.runs && t.summary.runs;
    const r = measuredBoth && plain.summary.requestsPerSec ? t.summary.requestsPerSec / plain.summary.requestsPerSec : null;
    const perCpu = measuredBoth && plain.summary.requestsPerCpuSecond && t.summary.requestsPerCpuSecond !== null
      ? t.summary.requestsPerCpuSecond / plain.summary.requestsPerCpuSecond
      : null;
    t.mtls = {
      upstreamTlsConnsPerSec: median(t.runs.map((x) => x.upstreamTlsConnsPerSec)),
      upstreamTlsConnsTotal: t.runs.reduce((a, x) => a + (x.upstreamTlsConns ?? 0), 0),
      upstreamCpuPct: median(t.runs.map((x) => x.upstreamCpuPct)),
      plaintextBaseline: plain ? plain.id : null,
      vsPlaintext: r,
      vsPlaintextPerCpuSecond: perCpu,
      targetRatio: t.variant === '-mtls' ? MTLS_RATIO_TARGET : null,
      targetMet: t.variant === '-mtls' && r !== null ? r >= MTLS_RATIO_TARGET : null,
      upstreamTls: t.server.upstreamTls?.[t.variant === '-mtls' ? 'keepAlive' : 'handshake'] ?? null,
    };
  }
}

/** A failed or unmeasured row: id, setup and the reason, spanning the other columns. */
function failedRow(t) {
  return [t.id, t.setup, `${t.status.toUpperCase()}: ${(t.error ?? 'no runs').split('\n')[0]}`];
}
const measured = (t) => t.status === 'ok' && t.summary?.runs;
const ratioCell = (v) => (v === null || v === undefined ? '-' : `${fmt(v)}x`);

/**
 * Prints rows under a header, first two columns left-aligned, the rest right-aligned. A failed
 * target's row is id, setup and a message spanning the rest: only its first two cells take part
 * in the column widths.
 */
function printRows(header, rows) {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.filter((r) => i < 2 || r.length > 3).map((r) => (r[i] ?? '').length)),
  );
  const line = (cells) =>
    cells
      .map((c, i) => (i < 2 || cells.length <= 3 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

/** rateCells are the first cells of a wrk or h2load row: target, setup, req/s, spread, p50, p99, CPU %. */
function rateCells(t) {
  const s = t.summary;
  return [
    t.id,
    t.setup,
    fmtInt(s.requestsPerSec),
    s.requestsPerSecSpreadPct === null ? '-' : `${fmt(s.requestsPerSecSpreadPct, 0)}%`,
    fmt(s.p50Ms),
    fmt(s.p99Ms),
    fmt(s.cpuPct, 0),
  ];
}

/** The main table: plaintext, TLS and HTTP/2 rows. */
function printTable(targets) {
  const header = ['target', 'setup', 'req/s', 'spread', 'p50 ms', 'p99 ms', 'CPU %', 'RSS MB', 'non-2xx', 'errors', 'req/s vs nginx', 'p99 vs nginx'];
  const rows = targets.map((t) => {
    if (!measured(t)) return failedRow(t);
    const s = t.summary;
    const v = t.vsNginx;
    return [
      ...rateCells(t),
      fmt(s.rssMB, 1),
      String(s.non2xxTotal),
      String(s.errorsTotal),
      t.family === 'nginx' ? '(baseline)' : v ? `${fmt(v.requestsPerSecRatio)}x` : '-',
      t.family === 'nginx' ? '(baseline)' : v ? `${fmt(v.p99Ratio)}x` : '-',
    ];
  });
  printRows(header, rows);
}

/** The latency rows (target 3): achieved rate, percentiles, and what each proxy adds to direct's. */
function printLatencyTable(targets, opts) {
  console.log(
    `\nLatency at a fixed ${LATENCY_RATE.toLocaleString('en-US')} requests/s (hey -c ${HEY_WORKERS} -q ${HEY_QPS_PER_WORKER}, ` +
      `${BODY_1K.length}-byte body, ${opts.rounds} round(s) of ${opts.latencyDuration}s; medians; ` +
      '"added" = median over the rounds of (row - direct) in the same round; hey reports 0.1 ms steps):',
  );
  const header = ['target', 'setup', 'req/s', 'p50 ms', 'p99 ms', 'p50 added', 'p99 added', `p99 added <= ${LATENCY_TARGET_MS} ms`, 'CPU %', 'non-2xx', 'errors'];
  const rows = targets.map((t) => {
    if (!measured(t)) return failedRow(t);
    const s = t.summary;
    const l = t.latency;
    const rate = fmtInt(s.requestsPerSec) + (l.runsHoldingRate < s.runs ? '*' : '');
    const direct = t.family === 'direct';
    return [
      t.id,
      t.setup,
      rate,
      fmt(s.p50Ms, 1),
      fmt(s.p99Ms, 1),
      direct ? '(baseline)' : fmt(l.p50AddedMs, 1),
      direct ? '(baseline)' : fmt(l.p99AddedMs, 1),
      // the target is meshgate's; nginx's and haproxy's figures are there for context
      t.family !== 'meshgate' || l.targetMet === undefined || l.targetMet === null ? '-' : l.targetMet ? 'met' : 'MISSED',
      fmt(s.cpuPct, 0),
      String(s.non2xxTotal),
      String(s.errorsTotal),
    ];
  });
  printRows(header, rows);
  const slow = targets.filter((t) => measured(t) && t.latency.runsHoldingRate < t.summary.runs);
  for (const t of slow) {
    console.log(
      `* ${t.id}: below ${LATENCY_RATE_HELD * LATENCY_RATE} responses/s in ${t.summary.runs - t.latency.runsHoldingRate} of ` +
        `${t.summary.runs} run(s): the fixed rate was not held (hey drops a worker's tick while it waits for a response)`,
    );
  }
}

/** The mTLS rows (target 4): requests/s over mTLS, handshakes/s, ratios. */
function printMtlsTable(targets, opts) {
  console.log(
    `\nmTLS to the upstream (wrk -c${CONNECTIONS} keep-alive to the proxy, ${opts.rounds} round(s) of ${opts.mtlsDuration}s; medians). ` +
      '-mtls-handshake: the upstream closes every connection, so each request needs a new one. ' +
      '"up TLS conn/s" = TLS connections the mTLS upstream accepted per second (the proxy\'s handshakes), "up CPU %" its CPU; ' +
      '"req/CPU-s" = requests per second of the proxy\'s own CPU time (-mtls-handshake: handshakes per CPU-second), ' +
      'what it would do with a whole core whoever else was the limit; "vs plain" = req/s over the proxy\'s plaintext row, ' +
      '"per-CPU vs plain" the same with req/CPU-s; "vs nginx" = req/s over nginx\'s row of the same kind; RSS and more in --json:',
  );
  const header = ['target', 'setup', 'req/s', 'spread', 'p50 ms', 'p99 ms', 'CPU %', 'req/CPU-s', 'non-2xx', 'errors',
    'up TLS conn/s', 'up CPU %', 'vs plain', `target >= ${MTLS_RATIO_TARGET}`, 'per-CPU vs plain', 'vs nginx'];
  const rows = targets.map((t) => {
    if (!measured(t)) return failedRow(t);
    const s = t.summary;
    const m = t.mtls;
    return [
      ...rateCells(t),
      fmtInt(s.requestsPerCpuSecond),
      String(s.non2xxTotal),
      String(s.errorsTotal),
      fmtInt(m.upstreamTlsConnsPerSec),
      fmt(m.upstreamCpuPct, 0),
      t.variant === '-mtls' ? (m.vsPlaintext === null ? `- (no ${t.family} row)` : ratioCell(m.vsPlaintext)) : '-',
      t.family !== 'meshgate' || m.targetMet === null ? '-' : m.targetMet ? 'met' : 'MISSED',
      t.variant === '-mtls' ? ratioCell(m.vsPlaintextPerCpuSecond) : '-',
      t.family === 'nginx' ? '(baseline)' : ratioCell(t.vsNginx?.requestsPerSecRatio),
    ];
  });
  printRows(header, rows);
}

/**
 * What TLS each TLS row actually used: the bench's probe (no ALPN, like wrk) per server, and
 * h2load's own report per HTTP/2 row, grouped so that "all the same" reads as one line.
 */
function printTlsSummary(servers, targets) {
  const seen = new Map();
  const add = (what, who) => seen.set(what, [...(seen.get(what) ?? []), who]);
  for (const s of servers) if (s.tls) add(`${s.tls.protocol} ${s.tls.cipher}`, `${s.id} (probe)`);
  for (const t of targets) {
    const r = t.runs.find((x) => x.tlsProtocol);
    if (r) add(`${r.tlsProtocol} ${r.cipher}`, `${t.id} (h2load)`);
  }
  for (const [what, who] of seen) console.log(`TLS negotiated: ${what}: ${who.join(', ')}`);
  // What the mTLS upstream saw of each proxy's connection (its x-bench-mtls header, one probe per route).
  const up = new Map();
  for (const s of servers) {
    for (const [route, what] of Object.entries(s.upstreamTls ?? {})) {
      up.set(what, [...(up.get(what) ?? []), `${s.id} ${route === 'keepAlive' ? '/' : HANDSHAKE_PATH}`]);
    }
  }
  for (const [what, who] of up) console.log(`upstream mTLS (as the mTLS upstream saw it): ${what}: ${who.join(', ')}`);
}

async function machineInfo() {
  const first = (res) => (res.stdout + res.stderr).trim().split('\n')[0] || `unavailable (${res.error?.message ?? res.code})`;
  const [nginx, haproxy, wrk, h2load, openssl, hey] = await Promise.all([
    runCommand(NGINX, ['-v'], { timeoutMs: 5000 }), // prints on stderr
    runCommand(HAPROXY, ['-v'], { timeoutMs: 5000 }),
    runCommand(WRK, ['-v'], { timeoutMs: 5000 }), // exits 1 after printing its version; that is fine
    runCommand(H2LOAD, ['--version'], { timeoutMs: 5000 }),
    runCommand(OPENSSL, ['version'], { timeoutMs: 5000 }),
    // hey prints no version of its own: the Debian package's
    runCommand('dpkg-query', ['-W', '-f=${Version}', 'hey'], { timeoutMs: 5000 }),
  ]);
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    kernel: os.release(), // what `uname -r` prints
    node: process.version,
    nodeOpenssl: process.versions.openssl,
    nginx: first(nginx),
    haproxy: first(haproxy),
    wrk: first(wrk),
    h2load: first(h2load),
    openssl: first(openssl),
    hey: hey.code === 0 && hey.stdout.trim() ? `${hey.stdout.trim()} (Debian package)` : 'version unknown',
  };
}

// ---------------------------------------------------------------------------------------------
// Command line and main

const FAMILIES = ['nginx', 'haproxy', 'meshgate'];
/**
 * REFERENCE is the `node-undici` row: bench/node-undici-proxy.mjs, the least a Node proxy does
 * with meshgate's building blocks (node:http in front, undici's Pool behind), on one pinned core.
 * It is the platform's floor in the same run: what separates it from nginx is Node's, what
 * separates meshgate from it is meshgate's. Plaintext HTTP/1.1 only.
 */
const REFERENCE = 'node-undici';

/**
 * The kinds of rows, in table order; each proxy family gets each (or those in `families`).
 * `server` names the proxy instance a row runs on: the -tls, -tls-handshake and -h2 rows of a
 * proxy share one process (a TLS listener offering ALPN h2 and http/1.1), so they differ only in
 * the load driving it; the -latency rows run on the plaintext rows' process, on the 1 kB path;
 * -mtls and -mtls-handshake share a process whose upstream is the mTLS upstream. `direct` (no
 * proxy: a twin of the backend on core 0) is the latency rows' baseline. group: what --only calls them
 * together (plain = the plaintext HTTP/1.1 rows). path: what the load asks for.
 */
const VARIANTS = [
  { suffix: '', group: 'plain', server: '', listener: 'http', load: 'wrk', allCores: false, families: [...FAMILIES, REFERENCE] },
  { suffix: '-all', group: 'plain', server: '-all', listener: 'http', load: 'wrk', allCores: true },
  { suffix: '-tls', group: 'tls', server: '-tls', listener: 'tls', load: 'wrk', allCores: false },
  { suffix: '-tls-handshake', group: 'tls', server: '-tls', listener: 'tls', load: 'wrk-close', allCores: false },
  { suffix: '-h2', group: 'h2', server: '-tls', listener: 'tls', load: 'h2load', allCores: false },
  { suffix: '-h2c', group: 'h2', server: '-h2c', listener: 'h2c', load: 'h2load', allCores: false },
  { suffix: '-latency', group: 'latency', server: '', listener: 'http', load: 'hey', allCores: false, path: LATENCY_PATH, families: ['direct', ...FAMILIES, REFERENCE] },
  { suffix: '-mtls', group: 'mtls', server: '-mtls', listener: 'http', upstream: 'mtls', load: 'wrk', allCores: false, families: ['nginx', 'meshgate'] },
  { suffix: '-mtls-handshake', group: 'mtls', server: '-mtls', listener: 'http', upstream: 'mtls', load: 'wrk', allCores: false, path: HANDSHAKE_PATH, families: ['nginx', 'meshgate'] },
];
const GROUPS = ['plain', 'tls', 'h2', 'latency', 'mtls', 'ca', 'scale'];
/** Groups that are no proxy rows: the CA's issuance (bench/ca.mjs) and the control plane at scale (bench/scale.mjs). */
const OTHER_GROUPS = ['ca', 'scale'];
const MAIN_GROUPS = ['plain', 'tls', 'h2']; // the main table; latency and mtls get tables of their own
const rowId = (family, v) => (family === 'direct' ? 'direct' : family + v.suffix);
const TARGET_IDS = VARIANTS.flatMap((v) => (v.families ?? FAMILIES).map((f) => rowId(f, v)));

/**
 * The row another row's figures are relative to, which --only brings along: a latency row's is
 * `direct`, an -mtls row's the same proxy's plaintext row (its "vs plaintext" ratio).
 */
function baselineOf(id, family, v) {
  if (v.group === 'latency' && family !== 'direct') return 'direct';
  if (v.suffix === '-mtls') return family;
  return null;
}

/** Seconds per measured run of the TLS and HTTP/2 rows when not given: half of --duration, at least 3 (or --duration if shorter). */
export function defaultTlsH2Duration(duration) {
  return Math.max(Math.ceil(duration / 2), Math.min(duration, 3));
}

const USAGE = `usage: node bench/bench.mjs [options]
  --rounds N              rounds; each round measures every target once (default 3)
  --duration S            seconds per measured run of the plaintext HTTP/1.1 rows (default 8)
  --tls-h2-duration S     seconds per measured run of the -tls, -tls-handshake, -h2 and -h2c rows
                          (default: half of --duration, at least 3; so 4, and 3 with --quick)
  --latency-duration S    seconds per measured run of the latency rows (default 4; 3 with --quick)
  --mtls-duration S       seconds per measured run of the -mtls and -mtls-handshake rows (default 3)
  --warmup S              seconds of the warm-up run before a target's first measurement (default 2)
  --quick                 1 round of 3 s (warm-up 1 s): a smoke test, not a result
  --only LIST             comma-separated targets, families or groups:
                            targets:  ${VARIANTS.slice(0, 2).flatMap((v) => FAMILIES.map((f) => rowId(f, v))).join(', ')}, ${REFERENCE},
                                      ${VARIANTS.slice(2, 4).flatMap((v) => FAMILIES.map((f) => rowId(f, v))).join(', ')},
                                      ${VARIANTS.slice(4, 6).flatMap((v) => FAMILIES.map((f) => rowId(f, v))).join(', ')},
                                      ${VARIANTS[6].families.map((f) => rowId(f, VARIANTS[6])).join(', ')},
                                      ${VARIANTS.slice(7).flatMap((v) => v.families.map((f) => rowId(f, v))).join(', ')}
                            families: ${FAMILIES.join(', ')} (every row of that proxy)
                                      (${REFERENCE}: Node's floor, bench/node-undici-proxy.mjs)
                            groups:   plain (HTTP/1.1 rows), tls (-tls, -tls-handshake), h2 (-h2, -h2c),
                                      latency (direct, -latency), mtls (-mtls, -mtls-handshake),
                                      ca (the mesh CA's issuance, bench/ca.mjs),
                                      scale (10,000 VirtualServices and Upstreams, bench/scale.mjs)
                          a latency row brings direct along, an -mtls row its proxy's plaintext row
  --json FILE             also write all raw runs, medians and ratios to FILE
  -h, --help              this help`;

function parseCli(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      'tls-h2-duration': { type: 'string' },
      'latency-duration': { type: 'string' },
      'mtls-duration': { type: 'string' },
      warmup: { type: 'string' },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const int = (name, v, dflt, min) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
  const quick = values.quick;
  const only = values.only
    ? values.only.split(',').map((s) => s.trim()).filter(Boolean)
    : null;
  const known = [...TARGET_IDS, ...FAMILIES, REFERENCE, ...GROUPS];
  for (const name of only ?? []) {
    if (!known.includes(name)) {
      throw new UsageError(`--only: unknown target "${name}" (known: ${TARGET_IDS.join(', ')}; families ${FAMILIES.join(', ')}; groups ${GROUPS.join(', ')})`);
    }
  }
  // 8 s and 4 s (below) keep a full run of every row, the ca and scale groups under 10 minutes.
  const duration = int('duration', values.duration, quick ? 3 : 8, 1);
  return {
    help: values.help,
    quick,
    rounds: int('rounds', values.rounds, quick ? 1 : 3, 1),
    duration,
    tlsH2Duration: int('tls-h2-duration', values['tls-h2-duration'], defaultTlsH2Duration(duration), 1),
    latencyDuration: int('latency-duration', values['latency-duration'], quick ? 3 : 4, 1),
    mtlsDuration: int('mtls-duration', values['mtls-duration'], 3, 1),
    warmup: int('warmup', values.warmup, quick ? 1 : 2, 0),
    only,
    json: values.json ?? null,
  };
}

class UsageError extends Error {}

/**
 * The targets (table rows) to measure, in their base order, and the servers they run on; each
 * server knows how to start itself (given the backend: { proc, port }). With `only`, the rows
 * named (by target, family or group) plus the baselines they need (baselineOf).
 */
export function defineTargets(only, pinning) {
  const pin = pinning ? PROXY_CORE : null;
  const setups = {
    nginx: { one: '1 worker, core 0', all: '2 workers, all cores' },
    haproxy: { one: 'nbthread 1, core 0', all: 'nbthread 2, all cores' },
    meshgate: { one: '1 process, core 0', all: '--workers 2, all cores' },
    [REFERENCE]: { one: pinning ? 'node:http + undici, core 0' : 'node:http + undici' },
    direct: { one: pinning ? 'backend twin, core 0' : 'backend twin' },
  };
  const starters = {
    // `direct` is the backend's twin where the proxies run (core 0): hey (core 1) talks to a
    // server on the other core, as it does through a proxy. With the backend itself, on hey's
    // core, hey's bursts and nginx's answers would take turns on one core (measured: a higher
    // p50 straight to the backend than through meshgate).
    direct: (id) => startBackend(pinning, { name: 'direct (nginx, backend twin)', dirName: 'direct', pin }),
    nginx: (id, backend, all, o) =>
      o.upstream === 'mtls'
        ? startNginxMtlsProxy(id, { pin: all ? null : pin, ...o })
        : startNginxProxy(id, backend.port, { workers: all ? 2 : 1, pin: all ? null : pin, ...o }),
    haproxy: (id, backend, all, o) => startHaproxy(id, backend.port, { threads: all ? 2 : 1, pin: all ? null : pin, ...o }),
    meshgate: (id, backend, all, o) => startMeshgate(id, backend.port, { workers: all ? 2 : null, pin: all ? null : pin, ...o }),
    [REFERENCE]: (id, backend) => startNodeUndici(id, backend.port, { pin }),
  };
  const rows = VARIANTS.flatMap((v) => (v.families ?? FAMILIES).map((family) => ({ v, family, id: rowId(family, v) })));
  let chosen = new Set(rows.map((r) => r.id));
  if (only) {
    chosen = new Set(rows.filter((r) => only.includes(r.id) || only.includes(r.family) || only.includes(r.v.group)).map((r) => r.id));
    for (const r of rows) {
      const base = chosen.has(r.id) ? baselineOf(r.id, r.family, r.v) : null;
      if (base) chosen.add(base);
    }
  }
  const servers = new Map();
  const targets = [];
  for (const { v, family, id } of rows) {
    if (!chosen.has(id)) continue;
    const key = family === 'direct' ? 'direct' : family + v.server;
    if (!servers.has(key)) {
      const server = {
        id: key, family, listener: v.listener, upstream: v.upstream ?? 'backend', allCores: v.allCores,
        status: 'pending', error: null, proc: null, port: null, tls: null, upstreamTls: null, rows: [],
      };
      server.start = (backend) =>
        starters[family](key, backend, v.allCores, {
          listener: v.listener,
          upstream: server.upstream,
          onTls: (tls) => (server.tls = tls),
          onUpstreamTls: (seen) => (server.upstreamTls = seen),
        });
      servers.set(key, server);
    }
    const target = {
      id, family, variant: v.suffix, group: v.group, load: v.load, allCores: v.allCores, path: v.path ?? '/',
      setup: v.allCores ? setups[family].all : setups[family].one,
      server: servers.get(key),
      status: 'pending', error: null, runs: [], warmedUp: false,
    };
    target.server.rows.push(target);
    targets.push(target);
  }
  return { targets, servers: [...servers.values()] };
}

/** The tools the selected rows need (nginx always: it is the backend). */
function checkTools(targets) {
  const need = [NGINX];
  const mtls = targets.some((t) => t.server.upstream === 'mtls');
  if (mtls || targets.some((t) => t.family === 'haproxy')) need.push(HAPROXY); // haproxy is the mTLS upstream
  if (targets.some((t) => t.load === 'wrk' || t.load === 'wrk-close')) need.push(WRK);
  if (targets.some((t) => t.load === 'h2load')) need.push(H2LOAD);
  if (targets.some((t) => t.load === 'hey')) need.push(HEY);
  if (mtls || targets.some((t) => t.server.listener === 'tls')) need.push(OPENSSL);
  const missing = need.filter((f) => !fs.existsSync(f));
  if (missing.length) {
    throw new Error(`missing ${missing.join(', ')}; run: bash scripts/system-deps.sh bench (as root)`);
  }
}

const log = (msg) => process.stderr.write(msg + '\n'); // progress on stderr; results on stdout

function printHeader(machine, date, opts, pinning, targets) {
  const has = (group) => targets.some((t) => t.group === group);
  console.log(`meshgate bench, ${date}`);
  console.log(`machine: ${machine.cores} cores (${machine.cpuModel}), kernel ${machine.kernel}, node ${machine.node}`);
  console.log(`tools:   ${machine.nginx}; ${machine.haproxy}; ${machine.wrk}`);
  if (has('tls') || has('h2') || has('mtls')) console.log(`         ${machine.h2load}; ${machine.openssl}; node's OpenSSL ${machine.nodeOpenssl}`);
  if (has('latency')) console.log(`         hey ${machine.hey}`);
  console.log(
    `load:    ${opts.rounds} round(s), warm-up ${opts.warmup}s, ${BODY.length}-byte body` +
      (pinning ? '; proxy on core 0, backend + load generator on core 1 (all-cores variants unpinned)' : '; NOT pinned (fewer than 2 cores)'),
  );
  if (has('plain')) console.log(`         plaintext rows: wrk -t${WRK_THREADS} -c${CONNECTIONS} -d${opts.duration}s --latency http://... (keep-alive)`);
  if (has('tls')) {
    console.log(`         -tls rows: wrk -t${WRK_THREADS} -c${CONNECTIONS} -d${opts.tlsH2Duration}s --latency https://... (keep-alive)`);
    console.log(`         -tls-handshake rows: the same with -H 'Connection: close' (a new TLS connection per request)`);
  }
  if (has('h2')) {
    console.log(
      `         -h2/-h2c rows: h2load -t${H2_THREADS} -c${H2_CLIENTS} -m${H2_STREAMS} -D ${opts.tlsH2Duration} ` +
        '(TLS with ALPN h2 / h2c with prior knowledge); p50/p99 from its per-request log',
    );
  }
  if (has('tls') || has('h2')) console.log('         TLS: self-signed ECDSA P-256 certificate made at start; proxies forward plaintext HTTP/1.1');
  if (has('latency')) {
    console.log(
      `         latency rows: hey -z ${opts.latencyDuration}s -c ${HEY_WORKERS} -q ${HEY_QPS_PER_WORKER} http://...${LATENCY_PATH} ` +
        `(${LATENCY_RATE.toLocaleString('en-US')} req/s fixed, ${HEY_WORKERS} keep-alive connections, ${BODY_1K.length}-byte body)`,
    );
  }
  if (has('mtls')) {
    console.log(`         -mtls rows: wrk -t${WRK_THREADS} -c${CONNECTIONS} -d${opts.mtlsDuration}s --latency http://...; the proxy's upstream is mTLS`);
    console.log(`           (haproxy on core 1, verify required, ECDSA P-256 certificate with ${MTLS_SERVER_ID}); -mtls-handshake: the upstream closes every connection`);
  }
  if (opts.quick) console.log('         QUICK MODE: one short round, figures are indicative only');
  console.log('');
}

/**
 * Starts every server the selected targets need, then runs each row's own check (HTTP/2 rows:
 * one GET over HTTP/2, with ALPN h2 or h2c prior knowledge). nginx or haproxy failing either
 * means the bench itself is broken: that throws. meshgate failing is a finding about meshgate:
 * its rows are marked failed and the others still run.
 */
async function startTargets(targets, servers, backend) {
  // meshgate-all needs --workers; if the CLI does not offer it, skip that variant, not the bench.
  const mgAll = servers.find((s) => s.id === 'meshgate-all');
  if (mgAll && fs.existsSync(MESHGATE_BIN) && !(await meshgateHasWorkersFlag())) {
    mgAll.status = 'skipped';
    mgAll.error = '`meshgate up --help` does not list --workers';
    console.log('meshgate-all skipped: `meshgate up --help` does not list --workers');
  }
  // meshgate-mtls first: the mTLS upstream it starts trusts meshgate's own mesh root, which
  // nginx-mtls then uses too (see ensureMtlsUpstream).
  const first = (x) => (x.family === 'meshgate' && x.upstream === 'mtls' ? 0 : 1);
  for (const s of [...servers].sort((a, b) => first(a) - first(b)).filter((x) => x.status === 'pending')) {
    try {
      const { proc, port } = await s.start(backend);
      Object.assign(s, { proc, port, status: 'ok' });
      log(`${s.id} ready on ${HOST}:${port}${s.tls ? ` (${s.tls.protocol}, ${s.tls.cipher})` : ''}`);
    } catch (err) {
      if (s.family !== 'meshgate') throw annotate(err, s.id);
      s.status = 'failed';
      s.error = err.message;
      console.error(`\nERROR: ${s.id} did not start: ${err.message}`);
      if (err.tail) console.error(err.tail);
      console.error('(continuing with the other targets)\n');
    }
  }
  for (const t of targets) {
    const s = t.server;
    if (s.status !== 'ok') {
      t.status = s.status;
      t.error = s.error;
      continue;
    }
    if (t.load === 'h2load') {
      const tls = s.listener === 'tls';
      try {
        await waitUntil(s.proc, `HTTP/2 answer on / (${tls ? 'TLS with ALPN h2' : 'h2c with prior knowledge'})`,
          servesBodyH2(s.port, tls), H2_CHECK_MS, { who: t.id });
      } catch (err) {
        if (t.family !== 'meshgate') throw annotate(err, t.id);
        t.status = 'failed';
        t.error = err.message;
        console.error(`\nERROR: ${err.message}\n(continuing with the other targets)\n`);
        continue;
      }
    }
    if (t.load === 'hey' && t.family !== 'direct') {
      try {
        await waitUntil(s.proc, `proxied ${BODY_1K.length}-byte answer on ${LATENCY_PATH}`,
          servesBody(s.port, LATENCY_PATH, BODY_1K), 10_000, { who: t.id });
      } catch (err) {
        if (t.family !== 'meshgate') throw annotate(err, t.id);
        t.status = 'failed';
        t.error = err.message;
        console.error(`\nERROR: ${err.message}\n(continuing with the other targets)\n`);
        continue;
      }
    }
    t.status = 'ok';
  }
  for (const s of servers) await stopIfUnused(s);
}

/** A server none of whose rows can be measured must not eat CPU while the others are measured. */
async function stopIfUnused(server) {
  if (server.proc && !server.proc.exited && !server.rows.some((t) => t.status === 'ok')) await stopProcess(server.proc);
}

// The HTTP/2 check runs once the server already serves its route over HTTP/1.1 (or, for nginx
// and haproxy h2c, over HTTP/2): a few seconds cover a slow first answer, not a missing protocol.
const H2_CHECK_MS = 5000;

/** One load run of a target's kind: wrk (keep-alive or Connection: close), h2load or hey. */
function runLoad(t, seconds, pin) {
  const url = `${t.server.listener === 'tls' ? 'https' : 'http'}://${HOST}:${t.server.port}${t.path}`;
  if (t.load === 'h2load') return runH2load(url, seconds, pin);
  if (t.load === 'hey') return runHey(url, seconds, pin);
  return runWrk(url, seconds, pin, t.load === 'wrk-close' ? ['-H', 'Connection: close'] : []);
}

/**
 * An h2load run that was not HTTP/2 at all (no h2 negotiated, no request succeeded) fails its
 * row: for meshgate the row is marked failed with h2load's reason; for nginx or haproxy the
 * bench is broken, which throws. Returns whether the run counts.
 */
function acceptRun(t, r, what) {
  if (t.load !== 'h2load') return true;
  const why = h2RunFailure(r, t.server.listener === 'tls' ? 'h2' : 'h2c');
  if (!why) return true;
  if (t.family !== 'meshgate') throw new StartError(`${t.id}: ${what}: ${why}`, r.raw);
  t.status = 'failed';
  t.error = `${t.id}: ${what}: ${why}`;
  t.failedRun = r;
  console.error(`\nERROR: ${t.error}\n${r.raw.trim().split('\n').slice(-12).join('\n')}\n(no more runs of ${t.id})\n`);
  return false;
}

/** One measured run of one target (after a warm-up the first time), recorded in t.runs. */
async function measureOnce(t, round, opts, backend, loadPin) {
  if (backend.proc.exited) throw new StartError(`backend ${backend.proc.exitInfo} during the bench`, tailOf(backend.proc));
  const s = t.server;
  if (s.proc.exited) {
    t.status = 'failed';
    t.error = `${s.id} ${s.proc.exitInfo} during the bench`;
    console.error(`\nERROR: ${t.id}: ${t.error}\n${tailOf(s.proc)}\n`);
    return;
  }
  const pin = t.allCores ? null : loadPin;
  const seconds = { plain: opts.duration, latency: opts.latencyDuration, mtls: opts.mtlsDuration }[t.group] ?? opts.tlsH2Duration;
  // For the -mtls rows: the TLS connections the mTLS upstream accepted during the run.
  const mtlsUp = s.upstream === 'mtls' ? await mtlsUpstreamPromise : null;
  if (!t.warmedUp && opts.warmup > 0) {
    // First requests pay for JIT compilation, connection pools and page faults: not measured.
    const w = await runLoad(t, opts.warmup, pin);
    if (!acceptRun(t, w, 'warm-up')) return stopIfUnused(s);
    t.warmedUp = true;
  } else if (t.variant === '-mtls' && opts.warmup > 0) {
    // The pooled mTLS row's rounds are minutes apart, and by then the proxies' pools (60 s idle)
    // and the upstream (30 s) have closed their idle connections: a run would start with 64 full
    // handshakes, the -mtls-handshake row's cost, not the pooled one. One second refills the pool.
    const w = await runLoad(t, 1, pin);
    if (!acceptRun(t, w, 'pool refill')) return stopIfUnused(s);
  }
  // The proxy's CPU use over the run: near 100% (one core) for a pinned proxy means the proxy was
  // the limit; well below, the load generator or the backend was.
  const upBefore = mtlsUp ? await haproxyInfo(mtlsUp.statsSocket) : null;
  const upCpuBefore = mtlsUp ? treeCpuSeconds(mtlsUp.proc.pid) : 0;
  const cpuBefore = treeCpuSeconds(s.proc.pid);
  const started = process.hrtime.bigint();
  const r = await runLoad(t, seconds, pin);
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuPct = (100 * (treeCpuSeconds(s.proc.pid) - cpuBefore)) / wallS;
  if (!acceptRun(t, r, `round ${round}`)) return stopIfUnused(s);
  const rssMB = treeRssMB(s.proc.pid); // right after the run, while its buffers are still held
  const extra = {};
  if (mtlsUp) {
    const upAfter = await haproxyInfo(mtlsUp.statsSocket);
    extra.upstreamTlsConns = upAfter.CumSslConns - upBefore.CumSslConns;
    extra.upstreamTlsConnsPerSec = extra.upstreamTlsConns / wallS;
    extra.upstreamSessionReusePct = upAfter.SslFrontendSessionReuse_pct ?? null; // haproxy's, over the last second
    // near 100 would mean the upstream, not the proxy, was the limit
    extra.upstreamCpuPct = (100 * (treeCpuSeconds(mtlsUp.proc.pid) - upCpuBefore)) / wallS;
  }
  if (t.load === 'hey') extra.rateHeld = r.requestsPerSec >= LATENCY_RATE_HELD * LATENCY_RATE;
  t.runs.push({ round, ...r, rssMB, cpuPct, ...extra });
  log(
    `round ${round}/${opts.rounds}  ${t.id.padEnd(23)} ${fmtInt(r.requestsPerSec).padStart(8)} req/s` +
      `  p50 ${fmt(r.p50Ms)} ms  p99 ${fmt(r.p99Ms)} ms  CPU ${fmt(cpuPct, 0)}%  RSS ${fmt(rssMB, 1)} MB` +
      (mtlsUp
        ? `  upstream TLS conn/s ${fmtInt(extra.upstreamTlsConnsPerSec)} (resumed ${extra.upstreamSessionReusePct ?? '-'}%), upstream CPU ${fmt(extra.upstreamCpuPct, 0)}%`
        : '') +
      (extra.rateHeld === false ? `  RATE NOT HELD (${LATENCY_RATE} req/s asked)` : '') +
      (r.non2xx ? `  non-2xx ${r.non2xx}` : '') +
      (r.errorsTotal ? `  errors ${r.errorsTotal}` : ''),
  );
}

function writeJson(file, { date, machine, opts, pinning, targets, mtlsRootSource, ca = null, scale = null }) {
  const data = {
    date,
    machine,
    settings: {
      rounds: opts.rounds, durationS: opts.duration, tlsH2DurationS: opts.tlsH2Duration, warmupS: opts.warmup,
      quick: opts.quick, wrkThreads: WRK_THREADS, connections: CONNECTIONS, bodyBytes: BODY.length, pinning,
      h2load: { threads: H2_THREADS, clients: H2_CLIENTS, maxConcurrentStreams: H2_STREAMS, tls13Ciphers: TLS13_CIPHERS },
      certificate: 'self-signed ECDSA P-256, made with openssl at start',
      latency: {
        durationS: opts.latencyDuration, tool: 'hey', workers: HEY_WORKERS, qpsPerWorker: HEY_QPS_PER_WORKER,
        rate: LATENCY_RATE, rateHeldShare: LATENCY_RATE_HELD, path: LATENCY_PATH, bodyBytes: BODY_1K.length, targetP99AddedMs: LATENCY_TARGET_MS,
      },
      mtls: {
        durationS: opts.mtlsDuration, upstream: 'haproxy on core 1, verify required, answering the body itself',
        serverIdentity: MTLS_SERVER_ID, handshakePath: HANDSHAKE_PATH, targetRatio: MTLS_RATIO_TARGET,
        meshRoot: mtlsRootSource,
      },
    },
    targets: targets.map((t) => ({
      id: t.id, setup: t.setup, group: t.group, server: t.server.id, listener: t.server.listener, load: t.load,
      path: t.path, upstream: t.server.upstream, allCores: t.allCores, status: t.status, error: t.error, tls: t.server.tls,
      runs: t.runs, failedRun: t.failedRun ?? null, median: t.summary, vsNginx: t.vsNginx,
      ...(t.latency ? { latency: t.latency } : {}),
      ...(t.mtls ? { mtls: t.mtls } : {}),
    })),
    ca,
    scale,
    issue5Targets: targetRows(new Map(targets.filter(measured).map((t) => [t.id, t])), scale, ca)
      .map(([figure, measuredValue, goal, verdict]) => ({ figure, measured: measuredValue, goal, verdict })),
  };
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  log(`wrote ${file}`);
}

async function main(argv) {
  const opts = parseCli(argv);
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  // Pinning needs cores 0 and 1; on a 1-core machine everything just shares the one core.
  const pinning = os.availableParallelism() >= 2;
  benchLoadCore = pinning ? LOAD_CORE : null;
  const { targets, servers } = defineTargets(opts.only, pinning);
  const others = OTHER_GROUPS.filter((g) => !opts.only || opts.only.includes(g));
  checkTools(targets);
  const machine = await machineInfo();
  const ticks = await runCommand('getconf', ['CLK_TCK'], { timeoutMs: 5000 });
  if (Number(ticks.stdout) > 0) clockTicks = Number(ticks.stdout);
  const date = new Date().toISOString();
  printHeader(machine, date, opts, pinning, targets);

  tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-bench-'));
  if (servers.some((s) => s.listener === 'tls')) tlsCert = await makeCertificate();
  let backend;
  if (targets.length) {
    try {
      backend = await startBackend(pinning);
    } catch (err) {
      throw annotate(err, 'backend');
    }
    log(`backend (nginx) ready on ${HOST}:${backend.port}`);
    await startTargets(targets, servers, backend);
  }

  // Every round measures every live target once, starting one further along the list each time.
  for (let round = 0; round < opts.rounds; round++) {
    const live = targets.filter((t) => t.status === 'ok');
    for (const t of rotate(live, round)) {
      if (t.status === 'ok') await measureOnce(t, round + 1, opts, backend, pinning ? LOAD_CORE : null);
    }
  }

  summarize(targets);
  const mainRows = targets.filter((t) => MAIN_GROUPS.includes(t.group));
  if (mainRows.length) {
    console.log('');
    const hasPlain = mainRows.some((t) => t.group === 'plain');
    const hasTlsH2 = mainRows.some((t) => t.group !== 'plain');
    const durations = hasPlain && hasTlsH2 && opts.tlsH2Duration !== opts.duration
      ? `${opts.duration}s (TLS and HTTP/2 rows: ${opts.tlsH2Duration}s)`
      : `${hasPlain ? opts.duration : opts.tlsH2Duration}s`;
    console.log(
      `medians over ${opts.rounds} round(s) of ${durations}; spread = (max - min) / median of req/s; ` +
        'CPU % = the proxy\'s CPU time over the run\'s wall time (100 = one core); ' +
        'non-2xx and errors (wrk: socket errors; h2load: errored and timed-out requests) are totals over all runs',
    );
    printTable(mainRows);
  }
  const latency = targets.filter((t) => t.group === 'latency');
  if (latency.length) printLatencyTable(latency, opts);
  const mtls = targets.filter((t) => t.group === 'mtls');
  if (mtls.length) printMtlsTable(mtls, opts);
  const mtlsRootSource = mtlsUpstreamPromise ? (await mtlsUpstreamPromise.catch(() => null))?.root.source ?? null : null;
  if (mtlsRootSource) console.log(`mTLS upstream's certificates (and nginx-mtls's client certificate) signed by ${mtlsRootSource}`);
  printTlsSummary(servers, targets);
  // The proxies are idle from here on; the CA and scale benches start their own processes.
  const { ca, scale, otherFailures } = await runOtherBenches(others, opts);
  const byId = new Map(targets.filter(measured).map((t) => [t.id, t]));
  console.log(`\nIssue #5's targets, from this run${opts.quick ? ' (QUICK: indicative only)' : ''}:`);
  printRows(['figure', 'measured', 'goal', 'verdict', 'node-undici (floor)'], targetRows(byId, scale, ca));
  if (opts.json) writeJson(opts.json, { date, machine, opts, pinning, targets, mtlsRootSource, ca, scale });

  const failed = [...targets.filter((t) => t.status === 'failed').map((t) => t.id), ...otherFailures];
  if (failed.length) {
    console.error(`\n${failed.join(', ')} failed; exit code 1`);
    return 1;
  }
  return 0;
}

/**
 * runOtherBenches runs the CA's issuance bench and the control plane at scale (both start
 * their own processes and pin them themselves), printing a short table of each. A failure is
 * printed and reported, and the rest still runs.
 */
async function runOtherBenches(groups, opts) {
  let ca = null;
  let scale = null;
  const otherFailures = [];
  if (groups.includes('ca')) {
    log('\nca: the mesh CA issuing workload certificates (bench/ca.mjs)');
    try {
      const { runCaBench } = await import('./ca.mjs');
      ca = await runCaBench({ durationMs: opts.quick ? 2000 : 5000, warmupMs: opts.quick ? 500 : 1000, log });
      console.log('\nMesh CA issuance (ECDSA P-256 CSRs; signing path: one call at a time in one process; gRPC: CreateCertificate over TLS, 16 in flight):');
      printRows(['path', 'certs/s', 'p50 ms', 'p99 ms'], [
        ['signing (CSR in, chain out)', fmtInt(ca.certsPerSecond), fmt(ca.p50Ms, 3), fmt(ca.p99Ms, 3)],
        ...(ca.grpc ? [['gRPC CreateCertificate', fmtInt(ca.grpc.certsPerSecond), fmt(ca.grpc.p50Ms), fmt(ca.grpc.p99Ms)]] : []),
      ]);
    } catch (err) {
      console.error(`ca: FAILED: ${err.message}`);
      otherFailures.push('ca');
    }
  }
  if (groups.includes('scale')) {
    const size = opts.quick ? { virtualServices: 2000, upstreams: 2000, applies: 20, translations: 3 } : {};
    log('\nscale: the control plane with 10,000 VirtualServices and 10,000 Upstreams (bench/scale.mjs)');
    try {
      const { runScaleBench } = await import('./scale.mjs');
      scale = await runScaleBench({ ...size, log });
      console.log(`\nControl plane at scale (${fmtInt(scale.virtualServices)} VirtualServices, ${fmtInt(scale.upstreams)} Upstreams; ${scale.applies} applies):`);
      printRows(['figure', 'value'], [
        ['full translation, median', `${fmtInt(scale.translateMs)} ms`],
        ['incremental translation (one VirtualService changed)', scale.incrementalTranslateMs == null ? '-' : `${fmt(scale.incrementalTranslateMs, 1)} ms`],
        ['apply → live on the proxy, p50 / p99', `${fmt(scale.applyP50Ms, 1)} / ${fmt(scale.applyP99Ms, 1)} ms`],
        ['proxy RSS (a Proxy alone with the snapshot) / meshgate up RSS', `${fmtInt(scale.proxyRssMb)} / ${fmtInt(scale.upRssMb)} MB`],
        ['route lookup at 10 / 10,000 virtual hosts (mixed domains)', `${fmtInt(scale.lookupNsPerOp?.[10]?.mixed)} / ${fmtInt(scale.lookupNsPerOp?.[10000]?.mixed)} ns`],
      ]);
    } catch (err) {
      console.error(`scale: FAILED: ${err.message}`);
      otherFailures.push('scale');
    }
  }
  return { ca, scale, otherFailures };
}

function annotate(err, who) {
  if (!(err instanceof StartError)) err.message = `${who}: ${err.message}`;
  return err;
}

// Ctrl-C / kill: stop every child and remove the temp dir before exiting.
let interrupted = false;
function onSignal(sig) {
  if (interrupted) return;
  interrupted = true;
  log(`\n${sig}: stopping servers and cleaning up`);
  cleanup().finally(() => process.exit(130));
}

// Run only when executed, not when imported by the parse test.
const isMain = (() => {
  try {
    return import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
})();

if (isMain) {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, onSignal);
  // Last resort if something exits the process without going through cleanup().
  process.on('exit', () => {
    for (const p of children) signalGroup(p, 'SIGKILL');
    if (tmpRoot) fs.rmSync(tmpRoot, { recursive: true, force: true });
    for (const f of strayFiles) fs.rmSync(f, { force: true });
  });
  let code = 1;
  try {
    code = await main(process.argv.slice(2));
  } catch (err) {
    if (!interrupted) {
      if (err instanceof UsageError || err?.code?.startsWith?.('ERR_PARSE_ARGS')) {
        console.error(`${err.message}\n\n${USAGE}`);
        code = 2;
      } else {
        console.error(`\nERROR: ${err.message}`);
        if (err.tail) console.error(err.tail);
        code = 1;
      }
    }
  } finally {
    await cleanup();
  }
  if (!interrupted) process.exit(code);
}
