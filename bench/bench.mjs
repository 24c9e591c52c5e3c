#!/usr/bin/env node
// bench/bench.mjs: measures meshgate side by side with nginx and haproxy, over loopback only.
//
// Run with `npm run bench` (installs nginx/haproxy/wrk if missing and builds meshgate first),
// or directly: node bench/bench.mjs [--quick] [--rounds N] [--duration S] [--json FILE] [--only LIST]
//
// Method (see docs/performance.md): a fast nginx backend serves a fixed 200-byte body; each proxy
// forwards to it; wrk drives 64 keep-alive connections. The backend and wrk share core 1 and the
// proxy under test gets core 0 to itself, so a proxy's figures are not disturbed by the load
// generator. The "all cores" variants run the proxy with two workers/threads, unpinned. Every
// round measures every target once, in a rotated order, so slow drifts of the machine (thermal,
// neighbours on a shared host) spread evenly over all targets; the report shows medians.
//
// Only node: built-ins: the bench must run on a fresh checkout without extra npm packages.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
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
const TASKSET = fs.existsSync('/usr/bin/taskset') ? '/usr/bin/taskset' : 'taskset';
// MESHGATE_BIN lets the bench itself be tested against a stand-in; normally bin/meshgate.
const MESHGATE_BIN = path.resolve(REPO, process.env.MESHGATE_BIN || 'bin/meshgate');

const PROXY_CORE = 0; // the proxy under test gets this core to itself
const LOAD_CORE = 1; // the backend and wrk share this one
const CONNECTIONS = 64;
const WRK_THREADS = 1;
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
  return {
    requestsPerSec: Number(rps[1]),
    p50Ms: latency(50),
    p99Ms: latency(99),
    requests: total ? Number(total[1]) : null,
    elapsedS: total ? toMs(total[2], total[3]) / 1000 : null,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors,
    socketErrorsTotal: Object.values(socketErrors).reduce((a, b) => a + b, 0),
  };
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

const servesBody = (port) => async () => {
  const res = await httpGet(port, '/');
  return res.status === 200 && res.body === BODY;
};

/**
 * Polls check() until it is true. Fails early, with the server's output, if the server exits;
 * fails with the same output if it is not ready within timeoutMs.
 */
async function waitUntil(proc, what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exited) throw new StartError(`${proc.name} ${proc.exitInfo} before ${what}`, tailOf(proc));
    if (await check()) return;
    if (Date.now() > deadline) {
      throw new StartError(`${proc.name}: no ${what} within ${timeoutMs / 1000} s`, tailOf(proc));
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

/** nginx as a reverse proxy with a keep-alive upstream pool, as one would run it in production. */
async function startNginxProxy(id, backendPort, { workers, pin }) {
  const dir = makeDir(id);
  const port = await freePort();
  const conf = nginxConfig(
    dir,
    workers,
    `  upstream bench_backend {
    server ${HOST}:${backendPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen ${HOST}:${port};
    location / {
      proxy_pass http://bench_backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`,
  );
  const proc = await startNginxInstance(id, dir, conf, pin);
  await waitUntil(proc, 'proxied answer on /', servesBody(port), 10_000);
  return { proc, port };
}

/** haproxy in http mode, reusing backend connections across client connections. */
async function startHaproxy(id, backendPort, { threads, pin }) {
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
  bind ${HOST}:${port}
  default_backend bench_backend

backend bench_backend
  server backend1 ${HOST}:${backendPort}
`,
  );
  // -db: stay in the foreground (no daemon), so the pid we hold is the proxy itself.
  const proc = startProcess(id, HAPROXY, ['-f', cfg, '-db'], { pin, logFile: path.join(dir, 'output.log') });
  await waitUntil(proc, 'proxied answer on /', servesBody(port), 10_000);
  return { proc, port };
}

function meshgateRouteYaml(backendPort) {
  return `apiVersion: gloo.solo.io/v1
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
  virtualHost:
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
 * Only the port flags are passed (plus --workers for the all-cores variant).
 */
async function startMeshgate(id, backendPort, { workers, pin }) {
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
    fs.writeFileSync(routeFile, meshgateRouteYaml(backendPort));
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
    await waitUntil(proc, 'routed 200 on /', servesBody(httpPort), 15_000);
  } catch (err) {
    await stopProcess(proc); // a half-started meshgate must not eat CPU while others are measured
    throw err;
  }
  return { proc, port: httpPort };
}

// ---------------------------------------------------------------------------------------------
// Measuring

/** One wrk run against a target; wrk shares core 1 with the backend unless pin is null. */
async function runWrk(port, seconds, pin) {
  const args = [`-t${WRK_THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', `http://${HOST}:${port}/`];
  const res = await runCommand(WRK, args, { pin, timeoutMs: (seconds + 30) * 1000 });
  if (res.error || res.code !== 0) {
    throw new Error(`wrk failed (${res.error?.message ?? `exit ${res.code ?? res.signal}`}):\n${res.stdout}${res.stderr}`);
  }
  return { ...parseWrk(res.stdout), raw: res.stdout };
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

/** Medians per target, totals of errors, and ratios to the matching nginx variant. */
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
      non2xxTotal: runs.reduce((a, r) => a + r.non2xx, 0),
      socketErrorsTotal: runs.reduce((a, r) => a + r.socketErrorsTotal, 0),
    };
  }
  for (const t of targets) {
    // one-process meshgate (and 1-thread haproxy) vs one-worker nginx; all-cores vs all-cores
    const base = byId.get(t.allCores ? 'nginx-all' : 'nginx');
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
  const header = ['target', 'setup', 'req/s', 'spread', 'p50 ms', 'p99 ms', 'RSS MB', 'non-2xx', 'sock err', 'req/s vs nginx', 'p99 vs nginx'];
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
      fmt(s.rssMB, 1),
      String(s.non2xxTotal),
      String(s.socketErrorsTotal),
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

async function machineInfo() {
  const first = (res) => (res.stdout + res.stderr).trim().split('\n')[0] || `unavailable (${res.error?.message ?? res.code})`;
  const [nginx, haproxy, wrk] = await Promise.all([
    runCommand(NGINX, ['-v'], { timeoutMs: 5000 }), // prints on stderr
    runCommand(HAPROXY, ['-v'], { timeoutMs: 5000 }),
    runCommand(WRK, ['-v'], { timeoutMs: 5000 }), // exits 1 after printing its version; that is fine
  ]);
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    kernel: os.release(), // what `uname -r` prints
    node: process.version,
    nginx: first(nginx),
    haproxy: first(haproxy),
    wrk: first(wrk),
  };
}

// ---------------------------------------------------------------------------------------------
// Command line and main

const TARGET_IDS = ['nginx', 'haproxy', 'meshgate', 'nginx-all', 'haproxy-all', 'meshgate-all'];

const USAGE = `usage: node bench/bench.mjs [options]
  --rounds N      rounds; each round measures every target once (default 3)
  --duration S    seconds per measured wrk run (default 10)
  --warmup S      seconds of the warm-up run before a target's first measurement (default 2)
  --quick         1 round of 3 s (warm-up 1 s): a smoke test, not a result
  --only LIST     comma-separated targets or families: ${TARGET_IDS.join(', ')}
                  (a family name such as "nginx" selects both its variants)
  --json FILE     also write all raw runs, medians and ratios to FILE
  -h, --help      this help`;

function parseCli(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
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
  for (const name of only ?? []) {
    if (!TARGET_IDS.includes(name)) throw new UsageError(`--only: unknown target "${name}" (known: ${TARGET_IDS.join(', ')})`);
  }
  return {
    help: values.help,
    quick,
    rounds: int('rounds', values.rounds, quick ? 1 : 3, 1),
    duration: int('duration', values.duration, quick ? 3 : 10, 1),
    warmup: int('warmup', values.warmup, quick ? 1 : 2, 0),
    only,
    json: values.json ?? null,
  };
}

class UsageError extends Error {}

/** The targets to measure, in their base order; each knows how to start itself. */
function defineTargets(only, pinning) {
  const pin = pinning ? PROXY_CORE : null;
  const all = [
    { id: 'nginx', family: 'nginx', allCores: false, setup: '1 worker, core 0',
      start: (b) => startNginxProxy('nginx', b, { workers: 1, pin }) },
    { id: 'haproxy', family: 'haproxy', allCores: false, setup: 'nbthread 1, core 0',
      start: (b) => startHaproxy('haproxy', b, { threads: 1, pin }) },
    { id: 'meshgate', family: 'meshgate', allCores: false, setup: '1 process, core 0',
      start: (b) => startMeshgate('meshgate', b, { workers: null, pin }) },
    { id: 'nginx-all', family: 'nginx', allCores: true, setup: '2 workers, all cores',
      start: (b) => startNginxProxy('nginx-all', b, { workers: 2, pin: null }) },
    { id: 'haproxy-all', family: 'haproxy', allCores: true, setup: 'nbthread 2, all cores',
      start: (b) => startHaproxy('haproxy-all', b, { threads: 2, pin: null }) },
    { id: 'meshgate-all', family: 'meshgate', allCores: true, setup: '--workers 2, all cores',
      start: (b) => startMeshgate('meshgate-all', b, { workers: 2, pin: null }) },
  ];
  return all
    .filter((t) => !only || only.includes(t.id) || only.includes(t.family))
    .map((t) => ({ ...t, status: 'pending', error: null, runs: [], warmedUp: false }));
}

function checkTools() {
  const missing = [NGINX, HAPROXY, WRK].filter((f) => !fs.existsSync(f));
  if (missing.length) {
    throw new Error(`missing ${missing.join(', ')}; run: bash scripts/system-deps.sh bench (as root)`);
  }
}

const log = (msg) => process.stderr.write(msg + '\n'); // progress on stderr; results on stdout

function printHeader(machine, date, opts, pinning) {
  console.log(`meshgate bench, ${date}`);
  console.log(`machine: ${machine.cores} cores (${machine.cpuModel}), kernel ${machine.kernel}, node ${machine.node}`);
  console.log(`tools:   ${machine.nginx}; ${machine.haproxy}; ${machine.wrk}`);
  console.log(
    `load:    wrk -t${WRK_THREADS} -c${CONNECTIONS} -d${opts.duration}s --latency, ${opts.rounds} round(s), ` +
      `warm-up ${opts.warmup}s, ${BODY.length}-byte body` +
      (pinning ? '; proxy on core 0, backend+wrk on core 1 (all-cores variants unpinned)' : '; NOT pinned (fewer than 2 cores)') +
      (opts.quick ? '\n         QUICK MODE: one short round, figures are indicative only' : ''),
  );
  console.log('');
}

/**
 * Starts every selected target. nginx or haproxy failing means the bench itself is broken: that
 * throws. meshgate failing is a finding about meshgate: it is reported and the others still run.
 */
async function startTargets(targets, backendPort) {
  // meshgate-all needs --workers; if the CLI does not offer it, skip that variant, not the bench.
  const mgAll = targets.find((t) => t.id === 'meshgate-all');
  if (mgAll && fs.existsSync(MESHGATE_BIN) && !(await meshgateHasWorkersFlag())) {
    mgAll.status = 'skipped';
    mgAll.error = '`meshgate up --help` does not list --workers';
    console.log('meshgate-all skipped: `meshgate up --help` does not list --workers');
  }
  for (const t of targets.filter((x) => x.status === 'pending')) {
    try {
      const { proc, port } = await t.start(backendPort);
      Object.assign(t, { proc, port, status: 'ok' });
      log(`${t.id} ready on ${HOST}:${port}`);
    } catch (err) {
      if (t.family !== 'meshgate') throw annotate(err, t.id);
      t.status = 'failed';
      t.error = err.message;
      console.error(`\nERROR: ${t.id} did not start: ${err.message}`);
      if (err.tail) console.error(err.tail);
      console.error('(continuing with the other targets)\n');
    }
  }
}

/** One measured run of one target (after a warm-up the first time), recorded in t.runs. */
async function measureOnce(t, round, opts, backend, loadPin) {
  if (backend.proc.exited) throw new StartError(`backend ${backend.proc.exitInfo} during the bench`, tailOf(backend.proc));
  if (t.proc.exited) {
    t.status = 'failed';
    t.error = `${t.id} ${t.proc.exitInfo} during the bench`;
    console.error(`\nERROR: ${t.error}\n${tailOf(t.proc)}\n`);
    return;
  }
  const wrkPin = t.allCores ? null : loadPin;
  if (!t.warmedUp && opts.warmup > 0) {
    // First requests pay for JIT compilation, connection pools and page faults: not measured.
    await runWrk(t.port, opts.warmup, wrkPin);
    t.warmedUp = true;
  }
  const r = await runWrk(t.port, opts.duration, wrkPin);
  const rssMB = treeRssMB(t.proc.pid); // right after the run, while its buffers are still held
  t.runs.push({ round, ...r, rssMB });
  log(
    `round ${round}/${opts.rounds}  ${t.id.padEnd(12)} ${fmtInt(r.requestsPerSec).padStart(8)} req/s` +
      `  p50 ${fmt(r.p50Ms)} ms  p99 ${fmt(r.p99Ms)} ms  RSS ${fmt(rssMB, 1)} MB` +
      (r.non2xx ? `  non-2xx ${r.non2xx}` : '') +
      (r.socketErrorsTotal ? `  socket errors ${r.socketErrorsTotal}` : ''),
  );
}

function writeJson(file, { date, machine, opts, pinning, targets }) {
  const data = {
    date,
    machine,
    settings: {
      rounds: opts.rounds, durationS: opts.duration, warmupS: opts.warmup, quick: opts.quick,
      wrkThreads: WRK_THREADS, connections: CONNECTIONS, bodyBytes: BODY.length, pinning,
    },
    targets: targets.map((t) => ({
      id: t.id, setup: t.setup, allCores: t.allCores, status: t.status, error: t.error,
      runs: t.runs, median: t.summary, vsNginx: t.vsNginx,
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
  checkTools();
  // Pinning needs cores 0 and 1; on a 1-core machine everything just shares the one core.
  const pinning = os.availableParallelism() >= 2;
  const machine = await machineInfo();
  const date = new Date().toISOString();
  printHeader(machine, date, opts, pinning);

  tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-bench-'));
  const targets = defineTargets(opts.only, pinning);
  let backend;
  try {
    backend = await startBackend(pinning);
  } catch (err) {
    throw annotate(err, 'backend');
  }
  log(`backend (nginx) ready on ${HOST}:${backend.port}`);
  await startTargets(targets, backend.port);

  // Every round measures every live target once, starting one further along the list each time.
  for (let round = 0; round < opts.rounds; round++) {
    const live = targets.filter((t) => t.status === 'ok');
    for (const t of rotate(live, round)) await measureOnce(t, round + 1, opts, backend, pinning ? LOAD_CORE : null);
  }

  summarize(targets);
  console.log('');
  console.log(
    `medians over ${opts.rounds} round(s) of ${opts.duration}s; spread = (max - min) / median of req/s; ` +
      'non-2xx and socket errors are totals over all runs',
  );
  printTable(targets);
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
