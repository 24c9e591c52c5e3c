// Unit tests for snapshot deltas (what the primary sends proxy workers): a delta applied to the
// worker's copy of the base, after the IPC pipe's JSON round trip, gives the new snapshot, and
// keeps the worker's own objects for what did not change.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import * as ir from '../ir/index.js';
import { applyDelta, snapshotDelta } from './snapshot-delta.js';

const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function vhost(name: string, body = name): ir.VirtualHost {
  return {
    name,
    domains: [`${name}.example.com`],
    routes: [{ name: `${name}.r`, match: { path: { kind: 'prefix', value: '/' }, caseSensitive: true, headers: [], queryParameters: [], methods: [] }, action: { type: 'direct-response', status: 200, body } }],
  };
}

function listener(name: string, port: number, vhosts: ir.VirtualHost[]): ir.Listener {
  return { http: ir.DEFAULT_HTTP_SETTINGS, name, bindAddress: '::', bindPort: port, ssl: false, virtualHosts: vhosts };
}

function snapshot(listeners: ir.Listener[], upstreams: ir.Snapshot['upstreams'], proxy = 'gateway-proxy'): ir.Snapshot {
  const body = { proxy, listeners, upstreams };
  return { version: ir.snapshotVersion(body), ...body };
}

const UPSTREAMS = { u_ns: { name: 'u_ns', connectTimeoutMs: 5000, protocol: 'http1' as const, endpoints: [] } };

function base(): ir.Snapshot {
  return snapshot(
    [listener('gw.http', 8080, Array.from({ length: 40 }, (_, i) => vhost(`v${i}`))), listener('gw.other', 8081, [vhost('o0'), vhost('o1')])],
    UPSTREAMS,
  );
}

type Op = { op: 'replace' | 'add-vhost' | 'drop-vhost' | 'port' | 'add-listener' | 'drop-listener' | 'reverse' | 'upstreams' | 'proxy'; n: number };

function change(s: ir.Snapshot, ops: readonly Op[]): ir.Snapshot {
  let listeners = [...s.listeners];
  let upstreams = s.upstreams;
  let proxy = s.proxy;
  for (const { op, n } of ops) {
    const li = n % Math.max(1, listeners.length);
    const l = listeners[li];
    switch (op) {
      case 'replace':
        if (l && l.virtualHosts.length) {
          const vhs = [...l.virtualHosts];
          vhs[n % vhs.length] = vhost(vhs[n % vhs.length]!.name, `changed ${n}`);
          listeners[li] = { ...l, virtualHosts: vhs };
        }
        break;
      case 'add-vhost':
        if (l) listeners[li] = { ...l, virtualHosts: [...l.virtualHosts, vhost(`new${n}`)] };
        break;
      case 'drop-vhost':
        if (l) listeners[li] = { ...l, virtualHosts: l.virtualHosts.slice(1) };
        break;
      case 'port':
        if (l) listeners[li] = { ...l, bindPort: 9000 + (n % 100) };
        break;
      case 'add-listener':
        // Listener names are unique (a Gateway's namespace.name).
        if (!listeners.some((x) => x.name === `gw.l${n}`)) listeners.push(listener(`gw.l${n}`, 7000 + n, [vhost(`l${n}`)]));
        break;
      case 'drop-listener':
        listeners.splice(li, 1);
        break;
      case 'reverse':
        listeners = listeners.reverse();
        break;
      case 'upstreams':
        upstreams = { ...upstreams, [`x${n}_ns`]: { name: `x${n}_ns`, connectTimeoutMs: 1000, protocol: 'http2', endpoints: [] } };
        break;
      case 'proxy':
        proxy = `proxy-${n}`;
        break;
    }
  }
  return snapshot(listeners, upstreams, proxy);
}

describe('snapshot deltas', () => {
  test('applied to the worker’s copy of the base, a delta gives the new snapshot and keeps the worker’s unchanged objects', () => {
    const kinds: Op['op'][] = ['replace', 'replace', 'replace', 'add-vhost', 'drop-vhost', 'port', 'add-listener', 'drop-listener', 'reverse', 'upstreams', 'proxy'];
    const ops = fc.array(fc.record({ op: fc.constantFrom(...kinds), n: fc.nat(100) }), { maxLength: 6 });
    fc.assert(
      fc.property(fc.array(ops, { minLength: 1, maxLength: 5 }), (steps) => {
        let primary = base();
        let worker = wire(primary);
        for (const step of steps) {
          const next = change(primary, step);
          const d = snapshotDelta(primary, next);
          const got = d ? applyDelta(worker, wire(d)) : wire(next);
          assert.deepStrictEqual(got, wire(next));
          if (d) {
            // What the primary kept by identity, the worker keeps by identity too.
            for (const l of next.listeners) {
              const bl = primary.listeners.find((x) => x.name === l.name);
              const wl = worker.listeners.find((x) => x.name === l.name);
              const gl = got.listeners.find((x) => x.name === l.name)!;
              if (!bl || !wl || bl.virtualHosts.length !== l.virtualHosts.length) continue;
              l.virtualHosts.forEach((vh, i) => {
                if (vh === bl.virtualHosts[i] && 'patch' in (d.listeners[next.listeners.indexOf(l)] ?? {})) assert.equal(gl.virtualHosts[i], wl.virtualHosts[i]);
              });
            }
            if (next.upstreams === primary.upstreams) assert.equal(got.upstreams, worker.upstreams);
          }
          primary = next;
          worker = got;
        }
      }),
      { numRuns: 300 },
    );
  });

  test('one changed virtual host of thousands is one virtual host on the wire', () => {
    const big = snapshot([listener('gw.http', 8080, Array.from({ length: 5000 }, (_, i) => vhost(`v${i}`)))], UPSTREAMS);
    const vhs = [...big.listeners[0]!.virtualHosts];
    vhs[1234] = vhost('v1234', 'changed');
    const next = snapshot([{ ...big.listeners[0]!, virtualHosts: vhs }], big.upstreams);
    const d = snapshotDelta(big, next);
    assert.ok(d);
    assert.ok(JSON.stringify(d).length < 2000, `delta of ${JSON.stringify(d).length} bytes`);
    assert.deepStrictEqual(applyDelta(wire(big), wire(d)), wire(next));
  });

  test('a delta refuses a base it was not made against', () => {
    const b = base();
    const d = snapshotDelta(b, change(b, [{ op: 'replace', n: 1 }]))!;
    assert.throws(() => applyDelta({ ...b, version: 'other' }, d), /base/);
  });
});
