// Unit tests for content versions: canonical JSON and the snapshot's tree hash.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import * as ir from './index.js';

function vhost(name: string, body = name): ir.VirtualHost {
  return {
    name,
    domains: [`${name}.example.com`],
    routes: [{ name: `${name}.route-0`, match: { path: { kind: 'prefix', value: '/' }, caseSensitive: true, headers: [], queryParameters: [], methods: [] }, action: { type: 'direct-response', status: 200, body } }],
  };
}

function upstream(name: string, port = 8080): ir.Upstream {
  return { name, connectTimeoutMs: 5000, protocol: 'http1', endpoints: [{ address: '10.0.0.1', port, labels: {} }] };
}

function body(vhosts: ir.VirtualHost[], upstreams: ir.Upstream[]): Omit<ir.Snapshot, 'version'> {
  return {
    proxy: 'gateway-proxy',
    listeners: [{ name: 'gloo-system.gateway-proxy', bindAddress: '::', bindPort: 8080, ssl: false, virtualHosts: vhosts, http: ir.DEFAULT_HTTP_SETTINGS }],
    upstreams: Object.fromEntries(upstreams.map((u) => [u.name, u])),
  };
}

describe('canonicalJson', () => {
  test('sorts object keys at every depth and keeps array order', () => {
    assert.equal(ir.canonicalJson({ b: 1, a: { d: [3, 1], c: null } }), '{"a":{"c":null,"d":[3,1]},"b":1}');
  });
});

describe('snapshotVersion', () => {
  const vhs = [vhost('a'), vhost('b'), vhost('c')];
  const ups = [upstream('u1_ns'), upstream('u2_ns')];

  test('is the same with a cache as without, and with a warm cache as with a cold one', () => {
    const cache = new ir.VersionCache();
    const want = ir.snapshotVersion(body(vhs, ups));
    assert.match(want, /^[0-9a-f]{16}$/);
    assert.equal(ir.snapshotVersion(body(vhs, ups), cache), want);
    assert.equal(ir.snapshotVersion(body(vhs, ups), cache), want);
    assert.equal(ir.snapshotVersion(body(vhs.map((v) => structuredClone(v)), ups.map((u) => structuredClone(u))), cache), want);
  });

  test('ignores the version field and the order of upstream names, not the order of virtual hosts', () => {
    const want = ir.snapshotVersion(body(vhs, ups));
    assert.equal(ir.snapshotVersion({ version: 'x', ...body(vhs, ups) } as ir.Snapshot), want);
    assert.equal(ir.snapshotVersion(body(vhs, [...ups].reverse())), want);
    assert.notEqual(ir.snapshotVersion(body([...vhs].reverse(), ups)), want);
  });

  test('changes with any virtual host, upstream or listener field, with or without a cache', () => {
    const cache = new ir.VersionCache();
    const want = ir.snapshotVersion(body(vhs, ups), cache);
    const changed: Omit<ir.Snapshot, 'version'>[] = [
      body([vhs[0]!, vhost('b', 'other'), vhs[2]!], ups),
      body(vhs.slice(0, 2), ups),
      body(vhs, [ups[0]!, upstream('u2_ns', 9090)]),
      body(vhs, [ups[0]!]),
      { ...body(vhs, ups), proxy: 'other-proxy' },
      { ...body(vhs, ups), listeners: [{ ...body(vhs, ups).listeners[0]!, bindPort: 8081 }] },
      // A virtual host moved from one listener to the next is another snapshot.
      { ...body(vhs, ups), listeners: [{ ...body(vhs.slice(0, 1), ups).listeners[0]! }, { ...body(vhs.slice(1), ups).listeners[0]!, name: 'l2' }] },
    ];
    const seen = new Set([want]);
    for (const b of changed) {
      const v = ir.snapshotVersion(b, cache);
      assert.equal(v, ir.snapshotVersion(b));
      assert.ok(!seen.has(v), JSON.stringify(b).slice(0, 200));
      seen.add(v);
    }
  });

  test('with a cache kept over random changes of virtual hosts, is what it is without one', () => {
    const change = fc.record({ at: fc.nat(), body: fc.nat(5), grow: fc.constantFrom(0, 0, 0, 1, -1) });
    fc.assert(
      fc.property(fc.array(fc.array(change, { maxLength: 80 }), { minLength: 1, maxLength: 8 }), (steps) => {
        const cache = new ir.VersionCache();
        let list = Array.from({ length: 30 }, (_, i) => vhost(`v${i}`));
        assert.equal(ir.snapshotVersion(body(list, ups), cache), ir.snapshotVersion(body(list, ups)));
        for (const changes of steps) {
          list = [...list];
          for (const c of changes) {
            if (c.grow > 0) list.push(vhost(`n${list.length}`));
            else if (c.grow < 0 && list.length) list.pop();
            else if (list.length) list[c.at % list.length] = vhost(list[c.at % list.length]!.name, `b${c.body}`);
          }
          assert.equal(ir.snapshotVersion(body(list, ups), cache), ir.snapshotVersion(body(list, ups)));
        }
      }),
      { numRuns: 200 },
    );
  });
});
