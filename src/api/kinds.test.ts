// Unit tests for the kind registry: every CLI name a user may type resolves to its kind.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KINDS, kindInfo, resolveKindName } from './kinds.js';

describe('resolveKindName', () => {
  const names: [string, string][] = [
    // Upstream
    ['upstream', 'Upstream'],
    ['upstreams', 'Upstream'],
    ['us', 'Upstream'],
    ['gus', 'Upstream'],
    ['Upstream', 'Upstream'],
    ['UPSTREAMS', 'Upstream'],
    // Settings
    ['settings', 'Settings'],
    ['st', 'Settings'],
    ['gst', 'Settings'],
    ['Settings', 'Settings'],
    // Gateway
    ['gateway', 'Gateway'],
    ['gateways', 'Gateway'],
    ['gw', 'Gateway'],
    ['ggw', 'Gateway'],
    ['Gateway', 'Gateway'],
    ['GW', 'Gateway'],
    // VirtualService
    ['virtualservice', 'VirtualService'],
    ['virtualservices', 'VirtualService'],
    ['vs', 'VirtualService'],
    ['gvs', 'VirtualService'],
    ['VirtualService', 'VirtualService'],
    ['VirtualServices', 'VirtualService'],
    ['Vs', 'VirtualService'],
    // Service
    ['service', 'Service'],
    ['services', 'Service'],
    ['svc', 'Service'],
    ['Service', 'Service'],
    ['SVC', 'Service'],
    // Secret (kubectl has no short name for it)
    ['secret', 'Secret'],
    ['secrets', 'Secret'],
    ['Secret', 'Secret'],
    ['secrets.v1', 'Secret'],
    // WorkloadEntry
    ['workloadentry', 'WorkloadEntry'],
    ['workloadentries', 'WorkloadEntry'],
    ['we', 'WorkloadEntry'],
    ['pa', 'PeerAuthentication'],
    ['peerauthentications', 'PeerAuthentication'],
    ['peerauthentication', 'PeerAuthentication'],
    ['WorkloadEntry', 'WorkloadEntry'],
    ['WorkloadEntries', 'WorkloadEntry'],
    // kubectl's fully-qualified `resource.group` form
    ['virtualservices.gateway.solo.io', 'VirtualService'],
    ['upstreams.gloo.solo.io', 'Upstream'],
    ['workloadentries.networking.istio.io', 'WorkloadEntry'],
  ];
  for (const [name, kind] of names) {
    test(`${JSON.stringify(name)} resolves to ${kind}`, () => {
      assert.equal(resolveKindName(name)?.kind, kind);
    });
  }

  const unknown = ['', 'foo', 'configmap', 'virtualservicez', 'v', 'upstream-', 'virtual-service', '.vs'];
  for (const name of unknown) {
    test(`${JSON.stringify(name)} resolves to nothing`, () => {
      assert.equal(resolveKindName(name), undefined);
    });
  }

  test('every registered singular, plural and short name resolves to its own kind', () => {
    for (const k of KINDS) {
      for (const n of [k.kind, k.singular, k.plural, ...k.shortNames]) {
        assert.equal(resolveKindName(n), k, `${n} should resolve to ${k.kind}`);
      }
    }
  });

  test('no short name is shared by two kinds', () => {
    const seen = new Map<string, string>();
    for (const k of KINDS) {
      for (const n of new Set([k.kind.toLowerCase(), k.singular, k.plural, ...k.shortNames])) {
        assert.equal(seen.get(n), undefined, `${n} is used by ${seen.get(n)} and ${k.kind}`);
        seen.set(n, k.kind);
      }
    }
  });
});

describe('kindInfo', () => {
  test('finds a kind by its exact Kind name only', () => {
    assert.equal(kindInfo('VirtualService')?.plural, 'virtualservices');
    assert.equal(kindInfo('virtualservice'), undefined);
    assert.equal(kindInfo('vs'), undefined);
  });

  test('Gloo kinds default to gloo-system and core and Istio kinds to default', () => {
    const defaults = Object.fromEntries(KINDS.map((k) => [k.kind, k.defaultNamespace]));
    assert.deepEqual(defaults, {
      Upstream: 'gloo-system',
      Settings: 'gloo-system',
      Gateway: 'gloo-system',
      VirtualService: 'gloo-system',
      Service: 'default',
      Secret: 'default',
      WorkloadEntry: 'default',
      PeerAuthentication: 'default',
    });
  });
});
