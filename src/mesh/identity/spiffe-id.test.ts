// SPIFFE IDs as Istio's pkg/spiffe formats and parses them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_TRUST_DOMAIN, GATEWAY_IDENTITY, parseSpiffeId, spiffeId } from './spiffe-id.js';
import { IdentityInvalidError } from './errors.js';

describe('spiffeId', () => {
  test('formats spiffe://<td>/ns/<ns>/sa/<sa> with cluster.local by default', () => {
    assert.equal(DEFAULT_TRUST_DOMAIN, 'cluster.local');
    assert.equal(spiffeId('bookinfo', 'reviews'), 'spiffe://cluster.local/ns/bookinfo/sa/reviews');
    assert.equal(spiffeId('bookinfo', 'reviews', 'example.org'), 'spiffe://example.org/ns/bookinfo/sa/reviews');
  });

  // Istio's GenSpiffeURI replaces "@" in the trust domain with ".".
  test('turns @ in the trust domain into .', () => {
    assert.equal(spiffeId('a', 'b', 'corp@example'), 'spiffe://corp.example/ns/a/sa/b');
  });

  for (const [name, args] of [
    ['an empty namespace', ['', 'sa']],
    ['an empty service account', ['ns', '']],
    ['an empty trust domain', ['ns', 'sa', '']],
    ['a slash in the namespace', ['a/sa/b', 'sa']],
    ['a slash in the service account', ['ns', 'x/y']],
  ] as const) {
    test(`refuses ${name}`, () => {
      assert.throws(() => spiffeId(...(args as unknown as [string, string, string?])), (err: unknown) => err instanceof IdentityInvalidError && err.code === 'GW_MESH_IDENTITY_INVALID');
    });
  }

  test('the gateway is gloo-system/gateway-proxy in cluster.local', () => {
    assert.equal(GATEWAY_IDENTITY, 'spiffe://cluster.local/ns/gloo-system/sa/gateway-proxy');
  });
});

describe('parseSpiffeId', () => {
  const cases: { name: string; uri: string; want: ReturnType<typeof parseSpiffeId> }[] = [
    { name: 'a workload identity', uri: 'spiffe://cluster.local/ns/foo/sa/bar', want: { trustDomain: 'cluster.local', namespace: 'foo', serviceAccount: 'bar' } },
    { name: 'another trust domain', uri: 'spiffe://td.example/ns/a/sa/b', want: { trustDomain: 'td.example', namespace: 'a', serviceAccount: 'b' } },
    { name: 'a round trip of spiffeId', uri: spiffeId('x', 'y', 'z'), want: { trustDomain: 'z', namespace: 'x', serviceAccount: 'y' } },
    { name: 'no spiffe scheme', uri: 'https://cluster.local/ns/foo/sa/bar', want: undefined },
    { name: 'an upper-case scheme', uri: 'SPIFFE://cluster.local/ns/foo/sa/bar', want: undefined },
    { name: 'four path parts', uri: 'spiffe://cluster.local/ns/foo/sa', want: undefined },
    { name: 'six path parts', uri: 'spiffe://cluster.local/ns/foo/sa/bar/baz', want: undefined },
    { name: 'a trailing slash', uri: 'spiffe://cluster.local/ns/foo/sa/bar/', want: undefined },
    { name: 'a wrong ns literal', uri: 'spiffe://cluster.local/namespace/foo/sa/bar', want: undefined },
    { name: 'a wrong sa literal', uri: 'spiffe://cluster.local/ns/foo/serviceaccount/bar', want: undefined },
    { name: 'swapped literals', uri: 'spiffe://cluster.local/sa/foo/ns/bar', want: undefined },
    { name: 'an empty namespace', uri: 'spiffe://cluster.local/ns//sa/bar', want: undefined },
    { name: 'an empty trust domain', uri: 'spiffe:///ns/foo/sa/bar', want: undefined },
    { name: 'the empty string', uri: '', want: undefined },
  ];
  for (const c of cases) {
    test(`${c.want ? 'parses' : 'rejects'} ${c.name}`, () => {
      assert.deepEqual(parseSpiffeId(c.uri), c.want);
    });
  }
});
