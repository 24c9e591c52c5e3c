// `meshgate up` beyond the walk-through: the Quick start's --demo, worker-per-core mode, and a
// clean drain on SIGTERM.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startCli, upReady, type Background } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';

const dirs: string[] = [];
const procs: Background[] = [];
after(async () => {
  // SIGTERM first: `up --demo` stops its own httpbin and sidecar on the way out.
  await Promise.all(procs.map((p) => p.stop('SIGTERM')));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'meshgate-up-'));
  dirs.push(d);
  return d;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function startUp(extra: string[]) {
  const ports = { http: await freePort(), admin: await freePort(), control: await freePort() };
  const dir = await tempDir();
  const up = startCli(['up', '--data-dir', join(dir, 'data'), '--http-port', String(ports.http), '--https-port', String(await freePort()),
    '--admin-port', String(ports.admin), '--control-port', String(ports.control), '--ca-port', String(await freePort()), ...extra]);
  procs.push(up);
  await upReady(up, ports.admin);
  return { up, ports, dir, cp: ['--control-plane', `http://127.0.0.1:${ports.control}`] };
}

// The example's WorkloadEntry names port 8000 and the demo's sidecar uses Istio's 15006 and
// 15021, so the demo needs them; skip (with the reason) when one is taken.
test('up --demo serves the mesh example: /headers answers 200 with the gateway’s identity in XFCC', async (t) => {
  for (const p of [8000, 15006, 15021]) {
    if (!(await portFree(p))) return t.skip(`port ${p} is in use on this machine; the demo needs it`);
  }
  const { up, cp } = await startUp(['--demo']);
  await eventually(() => assert.match(up.output(), /^Try: /m), { timeoutMs: 30_000 });
  const url = await eventually(async () => {
    const r = await runCli(['proxy', 'url', '--name', 'gateway-proxy', ...cp]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  });
  const res = await eventually(async () => {
    const r = await fetch(`${url}/headers`);
    assert.equal(r.status, 200);
    return r;
  }, { timeoutMs: 20_000 });
  const body = (await res.json()) as { headers: Record<string, string[]> };
  assert.match(body.headers['X-Forwarded-Client-Cert']![0]!, /^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/httpbin;Hash=[0-9a-f]{64};Subject="";URI=spiffe:\/\/cluster\.local\/ns\/gloo-system\/sa\/gateway-proxy$/);
  assert.match(up.output(), /virtualservice\.gateway\.solo\.io\/httpbin created/);
  // No --workers: one proxy process per core (as Envoy's --concurrency), this process alone on one core.
  const cores = Math.min(64, availableParallelism());
  if (cores > 1) assert.match(up.output(), new RegExp(`is up; data directory [^\n]*; ${cores} proxy workers$`, 'm'));
  else assert.doesNotMatch(up.output(), /proxy workers/);
  assert.match(up.output(), /peerauthentication\.security\.istio\.io\/test created/);
  assert.equal(await up.stop('SIGTERM'), 0);
  // The demo's httpbin and sidecar went away with it.
  for (const p of [8000, 15006, 15021]) await eventually(async () => assert.equal(await portFree(p), true));
});

test('up --workers 2 serves through its workers, sums their metrics and drains on SIGTERM', async () => {
  const backend = startCli(['httpbin', '--port', String(await freePort())]);
  procs.push(backend);
  const hbPort = Number(await eventually(() => {
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(backend.output());
    assert.ok(m);
    return m[1]!;
  }));
  const { up, ports, dir, cp } = await startUp(['--workers', '2']);
  const file = join(dir, 'route.yaml');
  await writeFile(file, `apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: hb}
spec:
  static:
    hosts: [{addr: 127.0.0.1, port: ${hbPort}}]
---
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: hb}
spec:
  virtualHost:
    routes:
    - matchers: [{prefix: /}]
      routeAction: {single: {upstream: {name: hb}}}
`);
  const applied = await runCli(['apply', '-f', file, ...cp]);
  assert.equal(applied.code, 0, applied.stderr);
  await eventually(async () => assert.equal((await fetch(`http://127.0.0.1:${ports.http}/get`)).status, 200));
  // Fresh connections each time, so the kernel spreads them over both workers.
  const statuses = await Promise.all(Array.from({ length: 40 }, () => fetch(`http://127.0.0.1:${ports.http}/get`, { headers: { connection: 'close' } }).then((r) => r.status)));
  assert.ok(statuses.every((s) => s === 200));
  const metrics = await (await fetch(`http://127.0.0.1:${ports.admin}/stats/prometheus`)).text();
  const m = /meshgate_upstream_rq_total\{upstream="hb_gloo-system",status_class="2xx"\} (\d+)/.exec(metrics);
  assert.ok(m, metrics);
  assert.ok(Number(m[1]) >= 41, `expected at least 41 requests counted, got ${m[1]}`);
  assert.equal(await up.stop('SIGTERM'), 0);
  await eventually(async () => assert.equal(await portFree(ports.http), true));
});
