// Incremental translation (a TranslateCache kept across calls, as the control plane keeps one)
// must give exactly what a full translation of the same set gives. fast-check drives random
// sequences of changes over a small mesh: each step applies a few changes the way the store does
// (a changed resource is a new object in the same place, a new one comes last, a deleted one
// goes), translates with the cache and without, and compares every part of the results. Then it
// records the accepted forms, as the control plane does, for the next step's fallbacks.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { Resource } from '../api/meta.js';
import { parseResource, formatIssues } from '../api/parse.js';
import { keyOf, keyString } from '../config/resource-set.js';
import { defaultResources } from '../control-plane/defaults.js';
import * as ir from '../ir/index.js';
import { translate } from './translator.js';
import { TranslateCache } from './cache.js';
import { b64, createCa } from '../../test/helpers/tls-pki.js';

const PROXIES = ['gateway-proxy'];

const TLS: Record<string, string> = await (async () => {
  const ca = await createCa('incremental CA');
  const leaf = await ca.issue({ cn: 'example.com' });
  return { 'tls.crt': b64(leaf.certPem), 'tls.key': b64(leaf.keyPem) };
})();

/* eslint-disable @typescript-eslint/no-explicit-any */
type Doc = any;

function parsed(doc: Doc): Resource {
  const r = parseResource(structuredClone(doc));
  if (!r.ok) throw new Error(`test resource does not parse: ${formatIssues(r).join('; ')}`);
  return r.resource;
}

const upstream = (name: string, ns: string, port = 8080): Doc => ({
  apiVersion: 'gloo.solo.io/v1', kind: 'Upstream', metadata: { name, namespace: ns },
  spec: { static: { hosts: [{ addr: '10.0.0.1', port }] } },
});

const virtualService = (name: string, ns: string, domain: string): Doc => ({
  apiVersion: 'gateway.solo.io/v1', kind: 'VirtualService', metadata: { name, namespace: ns },
  spec: {
    virtualHost: {
      domains: [domain],
      routes: [
        { matchers: [{ exact: '/check' }], directResponseAction: { status: 200, body: `${name} v0` } },
        { matchers: [{ prefix: '/api' }], routeAction: { single: { upstream: { name: 'us-0', namespace: ns } } } },
      ],
    },
  },
});

function baseSet(): Resource[] {
  const docs: Doc[] = [
    ...defaultResources(),
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc', namespace: 'a' }, spec: { selector: { app: 'svc' }, ports: [{ port: 80, name: 'http' }] } },
    { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata: { name: 'svc-1', namespace: 'a', labels: { app: 'svc' } }, spec: { address: '10.1.0.1', labels: { app: 'svc', 'security.istio.io/tlsMode': 'istio' }, serviceAccount: 'svc' } },
    { apiVersion: 'gloo.solo.io/v1', kind: 'Upstream', metadata: { name: 'kube-us', namespace: 'a' }, spec: { kube: { serviceName: 'svc', serviceNamespace: 'a', servicePort: 80 } } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tls', namespace: 'a' }, type: 'kubernetes.io/tls', data: TLS },
  ];
  for (let j = 0; j < 4; j++) docs.push(upstream(`us-${j}`, j % 2 ? 'b' : 'a'));
  for (let i = 0; i < 8; i++) docs.push(virtualService(`vs-${i}`, i % 2 ? 'b' : 'a', `d${i}.example.com`));
  return docs.map((d, k) => {
    const r = parsed(d);
    r.metadata.resourceVersion = String(k + 1);
    r.metadata.creationTimestamp = `2026-01-01T00:00:${String(k).padStart(2, '0')}Z`;
    return r;
  });
}

/** Op is one random change; n and v pick the resource and the new value. */
interface Op {
  readonly op: string;
  readonly n: number;
  readonly v: number;
}

const OPS = [
  'route-body', 'route-prefix', 'route-body', 'route-prefix', 'bad-regex', 'domain', 'wildcard', 'labels', 'ssl', 'no-routes',
  'missing-upstream', 'kube', 'kube', 'reset-routes', 'add-vs', 'delete-vs', 'same-content', 'upstream-port', 'delete-upstream', 'add-upstream',
  'service', 'workload', 'settings', 'gateway', 'secret', 'multi-domain',
] as const;

let serial = 0;

/** apply makes one change on the set, as the store would: changed resources are new objects. */
function apply(set: Resource[], { op, n, v }: Op): void {
  const ofKind = (kind: string) => set.map((r, i) => [r, i] as const).filter(([r]) => r.kind === kind);
  const pick = (kind: string) => {
    const list = ofKind(kind);
    return list.length ? list[n % list.length]! : undefined;
  };
  const change = (kind: string, f: (r: Doc) => void) => {
    const hit = pick(kind);
    if (!hit) return;
    const next = structuredClone(hit[0]) as Doc;
    f(next);
    const r = parsed(next);
    r.metadata.resourceVersion = `s${++serial}`;
    set[hit[1]] = r;
  };
  const add = (doc: Doc) => {
    const r = parsed(doc);
    r.metadata.resourceVersion = `s${++serial}`;
    r.metadata.creationTimestamp = `2026-01-02T00:00:${String(serial % 60).padStart(2, '0')}Z`;
    if (!set.some((x) => keyString(keyOf(x)) === keyString(keyOf(r)))) set.push(r);
  };
  const remove = (kind: string) => {
    const hit = pick(kind);
    if (hit) set.splice(hit[1], 1);
  };
  const routes = (vs: Doc) => (vs.spec.virtualHost.routes ??= []);
  switch (op) {
    case 'route-body':
      return change('VirtualService', (vs) => {
        const r = routes(vs);
        if (r[0]?.directResponseAction) r[0].directResponseAction.body = `body ${v}`;
        else r.unshift({ matchers: [{ exact: '/check' }], directResponseAction: { status: 200, body: `body ${v}` } });
      });
    case 'route-prefix':
      return change('VirtualService', (vs) => routes(vs).push({ matchers: [{ prefix: `/p${v}` }], directResponseAction: { status: 200, body: 'p' } }));
    case 'bad-regex':
      return change('VirtualService', (vs) => routes(vs).push({ matchers: [{ regex: v % 2 ? '(' : '/ok.*' }], directResponseAction: { status: 200 } }));
    case 'domain':
      return change('VirtualService', (vs) => (vs.spec.virtualHost.domains = [`d${v % 10}.example.com`]));
    case 'multi-domain':
      return change('VirtualService', (vs) => (vs.spec.virtualHost.domains = [`D${v % 10}.example.com`, `x${v % 3}.example.com`, `x${v % 3}.example.com`]));
    case 'wildcard':
      return change('VirtualService', (vs) => (v % 3 === 0 ? delete vs.spec.virtualHost.domains : (vs.spec.virtualHost.domains = [v % 3 === 1 ? '*' : '*.example.com'])));
    case 'labels':
      return change('VirtualService', (vs) => (vs.metadata.labels = v % 3 === 0 ? undefined : { team: `t${v % 2}` }));
    case 'ssl':
      return change('VirtualService', (vs) => {
        if (vs.spec.sslConfig) delete vs.spec.sslConfig;
        else vs.spec.sslConfig = { secretRef: { name: v % 3 === 0 ? 'missing' : 'tls', namespace: 'a' } };
      });
    case 'reset-routes':
      return change('VirtualService', (vs) => (vs.spec.virtualHost.routes = structuredClone(virtualService('x', vs.metadata.namespace, 'x').spec.virtualHost.routes)));
    case 'no-routes':
      return change('VirtualService', (vs) => (vs.spec.virtualHost.routes = v % 2 ? [] : [{ matchers: [{ prefix: '/' }], directResponseAction: { status: 204 } }]));
    case 'missing-upstream':
      return change('VirtualService', (vs) => routes(vs).push({ matchers: [{ prefix: '/m' }], routeAction: { single: { upstream: { name: `us-${v % 6}`, namespace: v % 2 ? 'a' : 'b' } } } }));
    case 'kube':
      return change('VirtualService', (vs) => routes(vs).push({ matchers: [{ prefix: '/k' }], routeAction: { single: { kube: { ref: { name: v % 2 ? 'svc' : 'nosvc', namespace: 'a' }, port: v % 3 ? 80 : 81 } } } }));
    case 'add-vs':
      return add(virtualService(`new-${v % 5}`, v % 2 ? 'b' : 'a', `d${v % 12}.example.com`));
    case 'delete-vs':
      return remove('VirtualService');
    case 'same-content':
      return change(['VirtualService', 'Upstream', 'Gateway'][v % 3]!, () => undefined);
    case 'upstream-port':
      return change('Upstream', (u) => {
        if (u.spec.static) u.spec.static.hosts[0].port = 8000 + (v % 5);
        else u.spec.kube.servicePort = v % 2 ? 80 : 81;
      });
    case 'delete-upstream':
      return remove('Upstream');
    case 'add-upstream':
      return add(upstream(`us-${v % 6}`, v % 2 ? 'b' : 'a', 9000));
    case 'service':
      return change('Service', (s) => (s.spec.ports = [{ port: v % 2 ? 80 : 81, name: v % 3 ? 'http' : 'grpc' }]));
    case 'workload':
      return change('WorkloadEntry', (w) => (w.spec.address = `10.1.0.${v % 5}`));
    case 'settings':
      return change('Settings', (s) => {
        s.spec.gloo.istioOptions = { enableIntegration: v % 2 === 0, enableAutoMtls: v % 3 === 0 };
      });
    case 'gateway':
      return change('Gateway', (g) => {
        if (!g.spec.httpGateway) return;
        if (v % 3 === 0) g.spec.httpGateway = { virtualServiceNamespaces: ['a'] };
        else if (v % 3 === 1) g.spec.httpGateway = { virtualServiceSelector: { team: 't1' } };
        else g.spec.httpGateway = {};
      });
    case 'secret':
      return change('Secret', (s) => (s.data = v % 2 ? { 'tls.crt': 'bm90IGEgY2VydA==', 'tls.key': 'bm8=' } : TLS));
  }
}

/** check runs steps of changes, comparing translations with a kept cache and without. */
function check(steps: readonly (readonly Op[])[]): void {
  const set = baseSet();
  const cache = new TranslateCache();
  const lastAccepted = new Map<string, Resource>();
  const record = (accepted: readonly Resource[]) => {
    for (const r of accepted) lastAccepted.set(keyString(keyOf(r)), r);
  };
  record(translate(set, { lastAccepted, proxies: PROXIES, cache }).accepted);
  for (const [si, ops] of steps.entries()) {
    for (const op of ops) apply(set, op);
    // Frozen like the store's all() (kept as is) or not (copied), alternately.
    const input = si % 2 ? Object.freeze([...set]) : [...set];
    const incremental = translate(input, { lastAccepted, proxies: PROXIES, cache });
    const full = translate(input, { lastAccepted, proxies: PROXIES });
    const where = `step ${si}: ${JSON.stringify(ops)}`;
    assert.deepStrictEqual(incremental.snapshots, full.snapshots, `${where}: snapshots`);
    assert.deepStrictEqual([...incremental.outcomes], [...full.outcomes], `${where}: outcomes`);
    assert.deepStrictEqual(incremental.accepted, full.accepted, `${where}: accepted`);
    assert.deepStrictEqual(incremental.tlsSecrets, full.tlsSecrets, `${where}: tlsSecrets`);
    for (const s of incremental.snapshots.values()) assert.deepEqual(ir.validateSnapshot(s), [], where);
    record(incremental.accepted);
  }
}

describe('incremental translation', () => {
  test('a translation with a kept cache equals a full translation, for random changes', () => {
    const op = fc.record({ op: fc.constantFrom(...OPS), n: fc.nat(50), v: fc.nat(50) });
    fc.assert(fc.property(fc.array(fc.array(op, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 25 }), check), { numRuns: 300 });
  });

  test('cases random runs found or might miss', () => {
    // A VirtualService that stops using a kube destination drops its in-memory upstream.
    check([[{ op: 'kube', n: 0, v: 1 }], [{ op: 'reset-routes', n: 0, v: 0 }]]);
    // One that starts using one adds it.
    check([[{ op: 'route-body', n: 0, v: 0 }], [{ op: 'kube', n: 0, v: 1 }]]);
    // A Gateway selecting by label, and a VirtualService whose labels change (and nothing else).
    check([[{ op: 'gateway', n: 0, v: 1 }], [{ op: 'labels', n: 0, v: 1 }], [{ op: 'labels', n: 0, v: 2 }], [{ op: 'labels', n: 0, v: 1 }]]);
    // A rejected VirtualService fixed by a change that keeps its domains.
    check([[{ op: 'bad-regex', n: 0, v: 1 }], [{ op: 'reset-routes', n: 0, v: 0 }], [{ op: 'route-body', n: 0, v: 2 }]]);
    // Domains that collide, then stop colliding.
    check([[{ op: 'domain', n: 0, v: 1 }], [{ op: 'route-body', n: 0, v: 0 }], [{ op: 'domain', n: 0, v: 0 }], [{ op: 'route-body', n: 0, v: 3 }]]);
  });

  test('the last accepted form standing in for a rejected resource is looked up again, not assumed', () => {
    const set = baseSet();
    const vss = set.map((r, i) => [r, i] as const).filter(([r]) => r.kind === 'VirtualService');
    const [y, yAt] = vss[1]!;
    const [x, xAt] = vss[2]!;
    const form = (body: string) => {
      const d = structuredClone(y) as Doc;
      d.spec.virtualHost.routes[0].directResponseAction.body = body;
      return parsed(d);
    };
    const bad = structuredClone(y) as Doc;
    bad.spec.virtualHost.routes.push({ matchers: [{ regex: '(' }], directResponseAction: { status: 200 } });
    set[yAt] = parsed(bad);
    const cache = new TranslateCache();
    translate([...set], { proxies: PROXIES, cache, lastAccepted: new Map([[keyString(keyOf(y)), form('first good form')]]) });
    const nextX = structuredClone(x) as Doc;
    nextX.spec.virtualHost.routes[0].directResponseAction.body = 'changed';
    set[xAt] = parsed(nextX);
    const lastAccepted = new Map([[keyString(keyOf(y)), form('second good form')]]);
    const incremental = translate([...set], { proxies: PROXIES, cache, lastAccepted });
    const full = translate([...set], { proxies: PROXIES, lastAccepted });
    assert.deepStrictEqual(incremental.snapshots, full.snapshots);
    assert.deepStrictEqual([...incremental.outcomes], [...full.outcomes]);
    assert.deepStrictEqual(incremental.accepted, full.accepted);
  });

  test('two resources with the same key (not from the store, which has one per key) merge their outcomes either way', () => {
    const set = baseSet();
    const twin = structuredClone(set.find((r) => r.kind === 'VirtualService')!) as Doc;
    twin.spec.virtualHost.domains = ['twin.example.com'];
    twin.spec.virtualHost.routes.push({ matchers: [{ prefix: '/m' }], routeAction: { single: { upstream: { name: 'nope', namespace: 'a' } } } });
    set.push(parsed(twin));
    const cache = new TranslateCache();
    translate([...set], { proxies: PROXIES, cache });
    const at = set.findIndex((r) => r.kind === 'VirtualService');
    const next = structuredClone(set[at]!) as Doc;
    next.spec.virtualHost.routes[0].directResponseAction.body = 'changed';
    set[at] = parsed(next);
    const incremental = translate([...set], { proxies: PROXIES, cache });
    const full = translate([...set], { proxies: PROXIES });
    assert.deepStrictEqual([...incremental.outcomes], [...full.outcomes]);
    assert.deepStrictEqual(incremental.snapshots, full.snapshots);
  });

  test('changing one route of one VirtualService among many re-translates only that one', () => {
    const set = baseSet();
    const cache = new TranslateCache();
    const before = translate(set, { proxies: PROXIES, cache });
    const at = set.findIndex((r) => r.kind === 'VirtualService');
    const next = structuredClone(set[at]!) as Doc;
    next.spec.virtualHost.routes[0].directResponseAction.body = 'changed';
    set[at] = parsed(next);
    const after = translate([...set], { proxies: PROXIES, cache });
    const vhosts = (r: typeof before) => r.snapshots.get('gateway-proxy')!.listeners.flatMap((l) => l.virtualHosts);
    const [b, a] = [vhosts(before), vhosts(after)];
    assert.equal(a.length, b.length);
    // Every other virtual host, and the upstreams, are the very same objects.
    assert.equal(a.filter((vh, i) => vh !== b[i]).length, 1);
    assert.equal(after.snapshots.get('gateway-proxy')!.upstreams, before.snapshots.get('gateway-proxy')!.upstreams);
    assert.notEqual(after.snapshots.get('gateway-proxy')!.version, before.snapshots.get('gateway-proxy')!.version);
    assert.deepStrictEqual(after.snapshots, translate([...set], { proxies: PROXIES }).snapshots);
  });
});
