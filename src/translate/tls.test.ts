// Unit tests for TLS Secrets and sslConfig translation beyond the golden files: the material
// handed to the proxy (never to the snapshot), encrypted and malformed keys, the fallback to a
// Secret's last accepted form.

import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { Resource } from '../api/meta.js';
import { parseResource } from '../api/parse.js';
import { translate } from './translator.js';
import { b64, createCa, type KeyPair } from '../../test/helpers/tls-pki.js';

function parsed(doc: unknown): Resource {
  const r = parseResource(doc);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.resource;
}

const gateway = parsed({
  apiVersion: 'gateway.solo.io/v1', kind: 'Gateway', metadata: { name: 'gateway-proxy-ssl', namespace: 'gloo-system' },
  spec: { bindPort: 8443, ssl: true, httpGateway: {} },
});

function secret(data: Record<string, string>, rv = '1'): Resource {
  const r = parsed({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'site', namespace: 'gloo-system' }, type: 'kubernetes.io/tls', data });
  r.metadata.resourceVersion = rv;
  return r;
}

const vs = parsed({
  apiVersion: 'gateway.solo.io/v1', kind: 'VirtualService', metadata: { name: 'site', namespace: 'gloo-system' },
  spec: {
    sslConfig: { secretRef: { name: 'site' } },
    virtualHost: { domains: ['site.example.com'], routes: [{ matchers: [{ prefix: '/' }], directResponseAction: { status: 200 } }] },
  },
});

let pair: KeyPair;
let other: KeyPair;
let caPem: string;

before(async () => {
  const ca = await createCa('unit CA');
  caPem = ca.certPem;
  pair = await ca.issue({ cn: 'site.example.com' });
  other = await ca.issue({ cn: 'other.example.com' });
});

function reasonOf(r: ReturnType<typeof translate>, key: string): string | undefined {
  return r.outcomes.get(key)?.reason;
}

describe('TLS Secrets in translation', () => {
  test('the material the snapshot names is handed out beside it, and the snapshot carries none', () => {
    const r = translate([gateway, vs, secret({ 'tls.crt': b64(pair.certPem), 'tls.key': b64(pair.keyPem), 'ca.crt': b64(caPem) })], { proxies: ['gateway-proxy'] });
    assert.deepEqual(r.tlsSecrets.get('gloo-system/site'), { certPem: pair.certPem, keyPem: pair.keyPem, caPem });
    const json = JSON.stringify([...r.snapshots.values()]);
    assert.doesNotMatch(json, /PRIVATE KEY|BEGIN CERTIFICATE/);
    assert.ok(!json.includes(b64(pair.keyPem).slice(0, 32)));
    const l = r.snapshots.get('gateway-proxy')!.listeners[0]!;
    assert.deepEqual(l.tls?.clientCa, { secretRef: { namespace: 'gloo-system', name: 'site', version: '1' } });
  });

  test('a Secret nobody names is checked but not handed out', () => {
    const r = translate([gateway, secret({ 'tls.crt': b64(pair.certPem), 'tls.key': b64(pair.keyPem) })], { proxies: ['gateway-proxy'] });
    assert.equal(r.outcomes.get('Secret/gloo-system/site')?.state, 'Accepted');
    assert.equal(r.tlsSecrets.size, 0);
  });

  test('a Secret that turns bad keeps handing out its last accepted form', () => {
    const good = secret({ 'tls.crt': b64(pair.certPem), 'tls.key': b64(pair.keyPem) }, '1');
    const bad = secret({ 'tls.crt': b64(pair.certPem), 'tls.key': b64(other.keyPem) }, '2');
    const r = translate([gateway, vs, bad], { proxies: ['gateway-proxy'], lastAccepted: new Map([['Secret/gloo-system/site', good]]) });
    assert.equal(r.outcomes.get('Secret/gloo-system/site')?.state, 'Rejected');
    assert.equal(r.tlsSecrets.get('gloo-system/site')?.keyPem, pair.keyPem);
    assert.equal(r.snapshots.get('gateway-proxy')!.listeners[0]!.tls!.certificates[0]!.secretRef!.version, '1');
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ['an encrypted key', { 'tls.key': '' }, /^data\.tls\.key: is an encrypted private key/],
    ['a key that is not PEM', { 'tls.key': b64('hello') }, /^data\.tls\.key: holds no PEM private key$/],
    ['a ca.crt that holds no certificate', { 'ca.crt': b64('nothing') }, /^data\.ca\.crt: holds no PEM certificate$/],
    ['a certificate without its key', { 'tls.key': undefined as unknown as string }, /^data\.tls\.key: required for a kubernetes\.io\/tls Secret$/],
  ];
  for (const [what, patch, message] of bad) {
    test(`${what} rejects the Secret naming the field, and its VirtualService is not served`, () => {
      const data: Record<string, string> = { 'tls.crt': b64(pair.certPem), 'tls.key': b64(pair.keyPem) };
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined) delete data[k];
        else data[k] = v;
      }
      if (what === 'an encrypted key') {
        data['tls.key'] = b64(createPrivateKey(pair.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }).toString());
      }
      const r = translate([gateway, vs, secret(data)], { proxies: ['gateway-proxy'] });
      assert.equal(r.outcomes.get('Secret/gloo-system/site')?.state, 'Rejected');
      assert.match(reasonOf(r, 'Secret/gloo-system/site') ?? '', message);
      assert.equal(r.outcomes.get('VirtualService/gloo-system/site')?.state, 'Warning');
      assert.deepEqual(r.snapshots.get('gateway-proxy')!.listeners, []);
      assert.equal(r.tlsSecrets.size, 0);
      assert.doesNotMatch(reasonOf(r, 'Secret/gloo-system/site') ?? '', /BEGIN|[A-Za-z0-9+/]{40}/, 'a status never carries a value');
    });
  }
});
