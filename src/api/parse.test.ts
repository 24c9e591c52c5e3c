// Unit tests for parseResource, formatIssues and toFieldPath: every kind parses in its valid
// forms, namespaces default per kind, and each bad form yields an issue naming the field.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parseResource, formatIssues, toFieldPath, type ParseResult } from './parse.js';
import type { Resource } from './meta.js';

type Failure = Extract<ParseResult, { ok: false }>;

function ok(r: ParseResult): Resource {
  if (!r.ok) assert.fail(`expected the document to parse, got: ${JSON.stringify(r.issues)}`);
  return r.resource;
}

function failed(r: ParseResult): Failure {
  if (r.ok) assert.fail(`expected issues, got a resource: ${JSON.stringify(r.resource)}`);
  return r;
}

// The seed's VirtualService, as a user writes it (examples/httpbin/virtual-service.yaml).
const SEED_VS_YAML = `
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata:
  name: httpbin
  namespace: gloo-system
spec:
  virtualHost:
    domains:
      - '*'
    routes:
      - matchers:
         - prefix: /
        routeAction:
          single:
            upstream:
              name: default-httpbin-8000
              namespace: gloo-system
`;

const seedVs = (): Record<string, unknown> => parseYaml(SEED_VS_YAML) as Record<string, unknown>;

/** vsWithRoute is a VirtualService (no namespace) holding one route. */
function vsWithRoute(route: unknown): Record<string, unknown> {
  return {
    apiVersion: 'gateway.solo.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'httpbin' },
    spec: { virtualHost: { domains: ['*'], routes: [route] } },
  };
}

const toUpstream = { single: { upstream: { name: 'default-httpbin-8000', namespace: 'gloo-system' } } };

function upstream(spec: unknown): Record<string, unknown> {
  return { apiVersion: 'gloo.solo.io/v1', kind: 'Upstream', metadata: { name: 'httpbin' }, spec };
}

const staticUpstream = () => upstream({ static: { hosts: [{ addr: '127.0.0.1', port: 8000 }] } });
const kubeUpstream = () => upstream({ kube: { serviceName: 'httpbin', serviceNamespace: 'default', servicePort: 8000 } });
const gateway = (): Record<string, unknown> => ({
  apiVersion: 'gateway.solo.io/v1',
  kind: 'Gateway',
  metadata: { name: 'gateway-proxy' },
  spec: { bindAddress: '::', bindPort: 8080, httpGateway: {}, proxyNames: ['gateway-proxy'], ssl: false },
});
const settings = (): Record<string, unknown> => ({
  apiVersion: 'gloo.solo.io/v1',
  kind: 'Settings',
  metadata: { name: 'default' },
  spec: {
    discoveryNamespace: 'gloo-system',
    gloo: { invalidConfigPolicy: { replaceInvalidRoutes: false, invalidRouteResponseCode: 404 } },
    gateway: { translateEmptyGateways: true },
  },
});
const service = (): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'httpbin', labels: { app: 'httpbin' } },
  spec: { ports: [{ name: 'http', port: 8000, targetPort: 80 }], selector: { app: 'httpbin' } },
});
const workloadEntry = (apiVersion = 'networking.istio.io/v1'): Record<string, unknown> => ({
  apiVersion,
  kind: 'WorkloadEntry',
  metadata: { name: 'httpbin' },
  spec: { address: '127.0.0.1', ports: { http: 8000 }, labels: { app: 'httpbin', version: 'v1' }, serviceAccount: 'httpbin' },
});

describe('parseResource with valid documents', () => {
  test('the seed VirtualService parses with domain * and one prefix / route to default-httpbin-8000', () => {
    const r = ok(parseResource(seedVs()));
    assert.equal(r.kind, 'VirtualService');
    assert.equal(r.apiVersion, 'gateway.solo.io/v1');
    assert.deepEqual(r.metadata, { name: 'httpbin', namespace: 'gloo-system' });
    assert.deepEqual(r.spec, {
      virtualHost: {
        domains: ['*'],
        routes: [{ matchers: [{ prefix: '/' }], routeAction: { single: { upstream: { name: 'default-httpbin-8000', namespace: 'gloo-system' } } } }],
      },
    });
  });

  const valid: { name: string; doc: () => Record<string, unknown>; kind: string }[] = [
    { name: 'a static Upstream', doc: staticUpstream, kind: 'Upstream' },
    { name: 'a kube Upstream', doc: kubeUpstream, kind: 'Upstream' },
    { name: 'a Gateway', doc: gateway, kind: 'Gateway' },
    { name: 'Settings', doc: settings, kind: 'Settings' },
    { name: 'a Service', doc: service, kind: 'Service' },
    { name: 'a WorkloadEntry (networking.istio.io/v1)', doc: () => workloadEntry(), kind: 'WorkloadEntry' },
    { name: 'a WorkloadEntry (networking.istio.io/v1beta1)', doc: () => workloadEntry('networking.istio.io/v1beta1'), kind: 'WorkloadEntry' },
    { name: 'a VirtualService with a redirect, a direct response and route options', kind: 'VirtualService', doc: () => ({
      apiVersion: 'gateway.solo.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'mixed' },
      spec: {
        virtualHost: {
          domains: ['example.com', '*.example.com'],
          routes: [
            { matchers: [{ exact: '/old' }], redirectAction: { pathRedirect: '/new', responseCode: 'PERMANENT_REDIRECT' } },
            { matchers: [{ prefix: '/teapot', headers: [{ name: 'x-tea', value: 'earl.*', regex: true }] }], directResponseAction: { status: 418, body: 'short and stout' } },
            { matchers: [{ regex: '/api/v[0-9]+/.*', methods: ['GET'] }], routeAction: toUpstream, options: { timeout: '0.5s', retries: { retryOn: '5xx', numRetries: 2, perTryTimeout: '1s' } } },
          ],
        },
      },
    }) },
  ];
  for (const v of valid) {
    test(`${v.name} parses as kind ${v.kind} with its spec kept as written`, () => {
      const doc = v.doc();
      const r = ok(parseResource(doc));
      assert.equal(r.kind, v.kind);
      assert.equal(r.apiVersion, doc.apiVersion);
      assert.equal(r.metadata.name, (doc.metadata as { name: string }).name);
      assert.deepEqual(r.spec, doc.spec);
    });
  }
});

describe('parseResource namespaces', () => {
  const perKind: { kind: string; doc: () => Record<string, unknown>; defaultNamespace: string }[] = [
    { kind: 'Upstream', doc: staticUpstream, defaultNamespace: 'gloo-system' },
    { kind: 'Settings', doc: settings, defaultNamespace: 'gloo-system' },
    { kind: 'Gateway', doc: gateway, defaultNamespace: 'gloo-system' },
    { kind: 'VirtualService', doc: () => vsWithRoute({ routeAction: toUpstream }), defaultNamespace: 'gloo-system' },
    { kind: 'Service', doc: service, defaultNamespace: 'default' },
    { kind: 'WorkloadEntry', doc: () => workloadEntry(), defaultNamespace: 'default' },
  ];
  for (const k of perKind) {
    test(`a ${k.kind} without a namespace lands in ${k.defaultNamespace}`, () => {
      assert.equal(ok(parseResource(k.doc())).metadata.namespace, k.defaultNamespace);
    });
    test(`a ${k.kind} keeps the namespace it names`, () => {
      const doc = k.doc();
      (doc.metadata as Record<string, unknown>).namespace = 'team-a';
      assert.equal(ok(parseResource(doc)).metadata.namespace, 'team-a');
    });
    test(`a namespace override wins over the ${k.kind}'s own namespace and the default`, () => {
      const doc = k.doc();
      assert.equal(ok(parseResource(doc, 'team-b')).metadata.namespace, 'team-b');
      (doc.metadata as Record<string, unknown>).namespace = 'team-a';
      assert.equal(ok(parseResource(doc, 'team-b')).metadata.namespace, 'team-b');
    });
  }

  test('a failed parse reports the namespace the resource would have had', () => {
    const doc = vsWithRoute({ routeAction: { single: {} } });
    assert.equal(failed(parseResource(doc)).namespace, 'gloo-system');
    assert.equal(failed(parseResource(doc, 'team-b')).namespace, 'team-b');
  });

  test('an invalid namespace override is reported against metadata.namespace', () => {
    const r = failed(parseResource(service(), 'Not_A_Label'));
    assert.deepEqual(r.issues.map((i) => i.path), ['metadata.namespace']);
  });

  test('a metadata.namespace that is not a string is reported, not replaced by the default', () => {
    const doc = service();
    (doc.metadata as Record<string, unknown>).namespace = 5;
    const r = failed(parseResource(doc));
    assert.deepEqual(r.issues, [{ path: 'metadata.namespace', message: 'must be string' }]);
  });
});

describe('parseResource with bad documents', () => {
  interface BadCase {
    name: string;
    doc: unknown;
    path: string;
    message: RegExp;
  }
  const bad: BadCase[] = [
    {
      name: 'an unknown field in a matcher',
      doc: vsWithRoute({ matchers: [{ prefx: '/' }], routeAction: toUpstream }),
      path: 'spec.virtualHost.routes[0].matchers[0].prefx',
      message: /^unknown field$/,
    },
    {
      name: 'an unknown top-level spec field',
      doc: upstream({ static: { hosts: [{ addr: 'a', port: 80 }] }, staticc: {} }),
      path: 'spec.staticc',
      message: /^unknown field$/,
    },
    {
      name: 'a missing spec.virtualHost',
      doc: { apiVersion: 'gateway.solo.io/v1', kind: 'VirtualService', metadata: { name: 'x' }, spec: {} },
      path: 'spec.virtualHost',
      message: /^required field is missing$/,
    },
    {
      name: 'a missing spec',
      doc: { apiVersion: 'gateway.solo.io/v1', kind: 'Gateway', metadata: { name: 'x' } },
      path: 'spec',
      message: /^required field is missing$/,
    },
    {
      name: 'a missing metadata.name',
      doc: { apiVersion: 'v1', kind: 'Service', metadata: {}, spec: { ports: [{ port: 80 }] } },
      path: 'metadata.name',
      message: /^required field is missing$/,
    },
    {
      name: 'a static host without a port',
      doc: upstream({ static: { hosts: [{ addr: '10.0.0.1' }] } }),
      path: 'spec.static.hosts[0].port',
      message: /^required field is missing$/,
    },
    {
      name: 'a prefix that is a number',
      doc: vsWithRoute({ matchers: [{ prefix: 5 }], routeAction: toUpstream }),
      path: 'spec.virtualHost.routes[0].matchers[0].prefix',
      message: /string/,
    },
    {
      name: 'domains given as a string',
      doc: { apiVersion: 'gateway.solo.io/v1', kind: 'VirtualService', metadata: { name: 'x' }, spec: { virtualHost: { domains: '*' } } },
      path: 'spec.virtualHost.domains',
      message: /array/,
    },
    {
      name: 'a bad redirect responseCode enum',
      doc: vsWithRoute({ redirectAction: { responseCode: 'FOO' } }),
      path: 'spec.virtualHost.routes[0].redirectAction.responseCode',
      message: /^must be one of .*"MOVED_PERMANENTLY".*"PERMANENT_REDIRECT"/,
    },
    {
      name: 'a protocolSelection Gloo does not have',
      doc: upstream({ protocolSelection: 'USE_HTTP3', static: { hosts: [{ addr: '10.0.0.1', port: 80 }] } }),
      path: 'spec.protocolSelection',
      message: /^must be one of "USE_CONFIGURED_PROTOCOL", "USE_DOWNSTREAM_PROTOCOL"$/,
    },
    {
      name: 'useHttp2 written as a string',
      doc: upstream({ useHttp2: 'yes', static: { hosts: [{ addr: '10.0.0.1', port: 80 }] } }),
      path: 'spec.useHttp2',
      message: /boolean/,
    },
    {
      name: 'a bad Service port protocol enum',
      doc: { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 80, protocol: 'HTTP' }] } },
      path: 'spec.ports[0].protocol',
      message: /^must be one of "TCP", "UDP", "SCTP"$/,
    },
    {
      name: 'a timeout written as a bare number',
      doc: vsWithRoute({ routeAction: toUpstream, options: { timeout: 15 } }),
      path: 'spec.virtualHost.routes[0].options.timeout',
      message: /string/,
    },
    {
      name: 'a timeout string without a unit',
      doc: vsWithRoute({ routeAction: toUpstream, options: { timeout: '15' } }),
      path: 'spec.virtualHost.routes[0].options.timeout',
      message: /^must be a duration such as 15s/,
    },
    {
      name: 'a timeout in minutes',
      doc: vsWithRoute({ routeAction: toUpstream, options: { timeout: '1m' } }),
      path: 'spec.virtualHost.routes[0].options.timeout',
      message: /duration/,
    },
    {
      name: 'a static host port above 65535',
      doc: upstream({ static: { hosts: [{ addr: '10.0.0.1', port: 70000 }] } }),
      path: 'spec.static.hosts[0].port',
      message: /65535/,
    },
    {
      name: 'a Gateway bindPort of 0',
      doc: { ...gateway(), spec: { bindPort: 0 } },
      path: 'spec.bindPort',
      message: />= 1/,
    },
    {
      name: 'a route with both routeAction and directResponseAction',
      doc: vsWithRoute({ routeAction: toUpstream, directResponseAction: { status: 200 } }),
      path: 'spec.virtualHost.routes[0]',
      message: /^only one of .* may be set, found routeAction and directResponseAction$/,
    },
    {
      name: 'an Upstream with both static and kube',
      doc: upstream({ static: { hosts: [{ addr: 'a', port: 80 }] }, kube: { serviceName: 's', serviceNamespace: 'default', servicePort: 80 } }),
      path: 'spec',
      message: /^only one of static, kube.* may be set, found static and kube$/,
    },
    {
      name: 'a matcher with both prefix and exact',
      doc: vsWithRoute({ matchers: [{ prefix: '/', exact: '/x' }], routeAction: toUpstream }),
      path: 'spec.virtualHost.routes[0].matchers[0]',
      message: /found prefix and exact/,
    },
    {
      name: 'a single destination with none of upstream, kube, consul',
      doc: vsWithRoute({ routeAction: { single: {} } }),
      path: 'spec.virtualHost.routes[0].routeAction.single',
      message: /^one of upstream, kube, consul must be set$/,
    },
    {
      name: 'a route with no action at all',
      doc: vsWithRoute({ matchers: [{ prefix: '/' }] }),
      path: 'spec.virtualHost.routes[0]',
      message: /^one of routeAction, redirectAction, directResponseAction, delegateAction must be set$/,
    },
    {
      name: 'an upper-case metadata.name',
      doc: { ...service(), metadata: { name: 'HttpBin' } },
      path: 'metadata.name',
      message: /^must be a lower-case DNS name$/,
    },
    {
      name: 'a metadata.namespace with an underscore',
      doc: { ...service(), metadata: { name: 'httpbin', namespace: 'team_a' } },
      path: 'metadata.namespace',
      message: /^must be a lower-case DNS label$/,
    },
    {
      name: 'an unknown kind',
      doc: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } },
      path: 'kind',
      message: /^unknown kind "ConfigMap"; known kinds: Upstream, Settings, Gateway, VirtualService, Service, Secret, WorkloadEntry, PeerAuthentication$/,
    },
    {
      name: 'a kind in the wrong case',
      doc: { ...service(), kind: 'service' },
      path: 'kind',
      message: /^unknown kind "service"/,
    },
    {
      name: 'a missing kind',
      doc: { apiVersion: 'v1', metadata: { name: 'x' }, spec: {} },
      path: 'kind',
      message: /^required field is missing$/,
    },
    {
      name: 'a VirtualService with the Gloo apiVersion',
      doc: { ...seedVs(), apiVersion: 'gloo.solo.io/v1' },
      path: 'apiVersion',
      message: /^must be gateway\.solo\.io\/v1 for kind VirtualService$/,
    },
    {
      name: 'a WorkloadEntry with an unknown apiVersion',
      doc: workloadEntry('networking.istio.io/v2'),
      path: 'apiVersion',
      message: /^must be networking\.istio\.io\/v1 or networking\.istio\.io\/v1beta1 or networking\.istio\.io\/v1alpha3 for kind WorkloadEntry$/,
    },
    {
      name: 'a missing apiVersion',
      doc: { kind: 'Service', metadata: { name: 'x' }, spec: { ports: [{ port: 80 }] } },
      path: 'apiVersion',
      message: /for kind Service/,
    },
    { name: 'a null document', doc: null, path: '(document)', message: /^must be a mapping/ },
    { name: 'an array document', doc: [seedVs()], path: '(document)', message: /^must be a mapping/ },
    { name: 'a string document', doc: 'kind: VirtualService', path: '(document)', message: /^must be a mapping/ },
    { name: 'a number document', doc: 42, path: '(document)', message: /^must be a mapping/ },
  ];

  for (const c of bad) {
    test(`${c.name} is an issue at ${c.path}`, () => {
      const r = failed(parseResource(c.doc));
      const at = r.issues.filter((i) => i.path === c.path);
      assert.equal(at.length, 1, `issues: ${JSON.stringify(r.issues)}`);
      assert.match(at[0]!.message, c.message);
    });
  }

  test('every issue is reported, not only the first', () => {
    const doc = vsWithRoute({ matchers: [{ prefx: '/' }], routeAction: toUpstream, options: { timeout: '15' } });
    (doc.metadata as Record<string, unknown>).name = 'Bad';
    const r = failed(parseResource(doc));
    assert.deepEqual(r.issues.map((i) => i.path).sort(), [
      'metadata.name',
      'spec.virtualHost.routes[0].matchers[0].prefx',
      'spec.virtualHost.routes[0].options.timeout',
    ]);
  });

  test('a failed parse names the kind and the resource it was about', () => {
    const r = failed(parseResource(vsWithRoute({ routeAction: { single: {} } })));
    assert.equal(r.kind, 'VirtualService');
    assert.equal(r.name, 'httpbin');
  });
});

describe('parseResource leaves its input alone', () => {
  test('the returned resource never carries status, even when the input has one', () => {
    const doc = { ...seedVs(), status: { statuses: { 'gloo-system': { state: 'Accepted', reportedBy: 'gateway' } } } };
    const r = ok(parseResource(doc));
    assert.equal('status' in r, false);
  });

  test('the input object is not mutated: no namespace filled in, status kept', () => {
    const doc = { ...vsWithRoute({ routeAction: toUpstream }), status: { statuses: {} } };
    const before = structuredClone(doc);
    ok(parseResource(doc));
    assert.deepEqual(doc, before);
    ok(parseResource(doc, 'team-b'));
    assert.deepEqual(doc, before);
  });

  test('the returned resource shares no objects with the input', () => {
    const doc = seedVs();
    const r = ok(parseResource(doc)) as Resource<{ virtualHost: { domains: string[] } }>;
    r.spec.virtualHost.domains.push('example.com');
    r.metadata.name = 'changed';
    assert.deepEqual((doc.spec as { virtualHost: { domains: string[] } }).virtualHost.domains, ['*']);
    assert.equal((doc.metadata as { name: string }).name, 'httpbin');
  });
});

describe('formatIssues', () => {
  test('renders one `Kind ns/name: path: message` line per issue', () => {
    const r = failed(parseResource(vsWithRoute({ matchers: [{ prefx: '/' }], routeAction: toUpstream, options: { timeout: '15' } })));
    assert.deepEqual(formatIssues(r), [
      'VirtualService gloo-system/httpbin: spec.virtualHost.routes[0].matchers[0].prefx: unknown field',
      'VirtualService gloo-system/httpbin: spec.virtualHost.routes[0].options.timeout: must be a duration such as 15s or 0.5s',
    ]);
  });

  test('prefixes each line with the source when one is given', () => {
    const r = failed(parseResource({ ...service(), metadata: { name: 'HttpBin' } }));
    assert.deepEqual(formatIssues(r, 'svc.yaml'), ['svc.yaml: Service default/HttpBin: metadata.name: must be a lower-case DNS name']);
  });

  test('an unknown kind has no namespace in its line', () => {
    const r = failed(parseResource({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } }));
    assert.equal(formatIssues(r).length, 1);
    assert.match(formatIssues(r)[0]!, /^ConfigMap cm: kind: unknown kind "ConfigMap"/);
  });

  test('a document that is not a mapping reads as an unnamed resource', () => {
    const r = failed(parseResource(null));
    assert.deepEqual(formatIssues(r), ['resource (unnamed): (document): must be a mapping with apiVersion, kind, metadata and spec']);
  });

  test('a resource without a name reads as (unnamed) in its namespace', () => {
    const r = failed(parseResource({ apiVersion: 'v1', kind: 'Service', metadata: {}, spec: { ports: [{ port: 80 }] } }));
    assert.deepEqual(formatIssues(r), ['Service default/(unnamed): metadata.name: required field is missing']);
  });
});

describe('toFieldPath', () => {
  const cases: [string, string | undefined, string][] = [
    ['', undefined, '(document)'],
    ['', 'kind', 'kind'],
    ['/spec', undefined, 'spec'],
    ['/spec/virtualHost/routes/0/matchers/1', 'prefx', 'spec.virtualHost.routes[0].matchers[1].prefx'],
    ['/spec/static/hosts/0/port', undefined, 'spec.static.hosts[0].port'],
    ['/metadata/labels/a~1b~0c', undefined, 'metadata.labels.a/b~c'],
  ];
  for (const [pointer, extra, want] of cases) {
    test(`turns ${JSON.stringify(pointer)}${extra ? ` + ${extra}` : ''} into ${want}`, () => {
      assert.equal(toFieldPath(pointer, extra), want);
    });
  }
});

describe('parseResource with PeerAuthentication', () => {
  const peerAuthentication = (spec: unknown, apiVersion = 'security.istio.io/v1'): Record<string, unknown> => ({
    apiVersion,
    kind: 'PeerAuthentication',
    metadata: { name: 'httpbin' },
    spec,
  });
  const workloadSpec = (portLevelMtls: unknown) => ({ selector: { matchLabels: { app: 'httpbin' } }, mtls: { mode: 'STRICT' }, portLevelMtls });

  for (const apiVersion of ['security.istio.io/v1', 'security.istio.io/v1beta1']) {
    test(`a ${apiVersion} PeerAuthentication written as YAML parses into the default namespace with its spec kept`, () => {
      const doc = parseYaml(`
apiVersion: ${apiVersion}
kind: PeerAuthentication
metadata:
  name: httpbin
spec:
  selector:
    matchLabels:
      app: httpbin
  mtls:
    mode: STRICT
  portLevelMtls:
    8080:
      mode: PERMISSIVE
    9090: {}
`) as Record<string, unknown>;
      const r = ok(parseResource(doc));
      assert.equal(r.kind, 'PeerAuthentication');
      assert.equal(r.apiVersion, apiVersion);
      assert.equal(r.metadata.namespace, 'default');
      assert.deepEqual(r.spec, { selector: { matchLabels: { app: 'httpbin' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { '8080': { mode: 'PERMISSIVE' }, '9090': {} } });
    });
  }

  test('an empty spec and every mode parse', () => {
    ok(parseResource(peerAuthentication({})));
    for (const mode of ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']) ok(parseResource(peerAuthentication({ mtls: { mode } })));
  });

  test('port keys 1 and 65535 are accepted', () => {
    ok(parseResource(peerAuthentication(workloadSpec({ '1': { mode: 'DISABLE' }, '65535': { mode: 'UNSET' } }))));
  });

  const bad: { name: string; doc: unknown; path: string; message: RegExp }[] = [
    { name: 'mode STRICTER', doc: peerAuthentication({ mtls: { mode: 'STRICTER' } }), path: 'spec.mtls.mode', message: /^must be one of "UNSET", "DISABLE", "PERMISSIVE", "STRICT"$/ },
    { name: 'a port-level mode STRICTER', doc: peerAuthentication(workloadSpec({ '8080': { mode: 'STRICTER' } })), path: 'spec.portLevelMtls[8080].mode', message: /^must be one of / },
    { name: 'port key 0', doc: peerAuthentication(workloadSpec({ '0': { mode: 'STRICT' } })), path: 'spec.portLevelMtls.0', message: /^unknown field$/ },
    { name: 'port key 65536', doc: peerAuthentication(workloadSpec({ '65536': { mode: 'STRICT' } })), path: 'spec.portLevelMtls.65536', message: /^unknown field$/ },
    { name: 'port key http', doc: peerAuthentication(workloadSpec({ http: { mode: 'STRICT' } })), path: 'spec.portLevelMtls.http', message: /^unknown field$/ },
    { name: 'port key -1', doc: peerAuthentication(workloadSpec({ '-1': {} })), path: 'spec.portLevelMtls.-1', message: /^unknown field$/ },
    { name: 'an unknown field spec.mtls.mdoe', doc: peerAuthentication({ mtls: { mdoe: 'STRICT' } }), path: 'spec.mtls.mdoe', message: /^unknown field$/ },
    { name: 'an unknown field in a port entry', doc: peerAuthentication(workloadSpec({ '8080': { mdoe: 'STRICT' } })), path: 'spec.portLevelMtls[8080].mdoe', message: /^unknown field$/ },
    { name: 'labels directly under selector', doc: peerAuthentication({ selector: { app: 'httpbin' } }), path: 'spec.selector.app', message: /^unknown field$/ },
    { name: 'a selector key with *', doc: peerAuthentication({ selector: { matchLabels: { 'app*': 'httpbin' } } }), path: 'spec.selector.matchLabels.app*', message: /^unknown field$/ },
    { name: 'a selector value with *', doc: peerAuthentication({ selector: { matchLabels: { app: 'http*' } } }), path: 'spec.selector.matchLabels.app', message: /^must be a label value without \*$/ },
    { name: 'a selector value of 64 characters', doc: peerAuthentication({ selector: { matchLabels: { app: 'a'.repeat(64) } } }), path: 'spec.selector.matchLabels.app', message: /63 characters/ },
    {
      name: 'a PeerAuthentication with apiVersion v1alpha1',
      doc: peerAuthentication({}, 'security.istio.io/v1alpha1'),
      path: 'apiVersion',
      message: /^must be security\.istio\.io\/v1 or security\.istio\.io\/v1beta1 for kind PeerAuthentication$/,
    },
  ];
  for (const c of bad) {
    test(`a PeerAuthentication with ${c.name} is an issue at ${c.path}`, () => {
      const r = failed(parseResource(c.doc));
      const at = r.issues.filter((i) => i.path === c.path);
      assert.equal(at.length, 1, `issues: ${JSON.stringify(r.issues)}`);
      assert.match(at[0]!.message, c.message);
    });
  }
});

describe('parseResource with Secret', () => {
  const secret = (extra: Record<string, unknown>) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tls' }, ...extra });

  test('a Secret without a namespace goes to default and gets type Opaque, as Kubernetes does', () => {
    const r = ok(parseResource(secret({ data: { a: 'YQ==' } }))) as unknown as { metadata: { namespace: string }; type: string; data: Record<string, string> };
    assert.equal(r.metadata.namespace, 'default');
    assert.equal(r.type, 'Opaque');
    assert.deepEqual(r.data, { a: 'YQ==' });
  });

  test('stringData is encoded into data, wins over a data key of the same name, and is not kept', () => {
    const doc = secret({ type: 'kubernetes.io/tls', data: { 'tls.crt': 'b2xk', 'ca.crt': 'Y2E=' }, stringData: { 'tls.crt': 'new', 'tls.key': 'k' } });
    const before = structuredClone(doc);
    const r = ok(parseResource(doc)) as unknown as Record<string, unknown>;
    assert.deepEqual(r.data, { 'tls.crt': Buffer.from('new').toString('base64'), 'ca.crt': 'Y2E=', 'tls.key': Buffer.from('k').toString('base64') });
    assert.equal(r.stringData, undefined);
    assert.equal(r.spec, undefined);
    assert.deepEqual(doc, before, 'the input is left alone');
  });

  const bad: { name: string; doc: unknown; path: string; message: RegExp }[] = [
    { name: 'a spec', doc: secret({ spec: {} }), path: 'spec', message: /^unknown field$/ },
    { name: 'a data key with a slash', doc: secret({ data: { 'a/b': 'YQ==' } }), path: 'data.a/b', message: /^unknown field$/ },
    { name: 'a number as a value', doc: secret({ data: { a: 1 } }), path: 'data.a', message: /string/ },
    {
      name: 'a value that is the redaction marker `meshgate get` prints',
      doc: secret({ data: { 'tls.key': '[redacted: 227 bytes]' } }),
      path: 'data.tls.key',
      message: /^must be base64 data, not the \[redacted: N bytes\] marker that `meshgate get` prints$/,
    },
  ];
  for (const c of bad) {
    test(`a Secret with ${c.name} is an issue at ${c.path}`, () => {
      const r = failed(parseResource(c.doc));
      const at = r.issues.filter((i) => i.path === c.path);
      assert.equal(at.length, 1, `issues: ${JSON.stringify(r.issues)}`);
      assert.match(at[0]!.message, c.message);
    });
  }
});
