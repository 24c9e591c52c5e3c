// bench/scale.mjs: the control plane at scale (issue #5, target 5). Plain Node.js, built-in
// modules only; it imports meshgate from ../dist (built by `npm run build`, which `npm run bench`
// runs first).
//
//   node bench/scale.mjs [--quick] [--virtual-services N] [--upstreams N] [--applies N]
//                        [--translations N] [--only translate,lookup,up,proxy] [--cpu-prof DIR] [--workers N]
//                        [--json FILE]
//
// Exported for the lead's bench integration:
//
//   export async function runScaleBench({
//     virtualServices = 10000,  // VirtualServices, each its own domain and 4 routes
//     upstreams = 10000,        // static Upstreams, one host each (never connected to)
//     applies = 100,            // applies of one changed route, timed until the proxy serves them
//     translations = 5,         // full (cold) translations; the median is reported
//     lookups = 1_000_000,      // route lookups per measured configuration
//     only = null,              // or some of ['translate', 'lookup', 'up', 'proxy'] ('proxy' needs 'up')
//     cpuProfDir = null,        // a directory: run `meshgate up` with node --cpu-prof into it
//     workers = 1,              // more: `meshgate up --workers N` (then workerRssMb: each worker's
//                               // RSS, a proxy alone; treeRssMb: all of them with the primary)
//     log = (line) => {},       // progress lines
//   } = {}) → Promise<{
//     virtualServices, upstreams, applies, date, node, cpus, loadAverage,
//     translateMs,              // median of `translations` full translate() runs, in process, no cache
//     translateRunsMs,          // every run
//     translateCpuMs,           // median CPU time of those runs (all threads: GC included)
//     incrementalTranslateMs,   // median of 20 translate() calls, each after one VirtualService
//                               // changed, with the control plane's cache (null without one)
//     startupMs,                // `meshgate up` start → the proxy answers for the last VirtualService
//     applyP50Ms, applyP99Ms, applyMaxMs, applyRunsMs,   // apply request start → first correct answer
//     applyResponseP50Ms,       // the /v1/apply request alone (it returns once translated)
//     warmupAppliesMs,          // the 10 applies before the counted ones (the first after start-up)
//     upRssMb, upHwmMb,         // VmRSS / VmHWM of the `meshgate up` process after the applies
//                               // (control plane + CA + proxy in one process)
//     proxyRssMb, proxyHeapMb,  // a Proxy alone in its own process with the same snapshot applied
//     proxyBaseRssMb,           // that process before the snapshot (node + meshgate's modules)
//     proxyApplyFullMs, proxyApplyOneMs,  // applySnapshot: first snapshot, then one route changed
//     snapshotBytes,            // size of the snapshot's JSON
//     lookupNsPerOp: { 10: {exact, suffix, prefix, any, mixed}, 10000: {...} },
//   }>
//
// Method (docs/performance.md, "Control plane at scale"):
//  - translation: translate() from dist/, in this process, on the parsed resources plus the
//    defaults of a fresh data directory (two Gateways, Settings);
//  - applies: a real `bin/meshgate up` (one process: control plane, CA and proxy), its data
//    directory written directly before it starts (resources/ and accepted/, as meshgate leaves
//    them after the resources were applied once), free ports. Two seconds after the proxy serves
//    every VirtualService (start-up garbage collection is over), and after 10 warm-up applies
//    (timed, not counted: the JIT compiles the apply path), each apply POSTs one VirtualService
//    to /v1/apply with one route changed (even applies: a direct-response body; odd ones: a
//    prefix) while a client polls the proxy port in a tight loop on one keep-alive connection;
//    the time is from the start of the apply request to the first answer per the new route.
//    The process boundary is kept because it is what a user sees: the proxy shares its event
//    loop with the control plane, and the client must not share it with either;
//  - RSS: /proc/<pid>/status of the `up` process (all of meshgate), and of a separate process
//    that holds only a Proxy with the same snapshot (the proxy's own share);
//  - lookups: RouteTable.route() in process, over listeners of 10 and 10,000 virtual hosts
//    (80% exact domains, 10% `*.x` suffix wildcards, 10% `x.*` prefix wildcards, and `*`).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';

const REPO = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const DIST = path.join(REPO, 'dist');
const MESHGATE_BIN = path.join(REPO, 'bin', 'meshgate');
const HOST = '127.0.0.1';
const NAMESPACES = 10;
/** SETTLE_MS is the pause between `meshgate up` serving everything and the first apply. */
const SETTLE_MS = 2000;
/** WARMUP_APPLIES are done, and timed, before the counted ones. */
const WARMUP_APPLIES = 10;

const dist = (p) => import(pathToFileURL(path.join(DIST, p)).href);

// ---------------------------------------------------------------------------------------------
// The resource set

const nsOf = (i) => `scale-${i % NAMESPACES}`;
const domainOf = (i) => `vs-${i}.scale.test`;
const hostAddr = (j) => `10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255}`;

function upstreamDoc(j) {
  return {
    apiVersion: 'gloo.solo.io/v1',
    kind: 'Upstream',
    metadata: { name: `us-${j}`, namespace: nsOf(j) },
    spec: { static: { hosts: [{ addr: hostAddr(j), port: 8080 }] } },
  };
}

/** state: { body, prefix } of the routes the applies change. */
function virtualServiceDoc(i, nUpstreams, state = { body: `vs-${i} v0`, prefix: '/moved' }) {
  const j = i % nUpstreams;
  return {
    apiVersion: 'gateway.solo.io/v1',
    kind: 'VirtualService',
    metadata: { name: `vs-${i}`, namespace: nsOf(i) },
    spec: {
      virtualHost: {
        domains: [domainOf(i)],
        routes: [
          { matchers: [{ exact: '/check' }], directResponseAction: { status: 200, body: state.body } },
          { matchers: [{ prefix: state.prefix }], directResponseAction: { status: 200, body: `moved-${i}` } },
          { matchers: [{ prefix: '/api' }], routeAction: { single: { upstream: { name: `us-${j}`, namespace: nsOf(j) } } } },
          { matchers: [{ prefix: '/' }], directResponseAction: { status: 200, body: 'root' } },
        ],
      },
    },
  };
}

/** The parsed resource set, as the store would hold it (resourceVersion, creationTimestamp). */
async function parsedResources(nVs, nUs) {
  const { parseResource, formatIssues } = await dist('api/parse.js');
  const { defaultResources } = await dist('control-plane/defaults.js');
  const docs = [...defaultResources(), ...Array.from({ length: nUs }, (_, j) => upstreamDoc(j)), ...Array.from({ length: nVs }, (_, i) => virtualServiceDoc(i, nUs))];
  const created = new Date(Date.UTC(2026, 0, 1)).toISOString();
  return docs.map((d, k) => {
    const r = parseResource(structuredClone(d));
    if (!r.ok) throw new Error(`bench resource does not parse: ${formatIssues(r).join('; ')}`);
    r.resource.metadata.resourceVersion = String(k + 1);
    r.resource.metadata.creationTimestamp = created;
    return r.resource;
  });
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function median(values) {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** percentile by nearest rank. */
function percentile(values, p) {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const p = srv.address().port;
      srv.close(() => resolve(p));
    });
  });
}

/** treePids lists a process and its descendants (a `meshgate up --workers N` and its workers). */
function treePids(pid) {
  const out = [pid];
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const kids = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(/\s+/).filter(Boolean);
    for (const k of kids) out.push(...treePids(Number(k)));
  }
  return out;
}

function statusMb(pid) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(text.match(new RegExp(`^${k}:\\s+(\\d+)\\s+kB`, 'm'))?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** request sends one HTTP request and collects the answer. */
function request(opts, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, ...opts }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------------------------------------
// 1. Translation, in process

async function measureTranslation(nVs, nUs, runs, log) {
  const { translate } = await dist('translate/translator.js');
  const resources = await parsedResources(nVs, nUs);
  // The translator may offer a cache (the control plane's incremental passes); a cold one per run.
  const cacheMod = await dist('translate/cache.js').catch(() => null);
  const newCache = () => (cacheMod ? { cache: new cacheMod.TranslateCache() } : {});
  const times = [];
  const cpu = [];
  let last;
  for (let k = 0; k < runs; k++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    last = translate(resources, { proxies: ['gateway-proxy'], ...newCache() });
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    log(`  full translation ${k + 1}/${runs}: ${times.at(-1).toFixed(0)} ms (CPU ${cpu.at(-1).toFixed(0)} ms)`);
  }
  const snap = last.snapshots.get('gateway-proxy');
  const vhosts = snap.listeners.reduce((n, l) => n + l.virtualHosts.length, 0);
  if (vhosts !== nVs) throw new Error(`expected ${nVs} virtual hosts in the snapshot, got ${vhosts}`);
  let incremental = null;
  if (cacheMod) {
    const opts = { proxies: ['gateway-proxy'], ...newCache() };
    translate(resources, opts);
    const inc = [];
    const { parseResource } = await dist('api/parse.js');
    const set = [...resources];
    for (let k = 0; k < 20; k++) {
      const i = (k * 7919) % nVs;
      const at = set.findIndex((r) => r.kind === 'VirtualService' && r.metadata.name === `vs-${i}`);
      const r = parseResource(virtualServiceDoc(i, nUs, { body: `inc-${k}`, prefix: '/moved' })).resource;
      r.metadata.resourceVersion = `inc-${k}`;
      set[at] = r;
      const t0 = performance.now();
      translate(set, opts);
      inc.push(performance.now() - t0);
    }
    incremental = median(inc);
  }
  return { translateMs: median(times), translateRunsMs: times, translateCpuMs: median(cpu), incrementalTranslateMs: incremental };
}

// ---------------------------------------------------------------------------------------------
// 2. meshgate up: startup, applies, RSS

/** toYaml is enough YAML for these resources: JSON is YAML, one document per file. */
const toYaml = (r) => `${JSON.stringify(r, null, 1)}\n`;

/** writeDataDir lays out a data directory as FileStore reads it (src/config/file/file-store.ts). */
async function writeDataDir(dir, nVs, nUs) {
  const resources = await parsedResources(nVs, nUs);
  let rv = 0;
  for (const r of resources) {
    for (const area of ['resources', 'accepted']) {
      const d = path.join(dir, area, r.kind, r.metadata.namespace);
      fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(path.join(d, `${r.metadata.name}.yaml`), toYaml(r));
    }
    rv = Math.max(rv, Number(r.metadata.resourceVersion));
  }
  fs.writeFileSync(path.join(dir, 'resource-version'), String(rv));
}

/** Poller asks the proxy, on one keep-alive connection, until an answer is the wanted one. */
class Poller {
  constructor(port) {
    this.port = port;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  get(host, urlPath) {
    return request({ port: this.port, path: urlPath, headers: { host }, agent: this.agent });
  }

  async until(host, urlPath, want, timeoutMs) {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      let res;
      try {
        res = await this.get(host, urlPath);
      } catch (err) {
        res = { status: 0, body: String(err.message) };
        await delay(5);
      }
      if (res.status === 200 && res.body === want) return performance.now();
      if (performance.now() > deadline) throw new Error(`no ${JSON.stringify(want)} from ${host}${urlPath} within ${timeoutMs} ms (last: ${res.status} ${res.body.slice(0, 80)})`);
    }
  }

  close() {
    this.agent.destroy();
  }
}

async function measureUp(nVs, nUs, applies, log, cpuProfDir, workers) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-scale-'));
  const dataDir = path.join(tmp, 'data');
  let child;
  try {
    log(`  writing the data directory (${nVs + nUs} resources)`);
    await writeDataDir(dataDir, nVs, nUs);
    const [httpPort, httpsPort, adminPort, controlPort, caPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const logFile = path.join(tmp, 'up.log');
    const fd = fs.openSync(logFile, 'a');
    const t0 = performance.now();
    const nodeArgs = cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(cpuProfDir)] : [];
    child = spawn(process.execPath, [...nodeArgs, MESHGATE_BIN, 'up', '--data-dir', dataDir, '--http-port', String(httpPort), '--https-port', String(httpsPort),
      '--admin-port', String(adminPort), '--control-port', String(controlPort), '--ca-port', String(caPort),
      '--workers', String(workers)], { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    let exited = null;
    child.once('exit', (code, sig) => (exited = `exited (${sig ?? code})`));
    const poller = new Poller(httpPort);
    try {
      // Ready when the last VirtualService answers through the proxy.
      const deadline = performance.now() + 600_000;
      for (;;) {
        if (exited) throw new Error(`meshgate up ${exited}:\n${fs.readFileSync(logFile, 'utf8').slice(-3000)}`);
        const res = await poller.get(domainOf(nVs - 1), '/check').catch(() => null);
        if (res?.status === 200 && res.body === `vs-${nVs - 1} v0`) break;
        if (performance.now() > deadline) throw new Error('meshgate up did not serve the data directory within 600 s');
        await delay(50);
      }
      const startupMs = performance.now() - t0;
      log(`  meshgate up serves all ${nVs} virtual services after ${(startupMs / 1000).toFixed(1)} s`);
      // The applies measure a settled process, not the garbage collection of its start-up.
      await delay(SETTLE_MS);

      const times = [];
      const responses = [];
      const warmup = [];
      // The first WARMUP_APPLIES are not counted (as bench.mjs warms up before measuring): they
      // pay for compiling the apply path (the JIT) in a process that has only loaded and
      // translated so far. Their times are reported apart.
      for (let k = -WARMUP_APPLIES; k < applies; k++) {
        const i = (((k + WARMUP_APPLIES) * 7919 + 1) % nVs + nVs) % nVs;
        // Each apply sends the whole VirtualService with an answer unique to it: before it is
        // served, /check answers the old body and /m<k>/x falls through to the `/` route.
        const state = k % 2 === 0 ? { body: `vs-${i} apply-${k}`, prefix: '/moved' } : { body: `vs-${i} v0`, prefix: `/m${k}/` };
        const [wantPath, want] = k % 2 === 0 ? ['/check', state.body] : [`/m${k}/x`, `moved-${i}`];
        const body = JSON.stringify(virtualServiceDoc(i, nUs, state));
        const start = performance.now();
        const applied = request({ port: controlPort, method: 'POST', path: '/v1/apply', headers: { 'content-type': 'application/json' }, agent: false }, body).then((res) => {
          if (res.status !== 200) throw new Error(`apply failed: ${res.status} ${res.body.slice(0, 300)}`);
          if (k >= 0) responses.push(performance.now() - start);
        });
        const seen = await poller.until(domainOf(i), wantPath, want, 30_000);
        await applied;
        (k >= 0 ? times : warmup).push(seen - start);
        if (k === -1) log(`  ${WARMUP_APPLIES} warm-up applies: ${warmup.map((x) => x.toFixed(0)).join(' ')} ms`);
        if (k >= 0 && (k + 1) % 10 === 0) log(`  apply ${k + 1}/${applies}: ${times.at(-1).toFixed(1)} ms`);
        await delay(20);
      }
      const { rss, hwm } = statusMb(child.pid);
      // Fetched last: serializing 10 MB of snapshot makes garbage that would disturb the applies.
      const snapshotText = (await request({ port: controlPort, path: '/v1/snapshots/gateway-proxy' })).body;
      const workerRss = workers > 1 ? treePids(child.pid).slice(1).map((p) => statusMb(p).rss) : [];
      return {
        ...(workers > 1 ? { workers, workerRssMb: workerRss, treeRssMb: rss + workerRss.reduce((a, b) => a + b, 0) } : {}),
        startupMs,
        applyP50Ms: median(times), applyP99Ms: percentile(times, 99), applyMaxMs: Math.max(...times), applyRunsMs: times,
        applyResponseP50Ms: median(responses),
        warmupAppliesMs: warmup,
        upRssMb: rss, upHwmMb: hwm,
        snapshotText,
      };
    } finally {
      poller.close();
    }
  } finally {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await Promise.race([new Promise((r) => child.once('exit', r)), delay(5000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// 3. The proxy alone: RSS and applySnapshot, in a child process (node --expose-gc)

async function proxyChild(snapshotFile) {
  const { Proxy } = await dist('proxy/proxy.js');
  const { silentLogger } = await dist('log.js');
  const gc = globalThis.gc ?? (() => {});
  gc();
  const base = statusMb(process.pid).rss;
  let snap = JSON.parse(fs.readFileSync(snapshotFile, 'utf8'));
  const [p1, p2] = [await freePort(), await freePort()];
  const proxy = new Proxy({ portMap: { 8080: p1, 8443: p2 }, bindAddress: HOST, log: silentLogger });
  let t0 = performance.now();
  await proxy.applySnapshot(snap);
  const full = performance.now() - t0;
  // One route changed: a new snapshot object that shares everything else with the last one.
  const one = [];
  for (let k = 0; k < 5; k++) {
    const l = snap.listeners.find((x) => x.virtualHosts.length > 0);
    const vi = (k * 7919) % l.virtualHosts.length;
    const vh = l.virtualHosts[vi];
    const routes = vh.routes.map((r, ri) => (ri === 0 ? { ...r, action: { ...r.action, body: `changed-${k}` } } : r));
    const vhosts = l.virtualHosts.map((v, x) => (x === vi ? { ...vh, routes } : v));
    snap = { ...snap, version: `${snap.version}-${k}`, listeners: snap.listeners.map((x) => (x === l ? { ...l, virtualHosts: vhosts } : x)) };
    t0 = performance.now();
    await proxy.applySnapshot(snap);
    one.push(performance.now() - t0);
  }
  gc();
  await delay(100);
  gc();
  const { rss } = statusMb(process.pid);
  const heap = process.memoryUsage().heapUsed / 2 ** 20;
  process.stdout.write(`${JSON.stringify({ proxyBaseRssMb: base, proxyRssMb: rss, proxyHeapMb: heap, proxyApplyFullMs: full, proxyApplyOneMs: median(one) })}\n`);
  await proxy.close(0);
}

async function measureProxyAlone(snapshotText) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-scale-proxy-'));
  try {
    const file = path.join(tmp, 'snapshot.json');
    fs.writeFileSync(file, snapshotText);
    const out = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--proxy-child', file], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`proxy child exited ${code}: ${text}`))));
    });
    return JSON.parse(out.trim().split('\n').at(-1));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Route lookup

async function measureLookups(sizes, lookups) {
  const { RouteTable } = await dist('proxy/router/route-table.js');
  const { DEFAULT_HTTP_SETTINGS } = await dist('ir/snapshot.js');
  const route = { name: 'r', match: { path: { kind: 'prefix', value: '/' }, caseSensitive: true, headers: [], queryParameters: [], methods: [] }, action: { type: 'direct-response', status: 200 } };
  const out = {};
  for (const n of sizes) {
    const vhosts = [];
    const kinds = { exact: [], suffix: [], prefix: [], any: [] };
    for (let i = 0; i < n; i++) {
      let domain;
      if (i % 10 === 1) {
        domain = `*.w-${i}.scale.test`;
        kinds.suffix.push(`api.w-${i}.scale.test`);
      } else if (i % 10 === 2) {
        domain = `p-${i}.*`;
        kinds.prefix.push(`p-${i}.scale.test`);
      } else {
        domain = domainOf(i);
        kinds.exact.push(domainOf(i));
      }
      vhosts.push({ name: `v${i}`, domains: [domain], routes: [route] });
    }
    vhosts.push({ name: 'any', domains: ['*'], routes: [route] });
    for (let i = 0; i < 64; i++) kinds.any.push(`unknown-${i}.other.example`);
    const table = new RouteTable({ name: 'l', bindAddress: '::', bindPort: 8080, ssl: false, virtualHosts: vhosts, http: DEFAULT_HTTP_SETTINGS });
    const res = {};
    // mixed: 5 exact hosts for each suffix, prefix and unmatched one, interleaved.
    const mixed = [];
    for (let k = 0; mixed.length < 64; k++) {
      mixed.push(...kinds.exact.slice(k * 5, k * 5 + 5), kinds.suffix[k % kinds.suffix.length], kinds.prefix[k % kinds.prefix.length], kinds.any[k % kinds.any.length]);
    }
    for (const [kind, hosts0] of [...Object.entries(kinds), ['mixed', mixed]]) {
      // The same 64 hosts (or fewer) over and over: what is measured is the lookup, not the cache.
      const hosts = hosts0.slice(0, 64);
      const reqs = hosts.map((host) => ({ host, method: 'GET', path: '/', query: '', header: () => undefined }));
      let found = 0;
      for (let k = 0; k < 20_000; k++) if (table.route(reqs[k % reqs.length])) found++; // warm-up
      const t0 = process.hrtime.bigint();
      for (let k = 0; k < lookups; k++) if (table.route(reqs[k % reqs.length])) found++;
      const ns = Number(process.hrtime.bigint() - t0) / lookups;
      if (found === 0) throw new Error('no lookup found a route');
      res[kind] = ns;
    }
    out[n] = res;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

/** runScaleBench: see the top of this file. */
export async function runScaleBench({ virtualServices = 10000, upstreams = 10000, applies = 100, translations = 5, lookups = 1_000_000, only = null, cpuProfDir = null, workers = 1, log = () => {} } = {}) {
  const want = (part) => !only || only.includes(part);
  if (!fs.existsSync(path.join(DIST, 'cli', 'main.js'))) throw new Error('meshgate is not built: run `npm run build` first');
  const result = {
    virtualServices, upstreams, applies,
    date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadAverage: os.loadavg(),
  };
  if (want('translate')) {
    log(`translation: ${virtualServices} VirtualServices, ${upstreams} Upstreams`);
    Object.assign(result, await measureTranslation(virtualServices, upstreams, translations, log));
  }
  if (want('lookup')) {
    log('route lookups');
    result.lookupNsPerOp = await measureLookups([10, 10_000], lookups);
  }
  if (want('up')) {
    log('meshgate up: startup and applies');
    const { snapshotText, ...up } = await measureUp(virtualServices, upstreams, applies, log, cpuProfDir, workers);
    Object.assign(result, up);
    result.snapshotBytes = Buffer.byteLength(snapshotText);
    if (want('proxy')) {
      log('the proxy alone: RSS and applySnapshot');
      Object.assign(result, await measureProxyAlone(snapshotText));
    }
  }
  result.loadAverageAfter = os.loadavg();
  return result;
}

function printTable(r) {
  const f = (v, d = 1) => (v === null || v === undefined || Number.isNaN(Number(v)) ? '-' : Number(v).toFixed(d));
  const rows = [
    ['full translation (median of ' + (r.translateRunsMs?.length ?? 0) + ')', `${f(r.translateMs, 0)} ms`, `target ≤ 1000 ms; CPU ${f(r.translateCpuMs, 0)} ms`],
    ['translation after one change (cached, median of 20)', `${f(r.incrementalTranslateMs)} ms`, ''],
    ['meshgate up → all served', `${f(r.startupMs === undefined ? undefined : r.startupMs / 1000)} s`, ''],
    [`apply → served, p50 (${r.applies} applies)`, `${f(r.applyP50Ms)} ms`, ''],
    [`apply → served, p99`, `${f(r.applyP99Ms)} ms`, 'target ≤ 100 ms'],
    ['apply → served, max', `${f(r.applyMaxMs)} ms`, ''],
    ['warm-up applies (not counted): first / max', r.warmupAppliesMs ? `${f(r.warmupAppliesMs[0])} / ${f(Math.max(...r.warmupAppliesMs))} ms` : '-', ''],
    ['/v1/apply response, p50', `${f(r.applyResponseP50Ms)} ms`, ''],
    r.workers > 1
      ? [`RSS of meshgate up --workers ${r.workers}: primary / workers`, `${f(r.upRssMb)} / ${r.workerRssMb.map((x) => f(x)).join(' + ')} MB`, `total ${f(r.treeRssMb)} MB`]
      : ['RSS of meshgate up (control plane + CA + proxy)', `${f(r.upRssMb)} MB`, `peak ${f(r.upHwmMb)} MB`],
    ['RSS of the proxy alone', `${f(r.proxyRssMb)} MB`, `target ≤ 250 MB; ${f(r.proxyBaseRssMb)} MB before the snapshot`],
    ['proxy heap used', `${f(r.proxyHeapMb)} MB`, ''],
    ['proxy applySnapshot: first / one route changed', `${f(r.proxyApplyFullMs)} / ${f(r.proxyApplyOneMs)} ms`, ''],
    ['snapshot JSON', `${f(r.snapshotBytes === undefined ? undefined : r.snapshotBytes / 2 ** 20)} MB`, ''],
  ];
  for (const kind of r.lookupNsPerOp ? ['exact', 'suffix', 'prefix', 'any', 'mixed'] : []) {
    rows.push([`lookup ${kind}: 10 / 10,000 vhosts`, `${f(r.lookupNsPerOp[10][kind], 0)} / ${f(r.lookupNsPerOp[10000][kind], 0)} ns`, '']);
  }
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  console.log(`\nmeshgate control plane at scale, ${r.date}: ${r.virtualServices} VirtualServices, ${r.upstreams} Upstreams, ${r.applies} applies`);
  console.log(`node ${r.node}, ${r.cpus} CPUs, load average ${r.loadAverage.map((x) => x.toFixed(2)).join(' ')} before, ${r.loadAverageAfter.map((x) => x.toFixed(2)).join(' ')} after\n`);
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
}

function parseArgs(argv) {
  const o = {};
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    const num = () => {
      const v = Number(argv[++k]);
      if (!Number.isInteger(v) || v <= 0) throw new Error(`${a} needs a positive integer`);
      return v;
    };
    if (a === '--quick') Object.assign(o, { virtualServices: o.virtualServices ?? 2000, upstreams: o.upstreams ?? 2000, applies: o.applies ?? 20, translations: o.translations ?? 3, lookups: 200_000 });
    else if (a === '--virtual-services') o.virtualServices = num();
    else if (a === '--upstreams') o.upstreams = num();
    else if (a === '--applies') o.applies = num();
    else if (a === '--translations') o.translations = num();
    else if (a === '--json') o.json = argv[++k];
    else if (a === '--only') o.only = String(argv[++k]).split(',');
    else if (a === '--cpu-prof') o.cpuProfDir = argv[++k];
    else if (a === '--workers') o.workers = num();
    else throw new Error(`unknown flag ${a}`);
  }
  return o;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--proxy-child') {
    await proxyChild(process.argv[3]);
    process.exit(0);
  }
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`scale.mjs: ${err.message}`);
    process.exit(2);
  }
  const { json, ...rest } = opts;
  const r = await runScaleBench({ ...rest, log: (line) => console.error(line) });
  printTable(r);
  if (json) fs.writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`);
}
