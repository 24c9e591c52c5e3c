// Certificate renewal under load: the sidecar and the gateway each hold a CredentialStore whose
// certificates, from the real CA through requestCertificate, live a few seconds, so both renew
// (at about half the lifetime) while requests keep flowing gateway → sidecar (STRICT) → app.
// Not one request may fail, the identities never change, and the renewed certificates are the
// ones on the wire: new connections present them on both sides.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { credentialSource } from '../../../src/mesh/sds/credential-source.js';
import type { Credential } from '../../../src/mesh/sds/credential.js';
import type { CredentialStore } from '../../../src/mesh/sds/credential-store.js';
import { respond, startUpstream, type UpstreamServer } from '../../helpers/upstream-server.js';
import { send } from '../../helpers/http.js';
import { deferred, eventually, type Deferred } from '../../helpers/eventually.js';
import { startMeshPki, tlsMaterial, GATEWAY_ID, HTTPBIN_ID, type MeshPki } from '../../helpers/mesh-pki.js';
import { mtlsSend } from '../../helpers/mesh-clients.js';
import { gatewaySnapshot, istioMtls, startTestGateway, startTestSidecar, type TestGateway, type TestSidecar } from '../../helpers/mesh-proxies.js';

/** TTL_SECONDS is the certificate lifetime asked of the CA: renewal comes at about half of it. */
const TTL_SECONDS = 4;
const RENEWALS = 2;
/** GATEWAY_WORKERS send back-to-back requests through the gateway for the whole run. */
const GATEWAY_WORKERS = 2;

let mesh: MeshPki;
let sidecarStore: CredentialStore;
let gatewayStore: CredentialStore;
let app: UpstreamServer;
let sidecar: TestSidecar;
let gateway: TestGateway;
const sidecarCreds: Credential[] = [];
const gatewayCreds: Credential[] = [];

before(async () => {
  mesh = await startMeshPki({ name: 'renewal' });
  sidecarStore = await mesh.store('default', 'httpbin', { ttlSeconds: TTL_SECONDS });
  gatewayStore = await mesh.store('gloo-system', 'gateway-proxy', { ttlSeconds: TTL_SECONDS });
  sidecarCreds.push(sidecarStore.current);
  gatewayCreds.push(gatewayStore.current);
  sidecarStore.onChange((c) => sidecarCreds.push(c));
  gatewayStore.onChange((c) => gatewayCreds.push(c));
  app = await startUpstream('httpbin');
  // STRICT: a request can only reach the app over mTLS, so every 200 went through the certificates.
  sidecar = await startTestSidecar({ credentials: credentialSource(sidecarStore), appPort: app.port, mode: 'STRICT' });
  gateway = await startTestGateway({
    credentials: credentialSource(gatewayStore),
    snapshot: gatewaySnapshot([{ prefix: '/load/', upstream: 'httpbin-mtls', port: sidecar.port, mtls: istioMtls([HTTPBIN_ID]) }]),
  });
});

after(async () => {
  await gateway?.close();
  await sidecar?.close();
  await app?.close();
  await mesh?.close();
});

interface Result {
  readonly path: string;
  readonly status: number;
  readonly body: string;
  /** serverSha256 is the sidecar certificate a direct client saw (direct stream only). */
  readonly serverSha256?: string;
}

const XFCC = /^By=([^;]+);Hash=([0-9a-f]{64});Subject="";URI=(.+)$/;

test(`no request fails while both credentials renew ${RENEWALS} times (ttl ${TTL_SECONDS} s)`, { timeout: 90_000 }, async () => {
  assert.equal(sidecarStore.current.identity, HTTPBIN_ID);
  assert.equal(gatewayStore.current.identity, GATEWAY_ID);
  const results: Result[] = [];
  const failures: string[] = [];
  let stop = false;
  const running: Promise<void>[] = [];

  const viaGateway = async (path: string) => {
    try {
      const r = await send(gateway.port, path);
      results.push({ path, status: r.status, body: r.body });
    } catch (err) {
      failures.push(`${path}: ${(err as Error).message}`);
    }
  };
  // Through the gateway, back to back: each client request is a fresh connection to the gateway,
  // whose pooled mTLS connections to the sidecar are kept and reused across renewals.
  const gatewayWorker = async (n: number) => {
    for (let i = 0; !stop; i++) await viaGateway(`/load/gw/${n}/${i}`);
  };
  // Directly, as a meshed client would: a NEW mTLS connection per request, presenting the
  // gateway store's credential of the moment, so every handshake uses the current certificates.
  const directWorker = async () => {
    for (let i = 0; !stop; i++) {
      const path = `/load/direct/${i}`;
      try {
        const r = await mtlsSend(sidecar.port, path, { ...tlsMaterial(gatewayStore.current), ca: mesh.rootPem, serverIdentity: HTTPBIN_ID });
        results.push({ path, status: r.status, body: r.body, serverSha256: r.serverSha256 });
      } catch (err) {
        failures.push(`${path}: ${(err as Error).message}`);
      }
    }
  };

  // After each gateway renewal, a burst of requests the app holds until all have arrived: more
  // at once than the gateway ever had in flight, so it must open new connections to the sidecar,
  // and those must carry the renewed certificate. Size: workers + earlier bursts + 1.
  const bursts: { readonly renewal: number; readonly size: number; readonly open: Deferred; arrived: number; done?: Promise<void> }[] = [];
  let inFlightBound = GATEWAY_WORKERS;
  const startBurst = () => {
    const renewal = gatewayCreds.length - 1;
    if (renewal > RENEWALS) return;
    const b = { renewal, size: inFlightBound + 1, open: deferred(), arrived: 0 };
    inFlightBound += b.size;
    bursts.push(b);
    const n = bursts.length - 1;
    running.push(Promise.all(Array.from({ length: b.size }, (_, j) => viaGateway(`/load/burst/${n}/${j}`))).then(() => undefined));
  };
  app.setHandler(async (rec, res) => {
    const m = /^\/load\/burst\/(\d+)\//.exec(rec.url);
    if (m) {
      const b = bursts[Number(m[1])]!;
      if (++b.arrived === b.size) b.open.resolve();
      await b.open.promise;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 7 });
    res.end('httpbin');
  });

  for (let n = 0; n < GATEWAY_WORKERS; n++) running.push(gatewayWorker(n));
  running.push(directWorker());
  const unsubscribe = gatewayStore.onChange(startBurst);
  try {
    await eventually(() => sidecarCreds.length > RENEWALS && gatewayCreds.length > RENEWALS && bursts.length >= RENEWALS, {
      timeoutMs: 60_000,
      intervalMs: 50,
      message: `both stores renew ${RENEWALS} times`,
    });
    const lastSidecar = sidecarCreds[RENEWALS]!;
    // New direct connections are served with the renewed sidecar certificate.
    await eventually(() => results.some((r) => r.serverSha256 === lastSidecar.sha256), {
      timeoutMs: 20_000,
      intervalMs: 20,
      message: 'a new connection is served with the renewed sidecar certificate',
    });
    // Every burst was answered (the app let it through once it was all in flight).
    await eventually(() => bursts.every((b) => results.filter((r) => r.path.startsWith(`/load/burst/${bursts.indexOf(b)}/`)).length + failures.length >= b.size), {
      timeoutMs: 20_000,
      intervalMs: 20,
      message: 'every burst is answered',
    });
  } finally {
    stop = true;
    unsubscribe();
    for (const b of bursts) b.open.resolve();
    await Promise.all(running);
    app.setHandler(respond(200, 'httpbin'));
  }

  // Not one failed request, through either path.
  assert.deepEqual(failures, [], `requests failed during renewal (${failures.length} of ${failures.length + results.length})`);
  const bad = results.filter((r) => r.status !== 200 || r.body !== 'httpbin');
  assert.deepEqual(bad.slice(0, 5), [], `${bad.length} of ${results.length} responses were not 200 from the app`);
  assert.ok(results.some((r) => r.path.startsWith('/load/gw/')), 'requests went through the gateway');
  assert.ok(results.some((r) => r.path.startsWith('/load/direct/')), 'requests went directly');

  // Each renewal is a new certificate (new key, serial and validity) for the same identity.
  for (const [creds, id] of [[sidecarCreds, HTTPBIN_ID], [gatewayCreds, GATEWAY_ID]] as const) {
    assert.equal(new Set(creds.map((c) => c.sha256)).size, creds.length, 'every renewal brings a new certificate');
    for (const c of creds) assert.equal(c.identity, id);
    for (let i = 1; i < creds.length; i++) assert.ok(creds[i]!.notAfter.getTime() >= creds[i - 1]!.notAfter.getTime(), 'notAfter moves forward');
  }
  assert.equal(sidecarStore.current.identity, HTTPBIN_ID);
  assert.equal(gatewayStore.current.identity, GATEWAY_ID);

  // The app saw the same identities on every request, with one of the gateway's certificates.
  const gatewayIndex = new Map(gatewayCreds.map((c, i) => [c.sha256, i]));
  const seen = app.requests.filter((r) => r.url.startsWith('/load/'));
  assert.equal(seen.length, results.length, 'every answered request reached the app exactly once');
  for (const r of seen) {
    const m = XFCC.exec(String(r.headers['x-forwarded-client-cert']));
    assert.ok(m, `${r.url}: XFCC ${String(r.headers['x-forwarded-client-cert'])}`);
    assert.equal(m[1], HTTPBIN_ID, `${r.url}: By=`);
    assert.equal(m[3], GATEWAY_ID, `${r.url}: URI=`);
    assert.ok(gatewayIndex.has(m[2]!), `${r.url}: Hash= is one of the gateway's certificates`);
  }
  // Through the gateway, each burst opened a connection with a certificate at least as new as the
  // renewal that started it: renewed certificates reach the wire without a restart.
  bursts.forEach((b, n) => {
    const indexes = seen
      .filter((r) => r.url.startsWith(`/load/burst/${n}/`))
      .map((r) => gatewayIndex.get(XFCC.exec(String(r.headers['x-forwarded-client-cert']))![2]!)!);
    assert.equal(indexes.length, b.size);
    assert.ok(Math.max(...indexes) >= b.renewal, `burst ${n} after renewal ${b.renewal} used certificates ${indexes.join(',')}`);
  });
  const sidecarHashes = new Set(sidecarCreds.map((c) => c.sha256));
  for (const r of results) if (r.serverSha256 !== undefined) assert.ok(sidecarHashes.has(r.serverSha256), `${r.path}: the sidecar served one of its certificates`);
  const served = new Set(results.flatMap((r) => (r.serverSha256 ? [r.serverSha256] : [])));
  assert.ok(served.size > RENEWALS, `the sidecar served ${served.size} certificates over the run`);
});
