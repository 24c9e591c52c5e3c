// CredentialStore: when it renews (pure table), that it renews short-lived certificates from a
// real CA, that a failed renewal keeps the current credential, and that TLS contexts are cached.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../log.js';
import { CertificateAuthority } from '../ca/certificate-authority.js';
import { createClientKeyAndCsr } from '../ca/x509.js';
import { deferred, eventually } from '../../../test/helpers/eventually.js';
import { credentialFromChain, type Credential } from './credential.js';
import { CredentialStore, renewalDelayMs } from './credential-store.js';
import { CredentialNotReadyError } from './errors.js';

const t0 = Date.parse('2030-01-01T00:00:00Z');
const at = (ms: number) => new Date(t0 + ms);
const H = 3600_000;

describe('renewalDelayMs', () => {
  const cases: { name: string; notBefore: number; notAfter: number; now: number; ratio: number; want: number }[] = [
    { name: 'half of a 24 h certificate, asked at issue', notBefore: 0, notAfter: 24 * H, now: 0, ratio: 0.5, want: 12 * H },
    { name: 'half of a 24 h certificate, asked 2 h later', notBefore: 0, notAfter: 24 * H, now: 2 * H, ratio: 0.5, want: 10 * H },
    { name: 'linkerd-style 70 %', notBefore: 0, notAfter: 10 * H, now: 0, ratio: 0.7, want: 7 * H },
    { name: 'Istio jitter upper bound (0.51)', notBefore: 0, notAfter: 24 * H, now: 0, ratio: 0.51, want: 0.51 * 24 * H },
    { name: 'Istio jitter lower bound (0.49)', notBefore: 0, notAfter: 24 * H, now: 0, ratio: 0.49, want: 0.49 * 24 * H },
    { name: 'a renewal time already past', notBefore: 0, notAfter: 24 * H, now: 13 * H, ratio: 0.5, want: 0 },
    { name: 'an expired certificate', notBefore: 0, notAfter: 24 * H, now: 30 * H, ratio: 0.5, want: 0 },
    { name: 'a certificate not valid yet (counts from notBefore)', notBefore: H, notAfter: 3 * H, now: 0, ratio: 0.5, want: 2 * H },
    { name: 'ratio 0 renews at notBefore', notBefore: 0, notAfter: 24 * H, now: 0, ratio: 0, want: 0 },
    { name: 'ratio above 1 is clamped to expiry', notBefore: 0, notAfter: 24 * H, now: 0, ratio: 1.5, want: 24 * H },
    { name: 'an empty lifetime', notBefore: 5, notAfter: 5, now: 0, ratio: 0.5, want: 0 },
    { name: 'an inverted lifetime', notBefore: 10, notAfter: 5, now: 0, ratio: 0.5, want: 0 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(renewalDelayMs(at(c.notBefore), at(c.notAfter), at(c.now), c.ratio), Math.round(c.want));
    });
  }
});

describe('CredentialStore', () => {
  let dir: string;
  let ca: CertificateAuthority;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshgate-credstore-'));
    ca = await CertificateAuthority.loadOrCreate(dir);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** issue gets a real credential from the CA, without gRPC. */
  async function issue(ttlSeconds: number): Promise<Credential> {
    const { csrPem, key } = await createClientKeyAndCsr();
    return credentialFromChain(await ca.sign(csrPem, { namespace: 'default', serviceAccount: 'app' }, ttlSeconds), key, ca.rootPem);
  }

  test('current and secureContext throw before start', () => {
    const store = new CredentialStore({ fetch: () => issue(60), log: silentLogger });
    assert.throws(() => store.current, (err: unknown) => err instanceof CredentialNotReadyError && err.code === 'GW_SDS_NOT_READY');
    assert.throws(() => store.secureContext(), CredentialNotReadyError);
  });

  test('start throws when the first credential cannot be fetched', async () => {
    const store = new CredentialStore({ fetch: () => Promise.reject(new Error('ca down')), log: silentLogger });
    await assert.rejects(store.start(), /ca down/);
  });

  test('renews a short-lived certificate from a real CA and tells listeners', async (t) => {
    let fetches = 0;
    const store = new CredentialStore({
      fetch: async () => {
        fetches++;
        return issue(2);
      },
      log: silentLogger,
      minDelayMs: 0,
    });
    t.after(() => store.stop());
    await store.start();
    const first = store.current;
    assert.equal(first.identity, 'spiffe://cluster.local/ns/default/sa/app');
    const seen: Credential[] = [];
    const unsubscribe = store.onChange((c) => seen.push(c));
    await eventually(() => seen.length >= 2, { timeoutMs: 15_000, message: 'two renewals' });
    unsubscribe();
    assert.ok(fetches >= 3);
    assert.notEqual(seen[0]!.sha256, first.sha256);
    assert.notEqual(seen[1]!.sha256, seen[0]!.sha256);
    assert.notEqual(store.current, first);
  });

  test('a failed renewal keeps the current credential, and the retry replaces it', async (t) => {
    const first = await issue(2);
    const second = await issue(3600);
    let calls = 0;
    const failed = deferred();
    const store = new CredentialStore({
      fetch: async () => {
        calls++;
        if (calls === 1) return first;
        if (calls === 2) {
          failed.resolve();
          throw new Error('ca unavailable');
        }
        return second;
      },
      log: silentLogger,
      retryMs: 20,
      minDelayMs: 0,
    });
    t.after(() => store.stop());
    const changes: Credential[] = [];
    store.onChange((c) => changes.push(c));
    await store.start();
    await failed.promise;
    assert.equal(store.current, first);
    assert.deepEqual(changes, []);
    await eventually(() => store.current === second, { timeoutMs: 10_000, message: 'retry installed the new credential' });
    assert.deepEqual(changes, [second]);
    assert.equal(calls, 3);
  });

  test('secureContext is built once per credential, and per extra-options object', async (t) => {
    const a = await issue(3600);
    const b = await issue(3600);
    let next = a;
    const store = new CredentialStore({ fetch: async () => next, log: silentLogger });
    t.after(() => store.stop());
    await store.start();
    const ctx = store.secureContext();
    assert.equal(store.secureContext(), ctx);
    const extra = { minVersion: 'TLSv1.2' as const };
    const withExtra = store.secureContext(extra);
    assert.notEqual(withExtra, ctx);
    assert.equal(store.secureContext(extra), withExtra);

    // A restart installs the next credential as a renewal would, without waiting for the timer.
    next = b;
    store.stop();
    await store.start();
    assert.equal(store.current, b);
    const renewed = store.secureContext();
    assert.notEqual(renewed, ctx);
    assert.equal(store.secureContext(), renewed);
  });

  test('stop() during a renewal leaves the current credential in place', async (t) => {
    const first = await issue(2);
    const later = await issue(3600);
    const gate = deferred();
    const started = deferred();
    let calls = 0;
    const store = new CredentialStore({
      fetch: async () => {
        calls++;
        if (calls === 1) return first;
        started.resolve();
        await gate.promise;
        return later;
      },
      log: silentLogger,
      minDelayMs: 0,
    });
    t.after(() => store.stop());
    let changed = false;
    store.onChange(() => (changed = true));
    await store.start();
    await started.promise;
    store.stop();
    gate.resolve();
    // The fetch settles in microtasks once the gate opens; one macrotask turn drains them all.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls, 2);
    assert.equal(store.current, first);
    assert.equal(changed, false);
  });
});
