// The rest of the seed walk-through through bin/meshgate, step by step: httpbin and its
// VirtualService → 200; a sidecar added → 200 (PERMISSIVE); mesh-wide STRICT → 503 with Envoy's
// text; `istio enable-mtls` → 200 with the XFCC Istio's inbound sidecar writes; `disable-mtls`
// → 503; auto-mTLS (the Helm upgrade: `up --istio-integration --auto-mtls`) → 200 without
// enable-mtls; sidecar removed → plaintext again; VirtualService deleted → 404.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile, mkdir, copyFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, startCli, type Background, upReady } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/httpbin/', import.meta.url));
const GATEWAY_ID = 'spiffe://cluster.local/ns/gloo-system/sa/gateway-proxy';
const HTTPBIN_ID = 'spiffe://cluster.local/ns/default/sa/httpbin';
const RESET = 'upstream connect error or disconnect/reset before headers. reset reason: connection termination';

let dir: string;
let ports: Record<'http' | 'https' | 'admin' | 'control' | 'ca' | 'httpbin' | 'inbound' | 'health', number>;
let cp: string[];
let httpbin: Background;
let up: Background;
let sidecar: Background | undefined;

function startUp(extra: string[] = []): Background {
  return startCli([
    'up', '--data-dir', join(dir, 'data'), '--http-port', String(ports.http), '--https-port', String(ports.https),
    '--admin-port', String(ports.admin), '--control-port', String(ports.control), '--ca-port', String(ports.ca), ...extra,
  ]);
}

async function ready(): Promise<void> {
  await upReady(up, ports.admin);
}

interface Answer {
  status: number;
  body: string;
  headers?: Record<string, string[]>;
}

/** get asks the proxy URL for /headers, as the walk-through's curl does. */
async function get(): Promise<Answer> {
  const res = await fetch(`http://127.0.0.1:${ports.http}/headers`, { headers: { connection: 'close' } });
  const body = await res.text();
  return { status: res.status, body, ...(res.status === 200 ? { headers: (JSON.parse(body) as { headers: Record<string, string[]> }).headers } : {}) };
}

async function until(check: (a: Answer) => void): Promise<Answer> {
  return eventually(async () => {
    const a = await get();
    check(a);
    return a;
  }, { timeoutMs: 15_000 });
}

async function gatewayCertHash(): Promise<string> {
  const certs = (await (await fetch(`http://127.0.0.1:${ports.admin}/certs`)).json()) as { certificates: { identity: string; sha256: string }[] };
  assert.equal(certs.certificates[0]!.identity, GATEWAY_ID);
  return certs.certificates[0]!.sha256;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-mesh-e2e-'));
  const names = ['http', 'https', 'admin', 'control', 'ca', 'httpbin', 'inbound', 'health'] as const;
  ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()]))) as typeof ports;
  cp = ['--control-plane', `http://127.0.0.1:${ports.control}`];
  httpbin = startCli(['httpbin', '--port', String(ports.httpbin)]);
  await mkdir(join(dir, 'httpbin'));
  await copyFile(join(EXAMPLES, 'service.yaml'), join(dir, 'httpbin', 'service.yaml'));
  await copyFile(join(EXAMPLES, 'virtual-service.yaml'), join(dir, 'httpbin', 'virtual-service.yaml'));
  const we = (await readFile(join(EXAMPLES, 'workload-entry.yaml'), 'utf8')).replace('http: 8000', `http: ${ports.httpbin}`);
  await writeFile(join(dir, 'httpbin', 'workload-entry.yaml'), we);
  up = startUp();
  await ready();
});

after(async () => {
  await sidecar?.stop();
  await up?.stop();
  await httpbin?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('step 1: httpbin and the seed VirtualService answer 200, with no XFCC', async () => {
  const r = await runCli(['apply', '-f', join(dir, 'httpbin'), ...cp]);
  assert.equal(r.code, 0, r.stderr);
  const a = await until((x) => assert.equal(x.status, 200));
  assert.equal(a.headers!['X-Forwarded-Client-Cert'], undefined);
});

test('step 2: a sidecar added to httpbin registers it in the mesh and PERMISSIVE still answers 200', async () => {
  const token = await runCli(['token', 'create', '--namespace', 'default', '--service-account', 'httpbin', '--data-dir', join(dir, 'data')]);
  assert.equal(token.code, 0, token.stderr);
  assert.match(token.stdout.trim(), /^[\w-]+\.[\w-]+\.[\w-]+$/);
  await writeFile(join(dir, 'httpbin.token'), token.stdout, { mode: 0o600 });
  sidecar = startCli([
    'sidecar', '--namespace', 'default', '--service-account', 'httpbin', '--service', 'httpbin', '--app-port', String(ports.httpbin),
    '--inbound-port', String(ports.inbound), '--health-port', String(ports.health), '--ca-address', `127.0.0.1:${ports.ca}`,
    '--token-file', join(dir, 'httpbin.token'), ...cp,
  ]);
  await eventually(async () => assert.equal((await fetch(`http://127.0.0.1:${ports.health}/healthz/ready`)).status, 200), { timeoutMs: 20_000 });
  const we = await runCli(['get', 'we', 'httpbin', '-o', 'json', ...cp]);
  const entry = JSON.parse(we.stdout) as { spec: { ports: Record<string, number>; labels: Record<string, string>; serviceAccount: string } };
  assert.deepEqual(entry.spec.ports, { http: ports.inbound });
  assert.equal(entry.spec.labels['security.istio.io/tlsMode'], 'istio');
  assert.equal(entry.spec.labels.app, 'httpbin');
  assert.equal(entry.spec.serviceAccount, 'httpbin');
  // Plaintext through the sidecar: PERMISSIVE lets it in, and no XFCC is made up.
  const a = await until((x) => assert.equal(x.status, 200));
  assert.equal(a.headers!['X-Forwarded-Client-Cert'], undefined);
});

test('step 3: mesh-wide STRICT refuses the gateway’s plaintext with Envoy’s 503', async () => {
  const r = await runCli(['apply', '-f', join(EXAMPLES, 'mesh', 'peer-authentication.yaml'), ...cp]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'peerauthentication.security.istio.io/test created');
  const a = await until((x) => assert.equal(x.status, 503));
  assert.equal(a.body, RESET);
});

test('step 4: istio enable-mtls makes the gateway speak mTLS with its mesh identity; httpbin sees XFCC', async () => {
  const r = await runCli(['istio', 'enable-mtls', '--upstream', 'default-httpbin-8000', ...cp]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'upstream gloo-system.default-httpbin-8000 now uses Istio mTLS');
  const us = JSON.parse((await runCli(['get', 'us', 'default-httpbin-8000', '-o', 'json', ...cp])).stdout) as { spec: { sslConfig: unknown } };
  assert.deepEqual(us.spec.sslConfig, {
    alpnProtocols: ['istio'],
    sds: { targetUri: '127.0.0.1:8234', clusterName: 'gateway_proxy_sds', certificatesSecretName: 'istio_server_cert', validationContextName: 'istio_validation_context' },
  });
  const a = await until((x) => assert.equal(x.status, 200));
  const hash = await gatewayCertHash();
  assert.deepEqual(a.headers!['X-Forwarded-Client-Cert'], [`By=${HTTPBIN_ID};Hash=${hash};Subject="";URI=${GATEWAY_ID}`]);
  const again = await runCli(['istio', 'enable-mtls', '--upstream', 'default-httpbin-8000', ...cp]);
  assert.equal(again.code, 0);
  assert.equal(again.stdout.trim(), 'upstream gloo-system.default-httpbin-8000 already has Istio mTLS; nothing to do');
});

test('the istio commands refuse bad input clearly', async () => {
  const missing = await runCli(['istio', 'enable-mtls', '--upstream', 'nope', ...cp]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^Error: upstream gloo-system\.nope not found/);
  const uninject = await runCli(['istio', 'uninject', ...cp]);
  assert.equal(uninject.code, 1);
  assert.match(uninject.stderr, /^Error: 1 upstream\(s\) still use the Istio certificates .*default-httpbin-8000/);
  const ttl = await runCli(['token', 'create', '--namespace', 'default', '--service-account', 'httpbin', '--ttl', 'soon', '--data-dir', join(dir, 'data')]);
  assert.equal(ttl.code, 1);
  assert.match(ttl.stderr, /^Error: --ttl must be a duration/);
  const noToken = await runCli(['sidecar', '--namespace', 'default', '--service-account', 'x', '--service', 'httpbin', '--app-port', '1', ...cp], { env: { MESHGATE_TOKEN: '' } });
  assert.equal(noToken.code, 1);
  assert.match(noToken.stderr, /^Error: a service-account token is needed/);
  const badCa = await runCli(['sidecar', '--namespace', 'default', '--service-account', 'x', '--service', 'httpbin', '--app-port', '1', '--ca-address', 'nowhere', ...cp]);
  assert.equal(badCa.code, 1);
  assert.match(badCa.stderr, /^Error: --ca-address must be host:port/);
  // The CA's key material is private to its owner.
  assert.equal((await stat(join(dir, 'data', 'ca', 'root-key.pem'))).mode & 0o777, 0o600);
});

test('step 5: istio disable-mtls goes back to plaintext, which STRICT refuses', async () => {
  const r = await runCli(['istio', 'disable-mtls', '--upstream', 'default-httpbin-8000', ...cp]);
  assert.equal(r.code, 0, r.stderr);
  const a = await until((x) => assert.equal(x.status, 503));
  assert.equal(a.body, RESET);
  const again = await runCli(['istio', 'disable-mtls', '--upstream', 'default-httpbin-8000', ...cp]);
  assert.equal(again.stdout.trim(), 'upstream gloo-system.default-httpbin-8000 has no sslConfig; mTLS is already disabled, nothing to do');
});

test('step 6: with auto-mTLS on, the meshed endpoint gets mTLS without enable-mtls', async () => {
  // The walk-through's `helm upgrade` with istioIntegration.enabled and enableAutoMtls.
  assert.equal(await up.stop('SIGTERM'), 0);
  up = startUp(['--istio-integration', '--auto-mtls']);
  await ready();
  const a = await until((x) => assert.equal(x.status, 200));
  assert.deepEqual(a.headers!['X-Forwarded-Client-Cert'], [`By=${HTTPBIN_ID};Hash=${await gatewayCertHash()};Subject="";URI=${GATEWAY_ID}`]);
  const us = JSON.parse((await runCli(['get', 'us', 'default-httpbin-8000', '-o', 'json', ...cp])).stdout) as { spec: { sslConfig?: unknown } };
  assert.equal(us.spec.sslConfig, undefined);
});

test('step 7: with the sidecar removed, auto-mTLS falls back to plaintext to httpbin itself', async () => {
  assert.equal(await sidecar!.stop('SIGTERM'), 0);
  sidecar = undefined;
  const we = JSON.parse((await runCli(['get', 'we', 'httpbin', '-o', 'json', ...cp])).stdout) as { spec: { ports: Record<string, number>; labels: Record<string, string> } };
  assert.deepEqual(we.spec.ports, { http: ports.httpbin });
  assert.equal(we.spec.labels['security.istio.io/tlsMode'], undefined);
  const a = await until((x) => assert.equal(x.status, 200));
  assert.equal(a.headers!['X-Forwarded-Client-Cert'], undefined);
});

test('step 8: deleting the VirtualService makes the route answer 404', async () => {
  const r = await runCli(['delete', 'virtualservice', 'httpbin', '-n', 'gloo-system', ...cp]);
  assert.equal(r.code, 0, r.stderr);
  await until((x) => assert.equal(x.status, 404));
});
