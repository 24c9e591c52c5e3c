// Unit tests for PeerAuthentication precedence and validation. The precedence table mirrors
// Istio's pilot/pkg/security/authn/policy_applier_test.go one case for one: TestComposePeerAuthentication
// (whole-workload mode and port-level entries) and TestInboundMTLSSettings (the mode on port 8080).
// Policies are written as YAML and go through parseResource, so the schema is exercised too.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { Resource } from '../api/meta.js';
import { parseResource } from '../api/parse.js';
import type { PeerAuthenticationSpec } from '../api/security/peer-authentication.js';
import {
  effectiveMtls,
  modeForPort,
  policyScope,
  validatePeerAuthentication,
  ROOT_NAMESPACE,
  type MtlsMode,
  type WorkloadRef,
} from './peer-authentication.js';

type PA = Resource<PeerAuthenticationSpec>;

/** policies parses a multi-document YAML string of PeerAuthentications; any issue fails the test. */
function policies(yaml: string): PA[] {
  return parseAllDocuments(yaml)
    .map((d) => d.toJS() as unknown)
    .filter((d) => d !== null)
    .map((d) => {
      const r = parseResource(d);
      if (!r.ok) assert.fail(`expected the policy to parse, got: ${JSON.stringify(r.issues)}`);
      return r.resource as PA;
    });
}

/** pa writes one PeerAuthentication document; the spec is given as YAML lines under `spec:`. */
function pa(namespace: string, name: string, spec: string, creationTimestamp?: string, apiVersion = 'security.istio.io/v1'): string {
  const ts = creationTimestamp ? `\n  creationTimestamp: "${creationTimestamp}"` : '';
  const body = spec.trim() ? `\n${spec.replace(/^/gm, '  ')}` : ' {}';
  return `---\napiVersion: ${apiVersion}\nkind: PeerAuthentication\nmetadata:\n  name: ${name}\n  namespace: ${namespace}${ts}\nspec:${body}\n`;
}

const ROOT = ROOT_NAMESPACE;
const NOW = '2026-03-01T12:00:00Z';
const SECOND_AGO = '2026-03-01T11:59:59Z';
const SECOND_LATER = '2026-03-01T12:00:01Z';
const WORKLOAD: WorkloadRef = { namespace: 'my-ns', labels: { app: 'foo' } };

const STRICT = 'mtls:\n  mode: STRICT';
const PERMISSIVE = 'mtls:\n  mode: PERMISSIVE';
const DISABLE = 'mtls:\n  mode: DISABLE';
const UNSET = 'mtls:\n  mode: UNSET';
const APP_FOO = 'selector:\n  matchLabels:\n    app: foo';

interface PrecedenceCase {
  readonly name: string;
  readonly yaml: string;
  readonly workload?: WorkloadRef;
  readonly mode: MtlsMode;
  readonly portModes?: Record<number, MtlsMode>;
  readonly sources: string[];
}

// Rule (istio-compat.md §1.3): mesh (root namespace, no or empty selector) < namespace (no or empty
// selector elsewhere) < workload (non-empty selector, not in the root namespace) < port level.
// UNSET inherits, a mesh UNSET is PERMISSIVE, and with no policy the mode is PERMISSIVE. Within a
// scope the oldest creationTimestamp wins; a selector policy in the root namespace is ignored.
const composeCases: PrecedenceCase[] = [
  { name: 'no config', yaml: '', mode: 'PERMISSIVE', sources: [] },
  { name: 'mesh only', yaml: pa(ROOT, 'default', STRICT), mode: 'STRICT', sources: ['istio-system/default'] },
  {
    name: 'mesh vs namespace',
    // An empty matchLabels is no selector: the root-namespace policy is still mesh-wide.
    yaml: pa(ROOT, 'default', `selector:\n  matchLabels: {}\n${STRICT}`) + pa('my-ns', 'default', PERMISSIVE),
    mode: 'PERMISSIVE',
    sources: ['istio-system/default', 'my-ns/default'],
  },
  {
    name: 'ignore non-emptypb selector in root namespace',
    yaml: pa(ROOT, 'default', `${APP_FOO}\n${STRICT}`),
    mode: 'PERMISSIVE',
    sources: [],
  },
  {
    name: 'workload vs namespace config',
    yaml: pa('my-ns', 'default', '') + pa('my-ns', 'foo', APP_FOO),
    mode: 'PERMISSIVE',
    sources: ['my-ns/default', 'my-ns/foo'],
  },
  {
    // Istio's name; the case is a namespace policy over a mesh policy.
    name: 'workload vs mesh config',
    yaml: pa('my-ns', 'default', PERMISSIVE) + pa(ROOT, 'default', DISABLE),
    mode: 'PERMISSIVE',
    sources: ['istio-system/default', 'my-ns/default'],
  },
  {
    name: 'multiple mesh policy',
    yaml: pa(ROOT, 'now', DISABLE, NOW) + pa(ROOT, 'second-ago', PERMISSIVE, SECOND_AGO) + pa(ROOT, 'second-later', STRICT, SECOND_AGO),
    mode: 'PERMISSIVE',
    sources: ['istio-system/second-ago'],
  },
  {
    name: 'multiple namespace policy',
    yaml: pa('my-ns', 'now', DISABLE, NOW) + pa('my-ns', 'second-ago', PERMISSIVE, SECOND_AGO) + pa('my-ns', 'second-later', STRICT, SECOND_AGO),
    mode: 'PERMISSIVE',
    sources: ['my-ns/second-ago'],
  },
  {
    name: 'multiple workload policy',
    yaml:
      pa('my-ns', 'now', `${APP_FOO}\n${DISABLE}`, NOW) +
      pa('my-ns', 'second-ago', `${APP_FOO}\n${PERMISSIVE}`, SECOND_AGO) +
      pa('my-ns', 'second-later', `selector:\n  matchLabels:\n    stage: prod\n${STRICT}`, SECOND_AGO),
    // Istio hands all three to ComposePeerAuthentication as matching; here the labels make them match.
    workload: { namespace: 'my-ns', labels: { app: 'foo', stage: 'prod' } },
    mode: 'PERMISSIVE',
    sources: ['my-ns/second-ago'],
  },
  { name: 'inheritance: default mesh', yaml: pa(ROOT, 'default', UNSET), mode: 'PERMISSIVE', sources: ['istio-system/default'] },
  {
    name: 'inheritance: mesh to workload',
    yaml: pa(ROOT, 'default', STRICT) + pa('my-ns', 'foo', APP_FOO),
    mode: 'STRICT',
    sources: ['istio-system/default', 'my-ns/foo'],
  },
  {
    name: 'inheritance: namespace to workload',
    yaml: pa('my-ns', 'default', STRICT) + pa('my-ns', 'foo', APP_FOO),
    mode: 'STRICT',
    sources: ['my-ns/default', 'my-ns/foo'],
  },
  {
    name: 'inheritance: mesh to namespace to workload',
    yaml: pa(ROOT, 'default', STRICT) + pa('my-ns', 'default', UNSET) + pa('my-ns', 'foo', APP_FOO),
    mode: 'STRICT',
    sources: ['istio-system/default', 'my-ns/default', 'my-ns/foo'],
  },
  {
    name: 'port level',
    yaml: pa(ROOT, 'default', STRICT) + pa('my-ns', 'foo', `${APP_FOO}\nportLevelMtls:\n  80:\n    mode: DISABLE\n  90:\n    mode: UNSET\n  100: {}`),
    mode: 'STRICT',
    portModes: { 80: 'DISABLE', 90: 'STRICT', 100: 'STRICT' },
    sources: ['istio-system/default', 'my-ns/foo'],
  },
];

describe('effectiveMtls mirrors Istio TestComposePeerAuthentication', () => {
  for (const c of composeCases) {
    test(c.name, () => {
      const input = policies(c.yaml);
      const want = { mode: c.mode, portModes: c.portModes ?? {}, sources: c.sources };
      assert.deepEqual(effectiveMtls(input, c.workload ?? WORKLOAD), want);
      // Precedence depends on timestamps and names, never on the order policies arrive in.
      assert.deepEqual(effectiveMtls([...input].reverse(), c.workload ?? WORKLOAD), want);
    });
  }
});

interface PortCase {
  readonly name: string;
  readonly yaml: string;
  readonly mode: MtlsMode;
}

// Istio's TestInboundMTLSSettings asks for the mode of port 8080 on a workload labelled app=foo.
// Its single policies have neither namespace nor selector, so they are namespace-wide.
const inboundCases: PortCase[] = [
  { name: 'No policy - behave as permissive', yaml: '', mode: 'PERMISSIVE' },
  { name: 'Single policy - disable mode', yaml: pa('my-ns', 'default', DISABLE), mode: 'DISABLE' },
  { name: 'Single policy - permissive mode', yaml: pa('my-ns', 'default', PERMISSIVE), mode: 'PERMISSIVE' },
  { name: 'Single policy - strict mode', yaml: pa('my-ns', 'default', STRICT), mode: 'STRICT' },
  {
    // "later" sorts before "now" by name: only the timestamp can pick "now".
    name: 'Multiple policies resolved to STRICT',
    yaml: pa('my-ns', 'now', `${APP_FOO}\n${STRICT}`, NOW) + pa('my-ns', 'later', `${APP_FOO}\n${DISABLE}`, SECOND_LATER),
    mode: 'STRICT',
  },
  {
    name: 'Multiple policies resolved to PERMISSIVE',
    yaml: pa('my-ns', 'now', `${APP_FOO}\n${DISABLE}`, NOW) + pa('my-ns', 'earlier', `${APP_FOO}\n${PERMISSIVE}`, SECOND_AGO),
    mode: 'PERMISSIVE',
  },
  { name: 'Port level hit', yaml: pa('my-ns', 'foo', `${APP_FOO}\n${DISABLE}\nportLevelMtls:\n  8080:\n    mode: STRICT`), mode: 'STRICT' },
  { name: 'Port level miss', yaml: pa('my-ns', 'foo', `${APP_FOO}\nportLevelMtls:\n  7070:\n    mode: STRICT`), mode: 'PERMISSIVE' },
];

describe('modeForPort mirrors Istio TestInboundMTLSSettings on port 8080', () => {
  for (const c of inboundCases) {
    test(c.name, () => {
      const input = policies(c.yaml);
      assert.equal(modeForPort(effectiveMtls(input, WORKLOAD), 8080), c.mode);
      assert.equal(modeForPort(effectiveMtls([...input].reverse(), WORKLOAD), 8080), c.mode);
    });
  }
});

describe('effectiveMtls candidates and scopes', () => {
  test('policies in another namespace do not apply, whatever their selector', () => {
    const input = policies(pa('other-ns', 'default', STRICT) + pa('other-ns', 'foo', `${APP_FOO}\n${DISABLE}`));
    assert.deepEqual(effectiveMtls(input, WORKLOAD), { mode: 'PERMISSIVE', portModes: {}, sources: [] });
  });

  test('a namespace policy elsewhere does not override the mesh policy for this workload', () => {
    const input = policies(pa(ROOT, 'default', STRICT) + pa('other-ns', 'default', DISABLE));
    assert.deepEqual(effectiveMtls(input, WORKLOAD), { mode: 'STRICT', portModes: {}, sources: ['istio-system/default'] });
  });

  test('a workload policy applies when its matchLabels are a subset of the workload labels', () => {
    const input = policies(pa('my-ns', 'foo', `${APP_FOO}\n${STRICT}`));
    assert.equal(effectiveMtls(input, { namespace: 'my-ns', labels: { app: 'foo', version: 'v1' } }).mode, 'STRICT');
  });

  test('a workload policy does not apply when one of its labels is missing or differs', () => {
    const input = policies(
      pa('my-ns', 'v2', `selector:\n  matchLabels:\n    app: foo\n    version: v2\n${STRICT}`) +
        pa('my-ns', 'bar', `selector:\n  matchLabels:\n    app: bar\n${STRICT}`),
    );
    assert.deepEqual(effectiveMtls(input, { namespace: 'my-ns', labels: { app: 'foo', version: 'v1' } }), {
      mode: 'PERMISSIVE',
      portModes: {},
      sources: [],
    });
  });

  test('a selector policy in the root namespace is ignored even for a workload in the root namespace', () => {
    const input = policies(pa(ROOT, 'default', DISABLE) + pa(ROOT, 'foo', `${APP_FOO}\n${STRICT}`));
    assert.deepEqual(effectiveMtls(input, { namespace: ROOT, labels: { app: 'foo' } }), {
      mode: 'DISABLE',
      portModes: {},
      sources: ['istio-system/default'],
    });
  });

  test('port-level entries of a namespace policy are dropped, as Istio drops them', () => {
    const input = policies(pa('my-ns', 'default', `${STRICT}\nportLevelMtls:\n  8080:\n    mode: DISABLE`));
    const got = effectiveMtls(input, WORKLOAD);
    assert.deepEqual(got.portModes, {});
    assert.equal(modeForPort(got, 8080), 'STRICT');
  });

  test('the root namespace can be changed', () => {
    const input = policies(pa('mesh-root', 'default', STRICT) + pa(ROOT, 'default', DISABLE));
    assert.deepEqual(effectiveMtls(input, WORKLOAD, 'mesh-root'), { mode: 'STRICT', portModes: {}, sources: ['mesh-root/default'] });
  });

  test('a policy without creationTimestamp counts as the oldest of its scope', () => {
    const input = policies(pa('my-ns', 'stamped', STRICT, NOW) + pa('my-ns', 'unstamped', DISABLE));
    assert.deepEqual(effectiveMtls(input, WORKLOAD).sources, ['my-ns/unstamped']);
  });

  test('timestamps compare as instants, not as strings', () => {
    // "12:00:00.500Z" sorts after "12:00:01Z" as a string but is half a second earlier.
    const input = policies(pa('my-ns', 'a-later', DISABLE, SECOND_LATER) + pa('my-ns', 'b-earlier', STRICT, '2026-03-01T12:00:00.500Z'));
    assert.equal(effectiveMtls(input, WORKLOAD).mode, 'STRICT');
  });

  test('security.istio.io/v1beta1 policies resolve like v1 ones', () => {
    const input = policies(pa('my-ns', 'foo', `${APP_FOO}\n${STRICT}\nportLevelMtls:\n  9090:\n    mode: PERMISSIVE`, undefined, 'security.istio.io/v1beta1'));
    const got = effectiveMtls(input, WORKLOAD);
    assert.deepEqual(got, { mode: 'STRICT', portModes: { 9090: 'PERMISSIVE' }, sources: ['my-ns/foo'] });
    assert.equal(modeForPort(got, 9090), 'PERMISSIVE');
    assert.equal(modeForPort(got, 8080), 'STRICT');
  });
});

describe('policyScope', () => {
  const cases: [string, string, string][] = [
    ['no selector in the root namespace', pa(ROOT, 'default', STRICT), 'mesh'],
    ['an empty selector in the root namespace', pa(ROOT, 'default', 'selector: {}'), 'mesh'],
    ['no selector elsewhere', pa('my-ns', 'default', STRICT), 'namespace'],
    ['an empty matchLabels elsewhere', pa('my-ns', 'default', 'selector:\n  matchLabels: {}'), 'namespace'],
    ['a selector elsewhere', pa('my-ns', 'foo', APP_FOO), 'workload'],
    ['a selector in the root namespace', pa(ROOT, 'foo', APP_FOO), 'ignored'],
  ];
  for (const [name, yaml, scope] of cases) {
    test(`${name} is ${scope}`, () => {
      assert.equal(policyScope(policies(yaml)[0]!), scope);
    });
  }
});

describe('validatePeerAuthentication', () => {
  interface ValidationCase {
    readonly name: string;
    readonly yaml: string;
    readonly rootNamespace?: string;
    readonly errors: string[];
    readonly warnings: string[];
  }
  const REQUIRES_SELECTOR = 'spec.portLevelMtls: requires spec.selector (port-level mTLS applies to workloads only)';
  const EMPTY_PORTS = 'spec.portLevelMtls: must have at least one entry';
  const cases: ValidationCase[] = [
    { name: 'a workload policy with port-level entries has no problems', yaml: pa('my-ns', 'foo', `${APP_FOO}\nportLevelMtls:\n  8080:\n    mode: STRICT`), errors: [], warnings: [] },
    { name: 'a mesh policy has no problems', yaml: pa(ROOT, 'default', STRICT), errors: [], warnings: [] },
    { name: 'portLevelMtls without a selector is an error', yaml: pa('my-ns', 'default', `${STRICT}\nportLevelMtls:\n  8080:\n    mode: DISABLE`), errors: [REQUIRES_SELECTOR], warnings: [] },
    {
      name: 'portLevelMtls with an empty matchLabels is an error',
      yaml: pa('my-ns', 'default', `selector:\n  matchLabels: {}\nportLevelMtls:\n  8080:\n    mode: DISABLE`),
      errors: [REQUIRES_SELECTOR],
      warnings: [],
    },
    { name: 'an empty portLevelMtls is an error', yaml: pa('my-ns', 'foo', `${APP_FOO}\nportLevelMtls: {}`), errors: [EMPTY_PORTS], warnings: [] },
    { name: 'an empty portLevelMtls without a selector is two errors', yaml: pa('my-ns', 'default', 'portLevelMtls: {}'), errors: [REQUIRES_SELECTOR, EMPTY_PORTS], warnings: [] },
    {
      name: 'a selector policy in the root namespace is a warning',
      yaml: pa(ROOT, 'foo', `${APP_FOO}\n${STRICT}`),
      errors: [],
      warnings: ['spec.selector: a policy with a selector in the root namespace istio-system is ignored'],
    },
    {
      name: 'the warning names a changed root namespace',
      yaml: pa('mesh-root', 'foo', `${APP_FOO}\n${STRICT}`),
      rootNamespace: 'mesh-root',
      errors: [],
      warnings: ['spec.selector: a policy with a selector in the root namespace mesh-root is ignored'],
    },
    {
      name: 'a selector policy in istio-system is not a warning when the root namespace is elsewhere',
      yaml: pa(ROOT, 'foo', `${APP_FOO}\n${STRICT}`),
      rootNamespace: 'mesh-root',
      errors: [],
      warnings: [],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const [policy] = policies(c.yaml);
      assert.deepEqual(validatePeerAuthentication(policy!, c.rootNamespace), { errors: c.errors, warnings: c.warnings });
    });
  }
});
