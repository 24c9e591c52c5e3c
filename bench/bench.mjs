#!/usr/bin/env node
// bench/bench.mjs: measures meshgate side by side with nginx and haproxy, over loopback only.
//
// Run with `npm run bench` (installs nginx/haproxy/wrk/h2load/openssl if missing and builds
// meshgate first), or directly:
//   node bench/bench.mjs [--quick] [--rounds N] [--duration S] [--tls-h2-duration S] [--json FILE] [--only LIST]
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
// Only node: built-ins: the bench must run on a fresh checkout without extra npm packages.

import { spawn } from 'node:child_process';
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
      res.on('end', () => resolve({ status: res.statusCode, body }));
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

/** Why a probe's answer is not the backend's body: a short, one-line reason for error messages. */
function probeFailure(res) {
  if (res.error) {
    // An HTTP/2 stream cancelled because its TLS session failed: the TLS error is the news.
    const e = res.error.cause ?? res.error;
    const what = e.reason ?? String(e.message).split('\n')[0];
    const hint = PROBE_HINTS[e.code];
    return `${e.code ? `${e.code}: ` : ''}${what}${hint ? ` (${hint})` : ''}`;
  }
  if (res.status !== 200) return `status ${res.status}`;
  if (res.body !== BODY) return `unexpected body (${res.body.length} bytes)`;
  return null;
}

// Checks for waitUntil: true once / serves the backend's body, else the reason why not.
const servesBody = (port) => async () => probeFailure(await httpGet(port, '/')) ?? true;
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

/** The backend every proxy forwards to: nginx answering any path with the 200-byte body. */
async function startBackend(pinning) {
  const dir = makeDir('backend');
  const port = await freePort();
  const conf = nginxConfig(
    dir,
    1,
    `  server {
    listen ${HOST}:${port};
    location / { default_type text/plain; return 200 "${BODY}"; }
  }`,
  );
  const proc = await startNginxInstance('backend (nginx)', dir, conf, pinning ? LOAD_CORE : null);
  await waitUntil(proc, 'answer on /', servesBody(port), 10_000);
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
  const listen = {
    http: `listen ${HOST}:${port};`,
    tls: `listen ${HOST}:${port} ssl http2;
    ssl_certificate ${tlsCert.certFile};
    ssl_certificate_key ${tlsCert.keyFile};
    # nginx before 1.23.4 enables only TLSv1-TLSv1.2 unless told otherwise.
    ssl_protocols TLSv1.2 TLSv1.3;`,
    h2c: `listen ${HOST}:${port} http2;`,
  }[listener];
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
  bind ${HOST}:${port}${{ http: '', tls: ` ssl crt ${tlsCert.pemFile} alpn h2,http/1.1`, h2c: ' proto h2' }[listener]}
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
function meshgateRouteYaml(backendPort, { tls = false } = {}) {
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
async function startMeshgate(id, backendPort, { workers, pin, listener = 'http', onTls }) {
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
  if (workers) args.push('--workers', String(workers));
  const proc = startProcess(id, process.execPath, args, { pin, logFile: path.join(dir, 'output.log') });
  try {
    await waitUntil(proc, '200 on admin /ready', async () => (await httpGet(adminPort, '/ready')).status === 200, 30_000);

    const routeFile = path.join(dir, 'route.yaml');
    fs.writeFileSync(routeFile, meshgateRouteYaml(backendPort, { tls: listener === 'tls' }), { mode: 0o600 });
    const applied = await runCommand(
      process.execPath,
      [MESHGATE_BIN, 'apply', '-f', routeFile, '--control-plane', `http://${HOST}:${controlPort}`],
      { timeoutMs: 30_000 },
    );
    if (applied.error || applied.code !== 0) {
      const out = (applied.stdout + applied.stderr).trim().slice(-3000);
      throw new StartError(
        `"meshgate apply" failed (${applied.error?.message ?? `exit ${applied.code ?? applied.signal}`})`,
        `--- meshgate apply output ---\n${out}\n${tailOf(proc)}`,
      );
    }
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
}

function printTable(targets) {
  const header = ['target', 'setup', 'req/s', 'spread', 'p50 ms', 'p99 ms', 'CPU %', 'RSS MB', 'non-2xx', 'errors', 'req/s vs nginx', 'p99 vs nginx'];
  const rows = targets.map((t) => {
    if (t.status !== 'ok' || !t.summary?.runs) {
      return [t.id, t.setup, `${t.status.toUpperCase()}: ${(t.error ?? 'no runs').split('\n')[0]}`];
    }
    const s = t.summary;
    const v = t.vsNginx;
    return [
      t.id,
      t.setup,
      fmtInt(s.requestsPerSec),
      s.requestsPerSecSpreadPct === null ? '-' : `${fmt(s.requestsPerSecSpreadPct, 0)}%`,
      fmt(s.p50Ms),
      fmt(s.p99Ms),
      fmt(s.cpuPct, 0),
      fmt(s.rssMB, 1),
      String(s.non2xxTotal),
      String(s.errorsTotal),
      t.family === 'nginx' ? '(baseline)' : v ? `${fmt(v.requestsPerSecRatio)}x` : '-',
      t.family === 'nginx' ? '(baseline)' : v ? `${fmt(v.p99Ratio)}x` : '-',
    ];
  });
  // A failed target's row is id, setup and a message spanning the rest: only its first two cells
  // take part in the column widths.
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
}

async function machineInfo() {
  const first = (res) => (res.stdout + res.stderr).trim().split('\n')[0] || `unavailable (${res.error?.message ?? res.code})`;
  const [nginx, haproxy, wrk, h2load, openssl] = await Promise.all([
    runCommand(NGINX, ['-v'], { timeoutMs: 5000 }), // prints on stderr
    runCommand(HAPROXY, ['-v'], { timeoutMs: 5000 }),
    runCommand(WRK, ['-v'], { timeoutMs: 5000 }), // exits 1 after printing its version; that is fine
    runCommand(H2LOAD, ['--version'], { timeoutMs: 5000 }),
    runCommand(OPENSSL, ['version'], { timeoutMs: 5000 }),
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
  };
}

// ---------------------------------------------------------------------------------------------
// Command line and main

/**
 * The kinds of rows, in table order; every proxy family gets each. `server` names the proxy
 * instance a row runs on: the -tls, -tls-handshake and -h2 rows of a proxy share one process (a
 * TLS listener offering ALPN h2 and http/1.1), so they differ only in the load driving it.
 * group: what --only calls them together (plain = the plaintext HTTP/1.1 rows).
 */
const VARIANTS = [
  { suffix: '', group: 'plain', server: '', listener: 'http', load: 'wrk', allCores: false },
  { suffix: '-all', group: 'plain', server: '-all', listener: 'http', load: 'wrk', allCores: true },
  { suffix: '-tls', group: 'tls', server: '-tls', listener: 'tls', load: 'wrk', allCores: false },
  { suffix: '-tls-handshake', group: 'tls', server: '-tls', listener: 'tls', load: 'wrk-close', allCores: false },
  { suffix: '-h2', group: 'h2', server: '-tls', listener: 'tls', load: 'h2load', allCores: false },
  { suffix: '-h2c', group: 'h2', server: '-h2c', listener: 'h2c', load: 'h2load', allCores: false },
];
const FAMILIES = ['nginx', 'haproxy', 'meshgate'];
const GROUPS = ['plain', 'tls', 'h2'];
const TARGET_IDS = VARIANTS.flatMap((v) => FAMILIES.map((f) => f + v.suffix));

/** Seconds per measured run of the TLS and HTTP/2 rows when not given: half of --duration, at least 3 (or --duration if shorter). */
export function defaultTlsH2Duration(duration) {
  return Math.max(Math.ceil(duration / 2), Math.min(duration, 3));
}

const USAGE = `usage: node bench/bench.mjs [options]
  --rounds N            rounds; each round measures every target once (default 3)
  --duration S          seconds per measured run of the plaintext HTTP/1.1 rows (default 10)
  --tls-h2-duration S   seconds per measured run of the -tls, -tls-handshake, -h2 and -h2c rows
                        (default: half of --duration, at least 3; so 5, and 3 with --quick)
  --warmup S            seconds of the warm-up run before a target's first measurement (default 2)
  --quick               1 round of 3 s (warm-up 1 s): a smoke test, not a result
  --only LIST           comma-separated targets, families or groups:
                          targets:  ${TARGET_IDS.slice(0, 6).join(', ')},
                                    ${TARGET_IDS.slice(6, 12).join(', ')},
                                    ${TARGET_IDS.slice(12).join(', ')}
                          families: ${FAMILIES.join(', ')} (every row of that proxy)
                          groups:   plain (HTTP/1.1 rows), tls (-tls, -tls-handshake), h2 (-h2, -h2c)
  --json FILE           also write all raw runs, medians and ratios to FILE
  -h, --help            this help`;

function parseCli(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      'tls-h2-duration': { type: 'string' },
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
  const known = [...TARGET_IDS, ...FAMILIES, ...GROUPS];
  for (const name of only ?? []) {
    if (!known.includes(name)) {
      throw new UsageError(`--only: unknown target "${name}" (known: ${TARGET_IDS.join(', ')}; families ${FAMILIES.join(', ')}; groups ${GROUPS.join(', ')})`);
    }
  }
  const duration = int('duration', values.duration, quick ? 3 : 10, 1);
  return {
    help: values.help,
    quick,
    rounds: int('rounds', values.rounds, quick ? 1 : 3, 1),
    duration,
    tlsH2Duration: int('tls-h2-duration', values['tls-h2-duration'], defaultTlsH2Duration(duration), 1),
    warmup: int('warmup', values.warmup, quick ? 1 : 2, 0),
    only,
    json: values.json ?? null,
  };
}

class UsageError extends Error {}

/**
 * The targets (table rows) to measure, in their base order, and the proxy servers they run on;
 * each server knows how to start itself.
 */
export function defineTargets(only, pinning) {
  const pin = pinning ? PROXY_CORE : null;
  const setups = {
    nginx: { one: '1 worker, core 0', all: '2 workers, all cores' },
    haproxy: { one: 'nbthread 1, core 0', all: 'nbthread 2, all cores' },
    meshgate: { one: '1 process, core 0', all: '--workers 2, all cores' },
  };
  const starters = {
    nginx: (id, b, all, o) => startNginxProxy(id, b, { workers: all ? 2 : 1, pin: all ? null : pin, ...o }),
    haproxy: (id, b, all, o) => startHaproxy(id, b, { threads: all ? 2 : 1, pin: all ? null : pin, ...o }),
    meshgate: (id, b, all, o) => startMeshgate(id, b, { workers: all ? 2 : null, pin: all ? null : pin, ...o }),
  };
  const servers = new Map();
  const targets = [];
  for (const v of VARIANTS) {
    for (const family of FAMILIES) {
      const id = family + v.suffix;
      if (only && !only.includes(id) && !only.includes(family) && !only.includes(v.group)) continue;
      const key = family + v.server;
      if (!servers.has(key)) {
        const server = {
          id: key, family, listener: v.listener, allCores: v.allCores,
          status: 'pending', error: null, proc: null, port: null, tls: null, rows: [],
        };
        server.start = (backendPort) =>
          starters[family](key, backendPort, v.allCores, { listener: v.listener, onTls: (tls) => (server.tls = tls) });
        servers.set(key, server);
      }
      const target = {
        id, family, variant: v.suffix, group: v.group, load: v.load, allCores: v.allCores,
        setup: v.allCores ? setups[family].all : setups[family].one,
        server: servers.get(key),
        status: 'pending', error: null, runs: [], warmedUp: false,
      };
      target.server.rows.push(target);
      targets.push(target);
    }
  }
  return { targets, servers: [...servers.values()] };
}

/** The tools the selected rows need (nginx always: it is the backend). */
function checkTools(targets) {
  const need = [NGINX];
  if (targets.some((t) => t.family === 'haproxy')) need.push(HAPROXY);
  if (targets.some((t) => t.load !== 'h2load')) need.push(WRK);
  if (targets.some((t) => t.load === 'h2load')) need.push(H2LOAD);
  if (targets.some((t) => t.server.listener === 'tls')) need.push(OPENSSL);
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
  if (has('tls') || has('h2')) console.log(`         ${machine.h2load}; ${machine.openssl}; node's OpenSSL ${machine.nodeOpenssl}`);
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
  if (opts.quick) console.log('         QUICK MODE: one short round, figures are indicative only');
  console.log('');
}

/**
 * Starts every server the selected targets need, then runs each row's own check (HTTP/2 rows:
 * one GET over HTTP/2, with ALPN h2 or h2c prior knowledge). nginx or haproxy failing either
 * means the bench itself is broken: that throws. meshgate failing is a finding about meshgate:
 * its rows are marked failed and the others still run.
 */
async function startTargets(targets, servers, backendPort) {
  // meshgate-all needs --workers; if the CLI does not offer it, skip that variant, not the bench.
  const mgAll = servers.find((s) => s.id === 'meshgate-all');
  if (mgAll && fs.existsSync(MESHGATE_BIN) && !(await meshgateHasWorkersFlag())) {
    mgAll.status = 'skipped';
    mgAll.error = '`meshgate up --help` does not list --workers';
    console.log('meshgate-all skipped: `meshgate up --help` does not list --workers');
  }
  for (const s of servers.filter((x) => x.status === 'pending')) {
    try {
      const { proc, port } = await s.start(backendPort);
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

/** One load run of a target's kind: wrk (keep-alive or Connection: close) or h2load. */
function runLoad(t, seconds, pin) {
  const url = `${t.server.listener === 'tls' ? 'https' : 'http'}://${HOST}:${t.server.port}/`;
  if (t.load === 'h2load') return runH2load(url, seconds, pin);
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
  const seconds = t.group === 'plain' ? opts.duration : opts.tlsH2Duration;
  if (!t.warmedUp && opts.warmup > 0) {
    // First requests pay for JIT compilation, connection pools and page faults: not measured.
    const w = await runLoad(t, opts.warmup, pin);
    if (!acceptRun(t, w, 'warm-up')) return stopIfUnused(s);
    t.warmedUp = true;
  }
  // The proxy's CPU use over the run: near 100% (one core) for a pinned proxy means the proxy was
  // the limit; well below, the load generator or the backend was.
  const cpuBefore = treeCpuSeconds(s.proc.pid);
  const started = process.hrtime.bigint();
  const r = await runLoad(t, seconds, pin);
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuPct = (100 * (treeCpuSeconds(s.proc.pid) - cpuBefore)) / wallS;
  if (!acceptRun(t, r, `round ${round}`)) return stopIfUnused(s);
  const rssMB = treeRssMB(s.proc.pid); // right after the run, while its buffers are still held
  t.runs.push({ round, ...r, rssMB, cpuPct });
  log(
    `round ${round}/${opts.rounds}  ${t.id.padEnd(23)} ${fmtInt(r.requestsPerSec).padStart(8)} req/s` +
      `  p50 ${fmt(r.p50Ms)} ms  p99 ${fmt(r.p99Ms)} ms  CPU ${fmt(cpuPct, 0)}%  RSS ${fmt(rssMB, 1)} MB` +
      (r.non2xx ? `  non-2xx ${r.non2xx}` : '') +
      (r.errorsTotal ? `  errors ${r.errorsTotal}` : ''),
  );
}

function writeJson(file, { date, machine, opts, pinning, targets }) {
  const data = {
    date,
    machine,
    settings: {
      rounds: opts.rounds, durationS: opts.duration, tlsH2DurationS: opts.tlsH2Duration, warmupS: opts.warmup,
      quick: opts.quick, wrkThreads: WRK_THREADS, connections: CONNECTIONS, bodyBytes: BODY.length, pinning,
      h2load: { threads: H2_THREADS, clients: H2_CLIENTS, maxConcurrentStreams: H2_STREAMS, tls13Ciphers: TLS13_CIPHERS },
      certificate: 'self-signed ECDSA P-256, made with openssl at start',
    },
    targets: targets.map((t) => ({
      id: t.id, setup: t.setup, group: t.group, server: t.server.id, listener: t.server.listener, load: t.load,
      allCores: t.allCores, status: t.status, error: t.error, tls: t.server.tls,
      runs: t.runs, failedRun: t.failedRun ?? null, median: t.summary, vsNginx: t.vsNginx,
    })),
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
  const { targets, servers } = defineTargets(opts.only, pinning);
  checkTools(targets);
  const machine = await machineInfo();
  const ticks = await runCommand('getconf', ['CLK_TCK'], { timeoutMs: 5000 });
  if (Number(ticks.stdout) > 0) clockTicks = Number(ticks.stdout);
  const date = new Date().toISOString();
  printHeader(machine, date, opts, pinning, targets);

  tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-bench-'));
  if (servers.some((s) => s.listener === 'tls')) tlsCert = await makeCertificate();
  let backend;
  try {
    backend = await startBackend(pinning);
  } catch (err) {
    throw annotate(err, 'backend');
  }
  log(`backend (nginx) ready on ${HOST}:${backend.port}`);
  await startTargets(targets, servers, backend.port);

  // Every round measures every live target once, starting one further along the list each time.
  for (let round = 0; round < opts.rounds; round++) {
    const live = targets.filter((t) => t.status === 'ok');
    for (const t of rotate(live, round)) {
      if (t.status === 'ok') await measureOnce(t, round + 1, opts, backend, pinning ? LOAD_CORE : null);
    }
  }

  summarize(targets);
  console.log('');
  const hasPlain = targets.some((t) => t.group === 'plain');
  const hasTlsH2 = targets.some((t) => t.group !== 'plain');
  const durations = hasPlain && hasTlsH2 && opts.tlsH2Duration !== opts.duration
    ? `${opts.duration}s (TLS and HTTP/2 rows: ${opts.tlsH2Duration}s)`
    : `${hasPlain ? opts.duration : opts.tlsH2Duration}s`;
  console.log(
    `medians over ${opts.rounds} round(s) of ${durations}; spread = (max - min) / median of req/s; ` +
      'CPU % = the proxy\'s CPU time over the run\'s wall time (100 = one core); ' +
      'non-2xx and errors (wrk: socket errors; h2load: errored and timed-out requests) are totals over all runs',
  );
  printTable(targets);
  printTlsSummary(servers, targets);
  if (opts.json) writeJson(opts.json, { date, machine, opts, pinning, targets });

  const failed = targets.filter((t) => t.status === 'failed');
  if (failed.length) {
    console.error(`\n${failed.map((t) => t.id).join(', ')} failed; exit code 1`);
    return 1;
  }
  return 0;
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
