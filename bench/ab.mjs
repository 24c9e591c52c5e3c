#!/usr/bin/env node
// bench/ab.mjs: A/B runs of meshgate builds against one-worker nginx, for performance work.
//
//   node bench/ab.mjs [--rounds N] [--duration S] [--warmup S] [--no-nginx] [--keep DIR]
//                     [--offset K] [--together] [--upstream-hist] --mg LABEL=REPO_DIR[::NODE_FLAGS] [--mg ...]
//
// Same method as bench.mjs (nginx backend and wrk on core 1, the proxy under test alone on core
// 0, wrk -t1 -c64, the bench's route applied with `meshgate apply`), but every target stays up
// for the whole run and the rounds alternate between them (order rotated each round), so two
// builds of meshgate (REPO_DIR: a checkout with dist/ built) are compared within one run
// (--offset K starts the rotation K places further, to vary which target is measured first).
// --together runs every meshgate target at the same time on core 0, each with its own wrk (no
// nginx): they get equal CPU time, so noise from the rest of the machine hits them alike and the
// per-round ratios of CPU per request are a clean comparison on a busy machine.
// --upstream-hist also prints, per run, how many requests had a slow upstream leg (meshgate's
// meshgate_upstream_rq_time_seconds, read from its admin port before and after the run).
// NODE_FLAGS go to node before bin/meshgate, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` or
// `--trace-gc`; meshgate gets SIGTERM at the end (then SIGKILL after 15 s), so --cpu-prof
// writes its profile. --keep DIR keeps each target's output (e.g. the --trace-gc lines) there.
// Before each measured run it waits (up to --quiet-wait s) until other processes use less than
// --max-others % of a core, and runs again (twice at most) a run during which they used more:
// the machine is shared. Prints each run (with the others' CPU during it, and the target's own
// CPU time per request, which the load generator's speed does not move), then the medians and
// the ratios to nginx of the same run, and each meshgate target's per-round ratios to the first
// one (median and quartiles): for small differences, many short rounds (--rounds 20
// --duration 1) and these paired ratios are what to look at.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { parseWrk, median, rotate, meshgateRouteYaml } from './bench.mjs';

const HOST = '127.0.0.1';
const BODY = 'meshgate-bench:' + 'x'.repeat(200 - 'meshgate-bench:'.length);

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    mg: { type: 'string', multiple: true, default: [] },
    'no-nginx': { type: 'boolean', default: false },
    keep: { type: 'string' },
    connections: { type: 'string', default: '64' },
    offset: { type: 'string', default: '0' },
    'upstream-hist': { type: 'boolean', default: false },
    together: { type: 'boolean', default: false },
    'max-others': { type: 'string', default: '15' },
    'quiet-wait': { type: 'string', default: '90' },
  },
});
const rounds = Number(values.rounds);
const duration = Number(values.duration);
const warmup = Number(values.warmup);
const conns = Number(values.connections);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-ab-'));
const procs = [];

function start(name, cmd, args, { pin, log }) {
  const fd = fs.openSync(log, 'a');
  const child = spawn('taskset', ['-c', String(pin), cmd, ...args], { detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const p = { name, child, exited: false };
  child.once('exit', () => (p.exited = true));
  procs.push(p);
  return p;
}

async function stop(p, graceMs = 15_000) {
  if (p.exited) return;
  const gone = new Promise((r) => p.child.once('exit', r));
  try { process.kill(-p.child.pid, 'SIGTERM'); } catch {}
  const t = setTimeout(() => { try { process.kill(-p.child.pid, 'SIGKILL'); } catch {} }, graceMs);
  await gone;
  clearTimeout(t);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function get(port, p = '/') {
  return new Promise((resolve) => {
    const req = http.get({ host: HOST, port, path: p, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.on('timeout', () => req.destroy());
  });
}

async function waitFor(what, fn, ms = 30_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await delay(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function run(cmd, args, pin) {
  return new Promise((resolve) => {
    const argv = pin === undefined ? [cmd, ...args] : ['taskset', '-c', String(pin), cmd, ...args];
    const c = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('exit', (code) => resolve({ code, out }));
  });
}

function nginxConf(dir, body) {
  return `daemon off; master_process on; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${dir}/cb; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f;
uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s; keepalive_requests 1000000; keepalive_timeout 75s;
${body} }
`;
}

async function startNginx(name, body, pin) {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  fs.writeFileSync(`${dir}/nginx.conf`, nginxConf(dir, body(port)));
  const p = start(name, '/usr/sbin/nginx', ['-p', dir, '-e', `${dir}/error.log`, '-c', `${dir}/nginx.conf`], { pin, log: `${dir}/out.log` });
  await waitFor(`${name} /`, async () => (await get(port)).body === BODY, 10_000);
  return { ...p, port };
}

async function startMeshgate(label, repo, nodeFlags, backendPort) {
  const dir = path.join(tmp, label);
  fs.mkdirSync(dir, { recursive: true });
  const [httpPort, httpsPort, adminPort, controlPort, caPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const bin = path.join(repo, 'bin/meshgate');
  const log = values.keep ? path.join(values.keep, `${label}.log`) : path.join(dir, 'out.log');
  if (values.keep) fs.mkdirSync(values.keep, { recursive: true });
  const p = start(label, process.execPath, [
    ...nodeFlags, bin, 'up', '--data-dir', path.join(dir, 'data'), '--http-port', String(httpPort), '--https-port', String(httpsPort),
    '--admin-port', String(adminPort), '--control-port', String(controlPort), '--ca-port', String(caPort), '--workers', '1',
  ], { pin: 0, log });
  await waitFor(`${label} /ready`, async () => (await get(adminPort, '/ready')).status === 200);
  fs.writeFileSync(`${dir}/route.yaml`, meshgateRouteYaml(backendPort));
  const r = await run(process.execPath, [bin, 'apply', '-f', `${dir}/route.yaml`, '--control-plane', `http://${HOST}:${controlPort}`]);
  if (r.code !== 0) throw new Error(`${label}: apply failed: ${r.out}`);
  await waitFor(`${label} routed /`, async () => (await get(httpPort)).body === BODY, 15_000);
  return { ...p, port: httpPort, adminPort };
}

// ---------------------------------------------------------------------------------------------
// Other people's load: the CPU used by every process that is not ours (this script, the backend,
// the targets and wrk, whose time lands in this script's cutime), children they reaped included.

const TICK = 100; // USER_HZ: /proc times are in 1/100 s on Linux
function othersJiffies() {
  const ours = new Set([process.pid]);
  for (const p of procs) if (!p.exited) for (const x of tree(p.child.pid)) ours.add(x);
  const m = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || ours.has(Number(d))) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      // fields 14-17 (utime, stime, cutime, cstime) are f[11..14] after the comm
      m.set(d, Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]));
    } catch {}
  }
  return m;
}
function treeJiffies(pid) {
  let j = 0;
  for (const p of tree(pid)) {
    try {
      const st = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      j += Number(f[11]) + Number(f[12]);
    } catch {}
  }
  return j;
}
function tree(pid) {
  const out = [pid];
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const kids = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(/\s+/).filter(Boolean);
      for (const k of kids) out.push(...tree(Number(k)));
    }
  } catch {}
  return out;
}
/** othersPct: the CPU others used between two othersJiffies() readings, in % of one core. */
function othersPct(a, b, ms) {
  let j = 0;
  for (const [pid, v] of b) j += v - (a.get(pid) ?? 0);
  return (100 * j) / TICK / (ms / 1000);
}
/** quiet waits (up to --quiet-wait s) until others use under --max-others % of a core. */
async function quiet() {
  const end = Date.now() + Number(values['quiet-wait']) * 1000;
  for (;;) {
    const a = othersJiffies();
    await delay(1000);
    const pct = othersPct(a, othersJiffies(), 1000);
    if (pct < Number(values['max-others']) || Date.now() > end) return pct;
  }
}

/**
 * measure: one wrk run after waiting for the machine to be quiet; a run during which others
 * used more than --max-others % of a core is run again (up to twice more). Returns the run with
 * `others`, the % of a core others used during it.
 */
async function measure(t, secs) {
  let x;
  for (let attempt = 0; attempt < 3; attempt++) {
    await quiet();
    const a = othersJiffies();
    const cpu0 = treeJiffies(t.proc.child.pid);
    const t0 = Date.now();
    const h0 = values['upstream-hist'] && t.proc.adminPort ? await upstreamHist(t.proc.adminPort) : null;
    x = await wrk(t.port, secs);
    if (h0) x.upstreamHist = diffHist(h0, await upstreamHist(t.proc.adminPort));
    x.others = othersPct(a, othersJiffies(), Date.now() - t0);
    // The target's own CPU (user + system, all threads) per request served, in microseconds.
    x.cpuUsPerReq = x.requests ? ((treeJiffies(t.proc.child.pid) - cpu0) * (1e6 / TICK)) / x.requests : null;
    if (x.others < Number(values['max-others'])) break;
    process.stderr.write(`  (others used ${x.others.toFixed(0)}% of a core during the run: again)\n`);
  }
  return x;
}

/** upstreamHist reads meshgate's upstream request time histogram (cumulative counts by le). */
async function upstreamHist(adminPort) {
  const text = (await get(adminPort, '/stats/prometheus')).body;
  const h = new Map();
  for (const m of text.matchAll(/^meshgate_upstream_rq_time_seconds_bucket\{le="([^"]+)"[^}]*\} (\d+)/gm)) h.set(m[1], (h.get(m[1]) ?? 0) + Number(m[2]));
  return h;
}
/** diffHist: of the requests during a run, the share whose upstream leg took longer than each bound. */
function diffHist(a, b) {
  const all = b.get('+Inf') - a.get('+Inf');
  const over = (le) => (100 * (all - (b.get(le) - a.get(le)))) / all;
  return `upstream leg >10ms ${over('0.01').toFixed(2)}% >25ms ${over('0.025').toFixed(2)}% >50ms ${over('0.05').toFixed(3)}% >100ms ${over('0.1').toFixed(3)}%`;
}

async function wrk(port, secs) {
  const r = await run('/usr/bin/wrk', ['-t1', `-c${conns}`, `-d${secs}s`, '--latency', `http://${HOST}:${port}/`], 1);
  if (r.code !== 0) throw new Error(`wrk failed: ${r.out}`);
  return parseWrk(r.out);
}

async function main() {
  const backend = await startNginx('backend', (port) => `server { listen ${HOST}:${port}; location / { default_type text/plain; return 200 "${BODY}"; } }`, 1);
  const targets = [];
  if (!values['no-nginx'] && !values.together) {
    const ng = await startNginx('nginx', (port) => `upstream b { server ${HOST}:${backend.port}; keepalive 64; keepalive_requests 1000000; }
server { listen ${HOST}:${port}; location / { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; } }`, 0);
    targets.push({ label: 'nginx', proc: ng, port: ng.port, runs: [] });
  }
  for (const spec of values.mg) {
    const [label, rest] = [spec.slice(0, spec.indexOf('=')), spec.slice(spec.indexOf('=') + 1)];
    const [repo, flags = ''] = rest.split('::');
    const proc = await startMeshgate(label, path.resolve(repo), flags.split(' ').filter(Boolean), backend.port);
    targets.push({ label, proc, port: proc.port, runs: [] });
  }
  if (values.together) {
    // All meshgate targets at once, on the same core, each with its own wrk: the kernel gives
    // them equal CPU time, so whatever else the machine does hits them alike, and the one that
    // needs less CPU per request serves more. Only the CPU per request and the ratios between
    // targets mean anything here (each has half a core).
    const mgs = targets.filter((t) => t.label !== 'nginx');
    if (warmup > 0) await Promise.all(mgs.map((t) => wrk(t.port, warmup)));
    for (let r = 0; r < rounds; r++) {
      await quiet();
      const cpu0 = mgs.map((t) => treeJiffies(t.proc.child.pid));
      // wrk start order rotates each round, so no target is always started first.
      const order = rotate(mgs.map((_, i) => i), r);
      const xs = new Array(mgs.length);
      await Promise.all(order.map(async (i) => (xs[i] = await wrk(mgs[i].port, duration))));
      mgs.forEach((t, i) => {
        const x = xs[i];
        x.cpuUsPerReq = ((treeJiffies(t.proc.child.pid) - cpu0[i]) * (1e6 / TICK)) / x.requests;
        x.others = 0;
        t.runs.push(x);
        process.stderr.write(`round ${r + 1} ${t.label.padEnd(14)} ${Math.round(x.requestsPerSec).toString().padStart(6)} req/s  p99 ${x.p99Ms.toFixed(2)}  cpu ${x.cpuUsPerReq.toFixed(1)} us/req\n`);
      });
    }
  }
  for (let r = 0; r < (values.together ? 0 : rounds); r++) {
    for (const t of rotate(targets, r + Number(values.offset))) {
      // As bench.mjs: a target's warm-up run comes right before its first measured run.
      if (r === 0 && warmup > 0) await wrk(t.port, warmup);
      const x = await measure(t, duration);
      t.runs.push(x);
      process.stderr.write(`round ${r + 1} ${t.label.padEnd(14)} ${Math.round(x.requestsPerSec).toString().padStart(6)} req/s  p50 ${x.p50Ms.toFixed(2)}  p99 ${x.p99Ms.toFixed(2)}  cpu ${x.cpuUsPerReq?.toFixed(1)} us/req  others ${x.others.toFixed(0)}%${x.upstreamHist ? `\n        ${x.upstreamHist}` : ''}${x.non2xx || x.socketErrorsTotal ? `  non2xx ${x.non2xx} sockerr ${x.socketErrorsTotal}` : ''}\n`);
    }
  }
  const base = targets.find((t) => t.label === 'nginx' && t.runs.length);
  const med = (t, k) => median(t.runs.map((x) => x[k]));
  // Paired ratios: each round measures every target back to back, so dividing within a round
  // cancels most of the machine's slow drifts; the median of those ratios against the first
  // meshgate target is the figure to quote for small differences.
  const ref = targets.find((t) => t.label !== 'nginx');
  const paired = (t, k) => {
    const rs = t.runs.map((x, i) => x[k] / ref.runs[i][k]).filter(Number.isFinite).sort((a, b) => a - b);
    const q = (p) => rs[Math.min(rs.length - 1, Math.floor(p * rs.length))];
    return `${median(rs).toFixed(3)} [${q(0.25).toFixed(3)}-${q(0.75).toFixed(3)}]`;
  };
  console.log(`\n${rounds} rounds x ${duration}s, wrk -t1 -c${conns}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log('target          req/s   p50 ms  p99 ms  cpu us/req  rps/nginx  p99/nginx  (rps per round; p99 per round)');
  for (const t of targets.filter((x) => x.runs.length)) {
    const rps = med(t, 'requestsPerSec');
    const p99 = med(t, 'p99Ms');
    const rr = base && t !== base ? (rps / med(base, 'requestsPerSec')).toFixed(2) + 'x' : '-';
    const pr = base && t !== base ? (p99 / med(base, 'p99Ms')).toFixed(2) + 'x' : '-';
    console.log(
      `${t.label.padEnd(14)} ${Math.round(rps).toString().padStart(6)}  ${med(t, 'p50Ms').toFixed(2).padStart(6)}  ${p99.toFixed(2).padStart(6)}  ${med(t, 'cpuUsPerReq').toFixed(1).padStart(10)}  ${rr.padStart(9)}  ${pr.padStart(9)}  ` +
        `(${t.runs.map((x) => Math.round(x.requestsPerSec)).join(' ')}; ${t.runs.map((x) => x.p99Ms.toFixed(1)).join(' ')})`,
    );
  }
  if (ref && targets.filter((t) => t.label !== 'nginx').length > 1) {
    console.log(`\nper-round ratios to ${ref.label}, median [quartiles]:`);
    for (const t of targets) {
      if (t === ref || t.label === 'nginx') continue;
      console.log(`${t.label.padEnd(14)} req/s ${paired(t, 'requestsPerSec')}  cpu/req ${paired(t, 'cpuUsPerReq')}  p99 ${paired(t, 'p99Ms')}`);
    }
  }
}

// Ctrl-C or kill: stop every server we started (they run in their own process groups).
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    void Promise.all(procs.map((p) => stop(p, 3000))).finally(() => {
      fs.rmSync(tmp, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

let code = 0;
try {
  await main();
} catch (err) {
  console.error(`ERROR: ${err.stack}`);
  code = 1;
} finally {
  await Promise.all(procs.map((p) => stop(p)));
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.exit(code);
