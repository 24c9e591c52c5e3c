// The control-plane API against a real data directory: good writes are translated and
// reported, bad ones are refused with messages that name the document, resource and field,
// and nothing already applied is lost.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { request } from 'undici';
import { FileStore } from '../../../src/config/file/file-store.js';
import { ControlPlane } from '../../../src/control-plane/control-plane.js';
import { startApiServer } from '../../../src/control-plane/api-server.js';
import { silentLogger } from '../../../src/log.js';
import type * as ir from '../../../src/ir/index.js';
import { createCa, tlsSecretYaml } from '../../helpers/tls-pki.js';

let dir: string;
let cp: ControlPlane;
let server: Server;
let base: string;
const snapshots: ir.Snapshot[] = [];

const VS = `apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: httpbin, namespace: gloo-system}
spec:
  virtualHost:
    domains: ['*']
    routes:
    - matchers: [{prefix: /}]
      routeAction: {single: {upstream: {name: default-httpbin-8000, namespace: gloo-system}}}
`;

async function call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: string | Buffer) {
  const res = await request(`${base}${path}`, { method, ...(body !== undefined ? { body } : {}) });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-api-'));
  cp = new ControlPlane({ store: new FileStore(dir), log: silentLogger });
  cp.subscribe('gateway-proxy', (s) => snapshots.push(s));
  await cp.start();
  const api = await startApiServer(cp, '127.0.0.1', 0);
  server = api.server;
  base = `http://127.0.0.1:${api.port}`;
});

after(async () => {
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

test('a fresh data directory starts with the two default Gateways and Settings, all accepted', async () => {
  const { json } = await call('GET', '/v1/resources?kind=gw');
  const items = json.items as { metadata: { name: string }; spec: { bindPort: number; ssl: boolean }; status: { statuses: Record<string, { state: string }> } }[];
  assert.deepEqual(items.map((g) => [g.metadata.name, g.spec.bindPort, g.spec.ssl]), [['gateway-proxy', 8080, false], ['gateway-proxy-ssl', 8443, true]]);
  assert.ok(items.every((g) => g.status.statuses['gloo-system']!.state === 'Accepted'));
  const st = await call('GET', '/v1/resources/Settings/gloo-system/default');
  assert.equal(st.status, 200);
});

test('apply reports created, then unchanged, then configured, and each change reaches the snapshot', async () => {
  const before = snapshots.length;
  assert.deepEqual((await call('POST', '/v1/apply', VS)).json.results, [{ kind: 'VirtualService', namespace: 'gloo-system', name: 'httpbin', action: 'created' }]);
  assert.ok(snapshots.length > before);
  const vh = snapshots.at(-1)!.listeners[0]!.virtualHosts;
  assert.deepEqual(vh.map((v) => v.name), ['gloo-system.httpbin']);
  assert.equal(((await call('POST', '/v1/apply', VS)).json.results as { action: string }[])[0]!.action, 'unchanged');
  const changed = VS.replace("domains: ['*']", "domains: ['example.com']");
  assert.equal(((await call('POST', '/v1/apply', changed)).json.results as { action: string }[])[0]!.action, 'configured');
  assert.deepEqual(snapshots.at(-1)!.listeners[0]!.virtualHosts[0]!.domains, ['example.com']);
});

test('a route to a missing Upstream is admitted with Gloo’s warning', async () => {
  const { json } = await call('GET', '/v1/resources/vs/gloo-system/httpbin');
  const st = (json.status as { statuses: Record<string, { state: string; reason: string }> }).statuses['gloo-system']!;
  assert.equal(st.state, 'Warning');
  assert.equal(st.reason, 'Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream { gloo-system.default-httpbin-8000 } not found');
});

// Each bad request is refused with a 4xx that says what is wrong, and the stored VirtualService is untouched.
const badApplies: [string, string | Buffer, number, RegExp][] = [
  ['YAML that does not parse', 'kind: [unclosed', 400, /document 1: invalid YAML/],
  ['a duplicate key', 'kind: VirtualService\nkind: Upstream\n', 400, /invalid YAML/],
  ['an unknown kind', 'apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n', 400, /kind: unknown kind "Pod"/],
  ['an unknown field', VS.replace('domains:', 'domainz:'), 400, /VirtualService gloo-system\/httpbin: spec\.virtualHost\.domainz: unknown field/],
  ['a bad second document (nothing of the first is written)', `${VS.replace("'*'", "'changed.example'")}---\napiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: u}\nspec: {static: {hosts: []}}\n`, 400, /document 2: Upstream gloo-system\/u: spec\.static\.hosts: must NOT have fewer than 1 items/],
  ['a body over 3 MiB', Buffer.alloc(3 * 1024 * 1024 + 10, 'a'), 413, /request body larger than/],
  ['a stale resourceVersion', VS.replace('namespace: gloo-system}', 'namespace: gloo-system, resourceVersion: "1"}'), 409, /the object has been modified/],
];
for (const [what, body, status, message] of badApplies) {
  test(`apply refuses ${what}`, async () => {
    const before = (await call('GET', '/v1/resources/vs/gloo-system/httpbin')).json;
    const r = await call('POST', '/v1/apply', body);
    assert.equal(r.status, status);
    assert.match([r.json.error, ...((r.json.details as string[]) ?? [])].join('\n'), message);
    const now = (await call('GET', '/v1/resources/vs/gloo-system/httpbin')).json;
    assert.deepEqual(now, before);
  });
}

test('unknown paths, kinds and names get clear 4xx answers', async () => {
  assert.equal((await call('GET', '/nope')).status, 404);
  const kind = await call('GET', '/v1/resources?kind=pods');
  assert.equal(kind.status, 400);
  assert.match(kind.json.error as string, /doesn't have a resource type "pods"/);
  const missing = await call('DELETE', '/v1/resources/vs/gloo-system/nope');
  assert.equal(missing.status, 404);
  assert.match(missing.json.error as string, /virtualservice "nope" not found in namespace gloo-system/);
  assert.equal((await call('GET', '/v1/proxies/gateway-proxy')).status, 404); // No proxy has reported in this test.
  assert.equal((await call('GET', '/v1/snapshots/gateway-proxy')).status, 200);
});

test('delete removes the resource and its route from the snapshot', async () => {
  const r = await call('DELETE', '/v1/resources/virtualservices/gloo-system/httpbin');
  assert.equal(r.status, 200);
  assert.deepEqual(snapshots.at(-1)!.listeners[0]!.virtualHosts, []);
  assert.equal((await call('GET', '/v1/resources/vs/gloo-system/httpbin')).status, 404);
});

test('a TLS Secret goes in through apply and never comes out: GET shows [redacted: N bytes] markers', async () => {
  const ca = await createCa('api test CA');
  const pair = await ca.issue({ cn: 'secure.example.com' });
  const applied = await call('POST', '/v1/apply', `${tlsSecretYaml('site-tls', 'gloo-system', pair, ca.certPem)}---
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: secure, namespace: gloo-system}
spec:
  sslConfig: {secretRef: {name: site-tls}}
  virtualHost:
    domains: [secure.example.com]
    routes: [{matchers: [{prefix: /}], directResponseAction: {status: 200}}]
`);
  assert.equal(applied.status, 200, JSON.stringify(applied.json));
  const one = (await call('GET', '/v1/resources/secrets/gloo-system/site-tls')).json as { data: Record<string, string>; type: string; status: { statuses: Record<string, { state: string }> } };
  assert.equal(one.type, 'kubernetes.io/tls');
  assert.deepEqual(one.data, {
    'tls.crt': `[redacted: ${Buffer.byteLength(pair.certPem)} bytes]`,
    'tls.key': `[redacted: ${Buffer.byteLength(pair.keyPem)} bytes]`,
    'ca.crt': `[redacted: ${Buffer.byteLength(ca.certPem)} bytes]`,
  });
  assert.equal(one.status.statuses['gloo-system']!.state, 'Accepted');
  const list = JSON.stringify((await call('GET', '/v1/resources?kind=Secret&namespace=gloo-system')).json);
  const all = JSON.stringify((await call('GET', '/v1/resources')).json);
  const snap = JSON.stringify((await call('GET', '/v1/snapshots/gateway-proxy')).json);
  for (const text of [list, all, snap]) {
    assert.doesNotMatch(text, /PRIVATE KEY|BEGIN CERTIFICATE/);
    assert.ok(!text.includes(Buffer.from(pair.keyPem).toString('base64').slice(0, 40)), 'no base64 of the key either');
  }
  // The snapshot names the Secret; the control plane hands the material to the proxy by name.
  assert.match(snap, /"secretRef":\{"namespace":"gloo-system","name":"site-tls","version":"\d+"\}/);
  assert.equal(cp.tlsSecret('gloo-system', 'site-tls')?.keyPem, pair.keyPem);
  // Applying what GET printed would overwrite the key with its marker: refused, nothing written.
  const echoed = { ...one, status: undefined };
  const refused = await call('POST', '/v1/apply', JSON.stringify(echoed));
  assert.equal(refused.status, 400);
  assert.match((refused.json.details as string[]).join('\n'), /Secret gloo-system\/site-tls: data\.tls\.key: must be base64 data, not the \[redacted: N bytes\] marker/);
  assert.equal(cp.tlsSecret('gloo-system', 'site-tls')?.keyPem, pair.keyPem);
});
