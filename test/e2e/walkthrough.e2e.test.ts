// The seed walk-through's first four steps through bin/meshgate, as a user types them:
// deploy httpbin, check it runs, route to it with the seed's VirtualService, curl the proxy
// URL. Then the bad inputs around them: each is refused or reported, and the gateway keeps
// serving its last good config, across a restart too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile, mkdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, runCommand, startCli, type Background, upReady } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/httpbin/', import.meta.url));

let dir: string;
let ports: { http: number; https: number; admin: number; control: number; ca: number; httpbin: number };
let httpbin: Background;
let up: Background;
let cp: string[];

function startUp(): Background {
  return startCli([
    'up', '--data-dir', join(dir, 'data'), '--http-port', String(ports.http), '--https-port', String(ports.https),
    '--admin-port', String(ports.admin), '--control-port', String(ports.control), '--ca-port', String(ports.ca),
  ]);
}

async function ready(): Promise<void> {
  await upReady(up, ports.admin);
}

/** curlHeaders does what the walk-through does: curl -vik $(meshgate proxy url --name gateway-proxy)/headers. */
async function curlHeaders(): Promise<{ status: string; body: string }> {
  const url = await runCli(['proxy', 'url', '--name', 'gateway-proxy', ...cp]);
  assert.equal(url.code, 0, url.stderr);
  const r = await runCommand('curl', ['-sik', `${url.stdout.trim()}/headers`]);
  const [head, body] = r.stdout.split(/\r\n\r\n/, 2) as [string, string];
  return { status: head.split('\r\n')[0]!, body: body ?? '' };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-e2e-'));
  ports = { http: await freePort(), https: await freePort(), admin: await freePort(), control: await freePort(), ca: await freePort(), httpbin: await freePort() };
  cp = ['--control-plane', `http://127.0.0.1:${ports.control}`];
  // The app: the bundled httpbin, and its manifests with the WorkloadEntry on httpbin's port.
  httpbin = startCli(['httpbin', '--port', String(ports.httpbin)]);
  await mkdir(join(dir, 'httpbin'));
  await copyFile(join(EXAMPLES, 'service.yaml'), join(dir, 'httpbin', 'service.yaml'));
  const we = (await readFile(join(EXAMPLES, 'workload-entry.yaml'), 'utf8')).replace('http: 8000', `http: ${ports.httpbin}`);
  await writeFile(join(dir, 'httpbin', 'workload-entry.yaml'), we);
  up = startUp();
  await ready();
});

after(async () => {
  await up?.stop();
  await httpbin?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('step 1: deploying httpbin creates its Service and WorkloadEntry', async () => {
  const r = await runCli(['apply', '-f', join(dir, 'httpbin'), ...cp]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['service/httpbin created', 'workloadentry.networking.istio.io/httpbin created']);
});

test('step 2: the workload and its discovered Upstream are listed', async () => {
  const we = await runCli(['get', 'we', ...cp]);
  assert.equal(we.code, 0, we.stderr);
  assert.match(we.stdout, /\| httpbin \| Accepted \|/);
  await eventually(async () => {
    const us = await runCli(['get', 'us', ...cp]);
    assert.match(us.stdout, /default-httpbin-8000 \| Kubernetes \| Accepted/);
    assert.match(us.stdout, /svc name: {6}httpbin/);
  });
});

test('step 3: the seed VirtualService is created and accepted', async () => {
  const r = await runCli(['apply', '-f', join(EXAMPLES, 'virtual-service.yaml'), ...cp]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'virtualservice.gateway.solo.io/httpbin created');
  const vs = await runCli(['get', 'vs', ...cp]);
  assert.match(vs.stdout, /\| httpbin +\| +\| \* +\| none \| Accepted \|/);
  assert.match(vs.stdout, /\/ -> gloo-system\.default-httpbin-8000 \(upstream\)/);
});

test('step 4: curl through the proxy URL answers 200 with the headers Envoy adds', async () => {
  const url = await runCli(['proxy', 'url', '--name', 'gateway-proxy', ...cp]);
  assert.equal(url.stdout.trim(), `http://127.0.0.1:${ports.http}`);
  const { status, body } = await eventually(async () => {
    const r = await curlHeaders();
    assert.equal(r.status, 'HTTP/1.1 200 OK');
    return r;
  });
  assert.equal(status, 'HTTP/1.1 200 OK');
  const headers = (JSON.parse(body) as { headers: Record<string, string[]> }).headers;
  assert.deepEqual(headers['X-Envoy-Expected-Rq-Timeout-Ms'], ['15000']);
  assert.deepEqual(headers['Accept'], ['*/*']);
  assert.deepEqual(headers['Host'], [`127.0.0.1:${ports.http}`]);
  assert.deepEqual(headers['X-Forwarded-Proto'], ['http']);
  assert.match(headers['X-Request-Id']![0]!, /^[0-9a-f-]{36}$/);
  assert.match(headers['User-Agent']![0]!, /^curl\//);
});

test('a resource with an unknown field is refused, names the file and field, and changes nothing', async () => {
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, (await readFile(join(EXAMPLES, 'virtual-service.yaml'), 'utf8')).replace('- prefix: /', '- prefx: /'));
  const r = await runCli(['apply', '-f', bad, ...cp]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error: invalid resources; nothing was applied/);
  assert.match(r.stderr, /bad\.yaml \(document 1\): VirtualService gloo-system\/httpbin: spec\.virtualHost\.routes\[0\]\.matchers\[0\]\.prefx: unknown field/);
  assert.equal((await curlHeaders()).status, 'HTTP/1.1 200 OK');
});

test('a VirtualService that turns bad is rejected by name and field and keeps serving its last accepted form', async () => {
  const bad = join(dir, 'bad-regex.yaml');
  await writeFile(bad, (await readFile(join(EXAMPLES, 'virtual-service.yaml'), 'utf8')).replace('- prefix: /', "- regex: '/(unclosed'"));
  const r = await runCli(['apply', '-f', bad, ...cp]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'virtualservice.gateway.solo.io/httpbin configured');
  const vs = await runCli(['get', 'vs', 'httpbin', '-o', 'json', ...cp]);
  const status = (JSON.parse(vs.stdout) as { status: { statuses: Record<string, { state: string; reason: string }> } }).status.statuses['gloo-system']!;
  assert.equal(status.state, 'Rejected');
  assert.match(status.reason, /spec\.virtualHost\.routes\[0\]\.matchers\[0\]\.regex: invalid regular expression/);
  assert.match(status.reason, /serving its last accepted form/);
  assert.equal((await curlHeaders()).status, 'HTTP/1.1 200 OK');
});

test('a write naming a stale resourceVersion is refused', async () => {
  const stale = join(dir, 'stale.yaml');
  await writeFile(stale, (await readFile(join(EXAMPLES, 'virtual-service.yaml'), 'utf8')).replace('namespace: gloo-system\n', 'namespace: gloo-system\n  resourceVersion: "1"\n'));
  const r = await runCli(['apply', '-f', stale, ...cp]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error: Operation cannot be fulfilled on VirtualService gloo-system\/httpbin: the object has been modified/);
});

test('bad command-line input gets a one-line error', async () => {
  const kind = await runCli(['get', 'pods', ...cp]);
  assert.equal(kind.code, 1);
  assert.match(kind.stderr, /^Error: the server doesn't have a resource type "pods"/);
  const port = await runCli(['up', '--http-port', 'eighty']);
  assert.equal(port.code, 1);
  assert.match(port.stderr, /--http-port must be a port number from 0 to 65535, got "eighty"/);
  const proxy = await runCli(['proxy', 'url', '--name', 'nope', ...cp]);
  assert.equal(proxy.code, 1);
  assert.match(proxy.stderr, /^Error: no running proxy named "nope"/);
  const down = await runCli(['get', 'vs', '--control-plane', 'http://127.0.0.1:1']);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^Error: cannot reach the control plane at http:\/\/127\.0\.0\.1:1/);
  const missing = await runCli(['apply', '-f', join(dir, 'no-such-file.yaml'), ...cp]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^Error: the path ".*no-such-file\.yaml" does not exist/);
});

test('a second `up` on a port in use fails with one line and leaves the first serving', async () => {
  const second = await runCli(['up', '--data-dir', join(dir, 'data2'), '--control-port', String(ports.control), '--admin-port', String(await freePort()), '--ca-port', String(await freePort())]);
  assert.equal(second.code, 1);
  assert.equal(second.stderr.trim(), `Error: port ${ports.control} is already in use (control-plane API, --control-port)`);
  assert.equal((await curlHeaders()).status, 'HTTP/1.1 200 OK');
});

test('a restart keeps every applied resource and the last accepted form of a rejected one', async () => {
  assert.equal(await up.stop('SIGTERM'), 0);
  up = startUp();
  await ready();
  assert.equal((await curlHeaders()).status, 'HTTP/1.1 200 OK');
  const vs = await runCli(['get', 'vs', 'httpbin', '-o', 'yaml', ...cp]);
  assert.match(vs.stdout, /state: Rejected/);
});

test('deleting the VirtualService makes the route answer 404', async () => {
  const r = await runCli(['delete', 'vs', 'httpbin', ...cp]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'virtualservice.gateway.solo.io "httpbin" deleted');
  await eventually(async () => assert.equal((await curlHeaders()).status, 'HTTP/1.1 404 Not Found'));
  const again = await runCli(['delete', 'vs', 'httpbin', ...cp]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^Error: virtualservice "httpbin" not found in namespace gloo-system/);
});
