// Reachability, as Istio's tests/integration/security/reachability_test.go checks it
// (istio-compat.md §8.1): every PeerAuthentication policy set (row) against every kind of
// client (column), each cell its own test. Everything is real: two CAs with roots in temp
// dirs and the mesh CA's gRPC server; credentials fetched with service-account tokens; a
// sidecar per row (a Proxy serving inboundSnapshot in the mode effectiveMtls resolves for
// httpbin in `default`); a gateway Proxy originating Istio mTLS; an app that records what it got.
//
// Oracle, as Istio's: allowed = 200 from the app, with X-Forwarded-Client-Cert exactly as an
// Istio inbound sidecar writes it on mTLS and absent on plaintext (even when the client sent one);
// refused = the connection ends before any response (a gateway answers Envoy's 503) and the
// app never sees the request.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { Agent, request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { parseResource } from '../../../src/api/parse.js';
import type { Resource } from '../../../src/api/meta.js';
import type { PeerAuthenticationSpec } from '../../../src/api/security/peer-authentication.js';
import { effectiveMtls, modeForPort, type MtlsMode } from '../../../src/translate/peer-authentication.js';
import { credentialSource } from '../../../src/mesh/sds/credential-source.js';
import type { Credential } from '../../../src/mesh/sds/credential.js';
import type { CredentialStore } from '../../../src/mesh/sds/credential-store.js';
import { UPSTREAM_RESET_PREFIX } from '../../../src/proxy/local-reply.js';
import { respond, startUpstream, type RecordedRequest, type UpstreamServer } from '../../helpers/upstream-server.js';
import { send, type Reply } from '../../helpers/http.js';
import { deferred, eventually } from '../../helpers/eventually.js';
import { startMeshPki, tlsMaterial, GATEWAY_ID, HTTPBIN_ID, SLEEP_ID, type MeshPki } from '../../helpers/mesh-pki.js';
import { attempt, describeOutcome, mtlsSend, type MtlsClientOptions, type Outcome } from '../../helpers/mesh-clients.js';
import { gatewaySnapshot, istioMtls, startTestGateway, startTestSidecar, type GatewayTarget, type TestGateway, type TestSidecar } from '../../helpers/mesh-proxies.js';

/** What a client sends as XFCC to try to pass as someone else. */
const SPOOFED_XFCC = 'By=spiffe://cluster.local/ns/default/sa/httpbin;Hash=00;Subject="";URI=spiffe://cluster.local/ns/kube-system/sa/admin';
const WORKLOAD = { namespace: 'default', labels: { app: 'httpbin', version: 'v1' } };
const TEST_OPTS = { timeout: 30_000 };

// === Rows: policy sets ===

interface Row {
  readonly id: string;
  readonly name: string;
  /** mode is what Istio's ComposePeerAuthentication gives httpbin's app port for these policies. */
  readonly mode: MtlsMode;
  /** workloadMode, when it differs from mode, is what every other port of the workload gets. */
  readonly workloadMode?: MtlsMode;
  /** policies are PeerAuthentication YAML documents; appPort is the workload port. */
  readonly policies: (appPort: number) => string[];
}

const pa = (namespace: string, name: string, spec: string) => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
${spec.replace(/^/gm, '  ')}
`;

const ROWS: readonly Row[] = [
  { id: 'none', name: 'no policy', mode: 'PERMISSIVE', policies: () => [] },
  { id: 'mesh-strict', name: 'mesh STRICT', mode: 'STRICT', policies: () => [pa('istio-system', 'default', 'mtls:\n  mode: STRICT')] },
  {
    id: 'mesh-strict-ns-permissive',
    name: 'mesh STRICT + namespace PERMISSIVE',
    mode: 'PERMISSIVE',
    policies: () => [pa('istio-system', 'default', 'mtls:\n  mode: STRICT'), pa('default', 'default', 'mtls:\n  mode: PERMISSIVE')],
  },
  { id: 'ns-strict', name: 'namespace STRICT', mode: 'STRICT', policies: () => [pa('default', 'default', 'mtls:\n  mode: STRICT')] },
  {
    id: 'mesh-permissive-wl-strict',
    name: 'mesh PERMISSIVE + workload STRICT',
    mode: 'STRICT',
    policies: () => [
      pa('istio-system', 'default', 'mtls:\n  mode: PERMISSIVE'),
      pa('default', 'httpbin', 'selector:\n  matchLabels:\n    app: httpbin\nmtls:\n  mode: STRICT'),
    ],
  },
  {
    id: 'wl-strict-port-permissive',
    name: 'workload STRICT + app port PERMISSIVE',
    mode: 'PERMISSIVE',
    workloadMode: 'STRICT',
    policies: (appPort) => [pa('default', 'httpbin', `selector:\n  matchLabels:\n    app: httpbin\nmtls:\n  mode: STRICT\nportLevelMtls:\n  "${appPort}":\n    mode: PERMISSIVE`)],
  },
  {
    id: 'wl-permissive-port-strict',
    name: 'workload PERMISSIVE + app port STRICT',
    mode: 'STRICT',
    workloadMode: 'PERMISSIVE',
    policies: (appPort) => [pa('default', 'httpbin', `selector:\n  matchLabels:\n    app: httpbin\nmtls:\n  mode: PERMISSIVE\nportLevelMtls:\n  "${appPort}":\n    mode: STRICT`)],
  },
  { id: 'mesh-disable', name: 'mesh DISABLE', mode: 'DISABLE', policies: () => [pa('istio-system', 'default', 'mtls:\n  mode: DISABLE')] },
  {
    id: 'root-selector-ignored',
    name: 'selector policy in istio-system (ignored)',
    mode: 'PERMISSIVE',
    policies: () => [pa('istio-system', 'httpbin-strict', 'selector:\n  matchLabels:\n    app: httpbin\nmtls:\n  mode: STRICT')],
  },
];

function parsePolicies(docs: readonly string[]): Resource<PeerAuthenticationSpec>[] {
  return docs.map((text) => {
    const r = parseResource(parseYaml(text));
    if (!r.ok) throw new Error(`bad test policy: ${JSON.stringify(r.issues)}\n${text}`);
    assert.equal(r.resource.kind, 'PeerAuthentication');
    return r.resource as Resource<PeerAuthenticationSpec>;
  });
}

// === Fixture ===

let mesh: MeshPki;
let foreign: MeshPki;
let app: UpstreamServer;
let sidecarStore: CredentialStore;
let gatewayStore: CredentialStore;
let gateway: TestGateway;
const sidecars = new Map<string, TestSidecar>();
/** switching is the sidecar whose policy changes while connections are open. */
let switching: TestSidecar;
/** Client credentials, one per column that presents a certificate. */
const clientCreds: Record<'foreignOther' | 'foreignImpersonating' | 'meshRootOtherDomain' | 'expired', Credential> = {} as never;

before(async () => {
  mesh = await startMeshPki({ name: 'mesh' });
  // A different root; the API takes a trust domain, so its workloads are spiffe://other.local/….
  foreign = await startMeshPki({ name: 'foreign', trustDomain: 'other.local' });
  assert.notEqual(foreign.rootPem, mesh.rootPem);

  sidecarStore = await mesh.store('default', 'httpbin');
  gatewayStore = await mesh.store('gloo-system', 'gateway-proxy');
  assert.equal(sidecarStore.current.identity, HTTPBIN_ID);
  assert.equal(gatewayStore.current.identity, GATEWAY_ID);

  clientCreds.foreignOther = await foreign.credential('default', 'sleep');
  assert.equal(clientCreds.foreignOther.identity, 'spiffe://other.local/ns/default/sa/sleep');
  // The foreign root signing an identity in OUR trust domain: only the chain check can refuse it.
  clientCreds.foreignImpersonating = await foreign.forge(GATEWAY_ID, { ttlSeconds: 3600 });
  // Our root signing an identity in another trust domain: only the trust-domain check can refuse it.
  clientCreds.meshRootOtherDomain = await mesh.forge('spiffe://other.local/ns/default/sa/sleep', { ttlSeconds: 3600 });
  // A real mesh certificate that lived one second, fetched through the CA, then left to expire.
  const expired = await mesh.credential('default', 'sleep', 1);
  assert.equal(expired.identity, SLEEP_ID);
  await eventually(() => Date.now() > expired.notAfter.getTime() + 1000, { timeoutMs: 10_000, intervalMs: 50, message: 'the 1 s certificate expires' });
  clientCreds.expired = expired;

  app = await startUpstream('httpbin');
  for (const row of ROWS) {
    const mode = modeForPort(effectiveMtls(parsePolicies(row.policies(app.port)), WORKLOAD), app.port);
    sidecars.set(row.id, await startTestSidecar({ credentials: credentialSource(sidecarStore), appPort: app.port, mode }));
  }
  switching = await startTestSidecar({ credentials: credentialSource(sidecarStore), appPort: app.port, mode: 'PERMISSIVE' });

  const targets: GatewayTarget[] = [];
  for (const row of ROWS) {
    const port = sidecars.get(row.id)!.port;
    targets.push({ prefix: `/${row.id}/mtls/`, upstream: `${row.id}-mtls`, port, mtls: istioMtls([HTTPBIN_ID]) });
    targets.push({ prefix: `/${row.id}/plain/`, upstream: `${row.id}-plain`, port });
  }
  const strictPort = sidecars.get('mesh-strict')!.port;
  targets.push({ prefix: '/naming/wrong/', upstream: 'naming-wrong', port: strictPort, mtls: istioMtls([SLEEP_ID]) });
  targets.push({ prefix: '/naming/any/', upstream: 'naming-any', port: strictPort, mtls: istioMtls([]) });
  targets.push({ prefix: '/switch/mtls/', upstream: 'switch-mtls', port: switching.port, mtls: istioMtls([HTTPBIN_ID]) });
  gateway = await startTestGateway({ credentials: credentialSource(gatewayStore), snapshot: gatewaySnapshot(targets) });
});

after(async () => {
  await gateway?.close();
  await Promise.all([...sidecars.values(), switching].filter(Boolean).map((s) => s.close()));
  await app?.close();
  await mesh?.close();
  await foreign?.close();
});

// === Assertions shared by the cells ===

function received(path: string): RecordedRequest[] {
  return app.requests.filter((r) => r.url === path);
}

/** expectedXfcc is what Istio's inbound sidecar (APPEND_FORWARD) adds for an mTLS peer. */
function expectedXfcc(peer: Credential): string {
  return `By=${HTTPBIN_ID};Hash=${peer.sha256};Subject="";URI=${peer.identity}`;
}

function assertAllowed(o: Outcome, path: string): RecordedRequest {
  assert.ok(o.ok, `expected 200 from the app, got ${describeOutcome(o)}`);
  assert.equal(o.reply.status, 200, describeOutcome(o));
  assert.equal(o.reply.body, 'httpbin');
  const got = received(path);
  assert.equal(got.length, 1, `the app should have seen ${path} once`);
  return got[0]!;
}

/** assertClosed: the connection ended before any response, and nothing reached the app. */
function assertClosed(o: Outcome, path: string): void {
  assert.ok(!o.ok, `expected the connection to be closed before any response, got ${describeOutcome(o)}`);
  assert.notEqual(o.error.code, 'TEST_SAFETY_TIMEOUT', 'the connection hung instead of being closed');
  assert.deepEqual(received(path), [], 'the app must never see a refused request');
}

/** assertGatewayReset: the gateway answered Envoy's "reset before headers" 503 and nothing reached the app. */
function assertGatewayReset(o: Outcome, path: string, body: RegExp): void {
  assert.ok(o.ok, `the gateway should answer, got ${describeOutcome(o)}`);
  assert.equal(o.reply.status, 503, describeOutcome(o));
  assert.ok(o.reply.body.startsWith(UPSTREAM_RESET_PREFIX), o.reply.body);
  assert.match(o.reply.body, body);
  assert.deepEqual(received(path), [], 'the app must never see a refused request');
}

const CONNECTION_TERMINATION = /^upstream connect error or disconnect\/reset before headers\. reset reason: connection termination$/;
const TLS_CONNECTION_FAILURE = /^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure, transport failure reason: TLS error: \S/;

// === Columns: clients ===

type Expect = 'allowed' | 'refused';

interface Column {
  readonly id: string;
  readonly name: string;
  readonly expect: (mode: MtlsMode) => Expect;
  readonly run: (row: Row, sidecar: TestSidecar, expect: Expect) => Promise<void>;
}

const plaintextAllowed = (m: MtlsMode): Expect => (m === 'STRICT' ? 'refused' : 'allowed');
const mtlsAllowed = (m: MtlsMode): Expect => (m === 'DISABLE' ? 'refused' : 'allowed');
const never = (): Expect => 'refused';

/** directMtls is a client without a sidecar doing mesh mTLS itself, with the given certificate. */
function directMtls(id: string, name: string, material: () => Pick<MtlsClientOptions, 'key' | 'cert'>): Column {
  return {
    id,
    name,
    expect: never,
    run: async (row, sc) => {
      const path = `/${row.id}/direct/${id}`;
      const o = await attempt(mtlsSend(sc.port, path, { ...material(), ca: mesh.rootPem, serverIdentity: HTTPBIN_ID }));
      assertClosed(o, path);
    },
  };
}

const COLUMNS: readonly Column[] = [
  {
    id: 'plaintext',
    name: 'plaintext client',
    expect: plaintextAllowed,
    run: async (row, sc, expect) => {
      const path = `/${row.id}/direct/plaintext`;
      const o = await attempt(send(sc.port, path, { headers: { 'x-forwarded-client-cert': SPOOFED_XFCC } }));
      if (expect === 'refused') return assertClosed(o, path);
      const rec = assertAllowed(o, path);
      // Plaintext gets no XFCC, and the client's own copy is dropped: Istio's PlaintextForHTTP oracle.
      assert.equal(rec.headers['x-forwarded-client-cert'], undefined, 'no XFCC may reach the app over plaintext');
    },
  },
  {
    id: 'gateway-mtls',
    name: 'gateway with mTLS',
    expect: mtlsAllowed,
    run: async (row, _sc, expect) => {
      const path = `/${row.id}/mtls/gateway`;
      const o = await attempt(send(gateway.port, path, { headers: { 'x-forwarded-client-cert': SPOOFED_XFCC } }));
      if (expect === 'refused') return assertGatewayReset(o, path, TLS_CONNECTION_FAILURE);
      const rec = assertAllowed(o, path);
      // The gateway sanitizes what its client sent; the sidecar adds the gateway's own details.
      assert.equal(rec.headers['x-forwarded-client-cert'], expectedXfcc(gatewayStore.current));
    },
  },
  {
    id: 'gateway-plaintext',
    name: 'gateway without mTLS',
    expect: plaintextAllowed,
    run: async (row, _sc, expect) => {
      const path = `/${row.id}/plain/gateway`;
      const o = await attempt(send(gateway.port, path, { headers: { 'x-forwarded-client-cert': SPOOFED_XFCC } }));
      // Istio §1.5: a client with a sidecar sending plaintext to STRICT gets a 503, flag UC.
      if (expect === 'refused') return assertGatewayReset(o, path, CONNECTION_TERMINATION);
      const rec = assertAllowed(o, path);
      assert.equal(rec.headers['x-forwarded-client-cert'], undefined, 'no XFCC may reach the app over plaintext');
    },
  },
  {
    id: 'mesh-mtls',
    name: 'mesh mTLS client',
    expect: mtlsAllowed,
    run: async (row, sc, expect) => {
      const path = `/${row.id}/direct/mesh-mtls`;
      const peer = gatewayStore.current;
      const o = await attempt(
        mtlsSend(sc.port, path, { ...tlsMaterial(peer), ca: mesh.rootPem, serverIdentity: HTTPBIN_ID }, { headers: { 'x-forwarded-client-cert': SPOOFED_XFCC } }),
      );
      if (expect === 'refused') return assertClosed(o, path);
      const rec = assertAllowed(o, path);
      // APPEND_FORWARD on an mTLS connection keeps what the peer sent and appends the peer's details.
      assert.equal(rec.headers['x-forwarded-client-cert'], `${SPOOFED_XFCC},${expectedXfcc(peer)}`);
    },
  },
  directMtls('foreign-ca', 'foreign-CA client (other.local)', () => tlsMaterial(clientCreds.foreignOther)),
  directMtls('foreign-ca-impersonating', 'foreign-CA client claiming cluster.local', () => tlsMaterial(clientCreds.foreignImpersonating)),
  directMtls('other-trust-domain', 'mesh-root client in other.local', () => tlsMaterial(clientCreds.meshRootOtherDomain)),
  directMtls('expired', 'expired mesh certificate', () => tlsMaterial(clientCreds.expired)),
  directMtls('no-cert', 'TLS client without certificate', () => ({})),
];

// === The matrix ===

for (const row of ROWS) {
  describe(row.name, () => {
    test(`${row.name} resolves to ${row.mode} on the app port`, () => {
      const eff = effectiveMtls(parsePolicies(row.policies(app.port)), WORKLOAD);
      assert.equal(modeForPort(eff, app.port), row.mode);
      // A port-level entry applies to its port only.
      assert.equal(modeForPort(eff, app.port + 1), row.workloadMode ?? row.mode);
      assert.equal(sidecars.get(row.id)!.mode, row.mode);
    });
    for (const col of COLUMNS) {
      const expect = col.expect(row.mode);
      test(`${row.name} × ${col.name} → ${expect}`, TEST_OPTS, () => col.run(row, sidecars.get(row.id)!, expect));
    }
  });
}

// === Secure naming ===

describe('secure naming (the gateway checks the sidecar identity)', () => {
  test('an endpoint naming another service account is refused with a TLS connection failure', TEST_OPTS, async () => {
    const path = '/naming/wrong/x';
    const o = await attempt(send(gateway.port, path));
    assertGatewayReset(o, path, TLS_CONNECTION_FAILURE);
    assert.ok(o.ok);
    assert.ok(o.reply.body.includes(HTTPBIN_ID) && o.reply.body.includes(SLEEP_ID), `the reason names both identities: ${o.reply.body}`);
  });

  test('a sidecar with the right identity from a foreign root is refused with a TLS connection failure', TEST_OPTS, async () => {
    // The gateway's client side does verify the chain: an impostor sidecar cannot pose as httpbin.
    const impostorCred = await foreign.forge(HTTPBIN_ID, { ttlSeconds: 3600 });
    const impostorApp = await startUpstream('impostor');
    const impostor = await startTestSidecar({
      credentials: { current: () => ({ identity: impostorCred.identity, secureContext: createSecureContext({ ca: impostorCred.rootPem, ...tlsMaterial(impostorCred) }), rootPem: impostorCred.rootPem }) },
      appPort: impostorApp.port,
      mode: 'STRICT',
    });
    const impostorGateway = await startTestGateway({
      credentials: credentialSource(gatewayStore),
      snapshot: gatewaySnapshot([{ prefix: '/impostor/', upstream: 'impostor-mtls', port: impostor.port, mtls: istioMtls([HTTPBIN_ID]) }]),
    });
    try {
      const o = await attempt(send(impostorGateway.port, '/impostor/x'));
      assert.ok(o.ok, describeOutcome(o));
      assert.equal(o.reply.status, 503, describeOutcome(o));
      assert.match(o.reply.body, TLS_CONNECTION_FAILURE);
      assert.deepEqual(impostorApp.requests, []);
    } finally {
      await impostorGateway.close();
      await impostor.close();
      await impostorApp.close();
    }
  });

  test('an endpoint with no identities accepts any identity of the trust domain', TEST_OPTS, async () => {
    const path = '/naming/any/x';
    const rec = assertAllowed(await attempt(send(gateway.port, path)), path);
    assert.equal(rec.headers['x-forwarded-client-cert'], expectedXfcc(gatewayStore.current));
  });
});

// === A policy change without a restart ===

/** keepAliveGet sends GET on the agent's (single) connection and tells whether it reused one. */
function keepAliveGet(agent: Agent, port: number, path: string): Promise<Reply & { reused: boolean; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString('utf8'), reused: req.reusedSocket, socket: req.socket! }),
      );
    });
    req.on('error', (err: Error) => reject(new Error(`GET ${path} on the keep-alive connection failed: ${err.message}`, { cause: err })));
    req.end();
  });
}

/** closeWatch reports when a client socket closes, so a test can wait for the server to close it. */
function closeWatch(socket: Socket): { readonly closed: boolean } {
  const w = { closed: socket.destroyed };
  socket.once('close', () => (w.closed = true));
  return w;
}

/** activeConnections reads the sidecar's open client connections gauge. */
async function activeConnections(sc: TestSidecar): Promise<number> {
  const g = await sc.proxy.stats.activeConnections.get();
  return g.values.find((v) => v.labels.listener === 'virtualInbound')?.value ?? 0;
}

describe('a policy change applies without a restart', () => {
  test('PERMISSIVE → STRICT → DISABLE → PERMISSIVE on one running sidecar: new connections follow the mode, forbidden open ones are drained', TEST_OPTS, async () => {
    const idleAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const busyAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const gate = deferred();
    app.setHandler(async (rec, res) => {
      if (rec.url === '/switch/busy') await gate.promise;
      res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'httpbin' });
      res.end('httpbin');
    });
    try {
      // PERMISSIVE: a keep-alive plaintext connection, and the gateway's pooled mTLS one.
      assert.equal(switching.mode, 'PERMISSIVE');
      const first = await keepAliveGet(idleAgent, switching.port, '/switch/keepalive/1');
      assert.equal(first.status, 200);
      assert.equal(first.reused, false);
      const idle = closeWatch(first.socket);
      assertAllowed(await attempt(send(gateway.port, '/switch/mtls/permissive')), '/switch/mtls/permissive');
      // A second plaintext connection is busy (its request waits at the app) when the mode changes.
      const busy = keepAliveGet(busyAgent, switching.port, '/switch/busy');
      await eventually(() => received('/switch/busy').length === 1, { message: 'the busy request reached the app' });

      // → STRICT. What the code does (as Envoy drains a removed filter chain): the idle plaintext
      // connection is closed at once, the busy one finishes its response with `connection: close`.
      await switching.setMode('STRICT');
      await eventually(() => idle.closed, { message: 'the idle plaintext keep-alive connection is closed by the sidecar' });
      gate.resolve();
      const drained = await busy;
      assert.equal(drained.status, 200);
      assert.equal(drained.headers.connection, 'close');
      const busyConn = closeWatch(drained.socket);
      await eventually(() => busyConn.closed, { message: 'the busy plaintext connection closes after its response' });
      // A NEW plaintext connection is refused; mTLS still gets through.
      assertClosed(await attempt(send(switching.port, '/switch/plain/strict')), '/switch/plain/strict');
      const strictMtls = assertAllowed(await attempt(send(gateway.port, '/switch/mtls/strict')), '/switch/mtls/strict');
      assert.equal(strictMtls.headers['x-forwarded-client-cert'], expectedXfcc(gatewayStore.current));

      // → DISABLE: the gateway's mTLS connection is drained (nothing else is open), new TLS is refused.
      await switching.setMode('DISABLE');
      await eventually(async () => (await activeConnections(switching)) === 0, { message: 'every mTLS connection to the sidecar is drained' });
      assertClosed(
        await attempt(mtlsSend(switching.port, '/switch/direct/disable', { ...tlsMaterial(gatewayStore.current), ca: mesh.rootPem, serverIdentity: HTTPBIN_ID })),
        '/switch/direct/disable',
      );
      const plain = assertAllowed(await attempt(send(switching.port, '/switch/plain/disable')), '/switch/plain/disable');
      assert.equal(plain.headers['x-forwarded-client-cert'], undefined);
      const viaGateway = await attempt(send(gateway.port, '/switch/mtls/disable'));
      assert.ok(viaGateway.ok && viaGateway.reply.status === 503, describeOutcome(viaGateway));
      assert.ok(viaGateway.reply.body.startsWith(UPSTREAM_RESET_PREFIX), viaGateway.reply.body);
      assert.deepEqual(received('/switch/mtls/disable'), []);

      // → PERMISSIVE again: both kinds of new connection are accepted.
      await switching.setMode('PERMISSIVE');
      assertAllowed(await attempt(send(switching.port, '/switch/plain/permissive')), '/switch/plain/permissive');
      const back = assertAllowed(await attempt(send(gateway.port, '/switch/mtls/permissive-again')), '/switch/mtls/permissive-again');
      assert.equal(back.headers['x-forwarded-client-cert'], expectedXfcc(gatewayStore.current));
      const third = await keepAliveGet(idleAgent, switching.port, '/switch/keepalive/3');
      assert.equal(third.status, 200);
      assert.equal(third.reused, false, 'the drained connection is not reused');
    } finally {
      gate.resolve();
      app.setHandler(respond(200, 'httpbin', { 'x-upstream': 'httpbin' }));
      idleAgent.destroy();
      busyAgent.destroy();
    }
  });
});
