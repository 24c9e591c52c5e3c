// Golden-file tests for the translator: every testdata/<case>.in.yaml (resources, as a user
// writes them) is parsed, run through discovery and translate, and the result is compared with
// testdata/<case>.out.yaml. To regenerate after an intended change:
//   UPDATE_GOLDEN=1 node --import tsx --test src/translate/translator.test.ts
// then review the diff of testdata/ line by line: a golden file is only as good as its review.
//
// Conventions of an .in.yaml:
//   - it starts with a comment saying which rule the case pins;
//   - every resource gets metadata.resourceVersion = its 1-based document index unless it has one;
//   - a document annotated `meshgate.test/last-accepted: "true"` is not part of the set: it is the
//     form of that resource accepted earlier (lastAccepted), with resourceVersion "last-<index>"
//     unless it names one;
//   - a Secret's data value GENERATED-CERT, GENERATED-KEY, GENERATED-CA or GENERATED-OTHER-KEY is
//     replaced by a certificate (CN example.com), its key, its CA, or a key that matches nothing,
//     made at run time (base64), so no private key is committed. The output names Secrets only.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, unlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';
import type { Resource } from '../api/meta.js';
import { formatIssues, parseResource } from '../api/parse.js';
import { keyOf, keyString } from '../config/resource-set.js';
import { defaultResources } from '../control-plane/defaults.js';
import * as ir from '../ir/index.js';
import { withDiscovered } from './discovery.js';
import { translate, type TranslateResult } from './translator.js';
import { b64, createCa } from '../../test/helpers/tls-pki.js';

const TESTDATA = fileURLToPath(new URL('./testdata/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const LAST_ACCEPTED = 'meshgate.test/last-accepted';
const PROXIES = ['gateway-proxy'];
const REGENERATE = 'UPDATE_GOLDEN=1 node --import tsx --test src/translate/translator.test.ts';

/** GENERATED maps the placeholders of Secret data to material made once per run. */
const GENERATED: ReadonlyMap<string, string> = await (async () => {
  const ca = await createCa('golden CA');
  const leaf = await ca.issue({ cn: 'example.com' });
  const other = await ca.issue({ cn: 'other.example.com' });
  return new Map([
    ['GENERATED-CERT', b64(leaf.certPem)],
    ['GENERATED-KEY', b64(leaf.keyPem)],
    ['GENERATED-CA', b64(ca.certPem)],
    ['GENERATED-OTHER-KEY', b64(other.keyPem)],
  ]);
})();

interface Case {
  readonly resources: Resource[];
  readonly lastAccepted: Map<string, Resource>;
}

/** loadCase parses one .in.yaml; any YAML or schema problem throws with every issue listed. */
function loadCase(file: string): Case {
  const text = readFileSync(file, 'utf8');
  const resources: Resource[] = [];
  const lastAccepted = new Map<string, Resource>();
  const problems: string[] = [];
  parseAllDocuments(text).forEach((doc, i) => {
    const index = i + 1;
    if (doc.errors.length) {
      problems.push(...doc.errors.map((e) => `document ${index}: ${e.message}`));
      return;
    }
    const js: unknown = doc.toJS();
    if (js === null || js === undefined) return; // An empty document (e.g. a trailing ---).
    const parsed = parseResource(js);
    if (!parsed.ok) {
      problems.push(...formatIssues(parsed, `document ${index}`));
      return;
    }
    const r = parsed.resource;
    const data = (r as { data?: Record<string, string> }).data;
    for (const [k, v] of Object.entries(data ?? {})) data![k] = GENERATED.get(v) ?? v;
    const annotations = { ...(r.metadata.annotations ?? {}) };
    const isLast = annotations[LAST_ACCEPTED] === 'true';
    delete annotations[LAST_ACCEPTED];
    if (Object.keys(annotations).length) r.metadata.annotations = annotations;
    else delete r.metadata.annotations;
    r.metadata.resourceVersion ??= isLast ? `last-${index}` : String(index);
    if (isLast) {
      const k = keyString(keyOf(r));
      if (lastAccepted.has(k)) problems.push(`document ${index}: a second last accepted form of ${k}`);
      lastAccepted.set(k, r);
    } else {
      resources.push(r);
    }
  });
  if (problems.length) throw new Error(`${file} does not parse:\n  ${problems.join('\n  ')}`);
  return { resources, lastAccepted };
}

/** run is the pipeline under test: discovery, then translation. */
function run(c: Case): { result: TranslateResult; discovered: string[] } {
  const all = withDiscovered(c.resources);
  const given = new Set(c.resources.map((r) => keyString(keyOf(r))));
  const discovered = all
    .filter((r) => r.kind === 'Upstream' && !given.has(keyString(keyOf(r))))
    .map((r) => r.metadata.name)
    .sort();
  const result = translate(all, { lastAccepted: c.lastAccepted, proxies: PROXIES });
  return { result, discovered };
}

function sortedObject<V, W>(m: ReadonlyMap<string, V>, f: (v: V) => W): Record<string, W> {
  const out: Record<string, W> = {};
  for (const k of [...m.keys()].sort()) out[k] = f(m.get(k)!);
  return out;
}

/** render is the golden text of a case's result. */
function render(name: string, result: TranslateResult, discovered: string[]): string {
  const doc = {
    discovered,
    outcomes: sortedObject(result.outcomes, (o) => ({
      state: o.state,
      ...(o.reason !== undefined ? { reason: o.reason } : {}),
      ...(o.servingLastAccepted !== undefined ? { servingLastAccepted: o.servingLastAccepted } : {}),
    })),
    snapshots: sortedObject(result.snapshots, (s) => s),
  };
  const header = `# Generated from ${name}.in.yaml by src/translate/translator.test.ts. Do not edit by hand:\n# run ${REGENERATE} and review the diff.\n`;
  return header + stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false });
}

const cases = readdirSync(TESTDATA).filter((f) => f.endsWith('.in.yaml')).map((f) => f.slice(0, -'.in.yaml'.length)).sort();

describe('translate golden files (testdata/*.in.yaml → *.out.yaml)', () => {
  test('there are golden cases', () => {
    assert.ok(cases.length > 0, `no *.in.yaml in ${TESTDATA}`);
  });

  for (const name of cases) {
    test(name, () => {
      const inFile = join(TESTDATA, `${name}.in.yaml`);
      const outFile = join(TESTDATA, `${name}.out.yaml`);
      const first = readFileSync(inFile, 'utf8').split('\n', 1)[0] ?? '';
      assert.match(first, /^# \S/, `${name}.in.yaml must start with a comment line saying which rule it pins`);
      const { result, discovered } = run(loadCase(inFile));
      // Whatever the case, the snapshots must hold the invariants the proxy relies on.
      for (const [proxy, snap] of result.snapshots) {
        assert.deepEqual(ir.validateSnapshot(snap), [], `snapshot of ${proxy} breaks an ir invariant (a translator bug)`);
      }
      const got = render(name, result, discovered);
      if (UPDATE) {
        writeFileSync(outFile, got);
        return;
      }
      assert.ok(existsSync(outFile), `${name}.out.yaml is missing; run ${REGENERATE} and review the new file`);
      const want = readFileSync(outFile, 'utf8');
      assert.equal(got, want, `${name}: translation differs from ${name}.out.yaml. If the change is intended, run ${REGENERATE} and review the diff`);
    });
  }

  test('every .out.yaml has an .in.yaml', () => {
    const orphans = readdirSync(TESTDATA).filter((f) => f.endsWith('.out.yaml') && !cases.includes(f.slice(0, -'.out.yaml'.length)));
    if (UPDATE) {
      for (const f of orphans) unlinkSync(join(TESTDATA, f));
      return;
    }
    assert.deepEqual(orphans, [], `stale golden files without an .in.yaml; run ${REGENERATE} to delete them`);
  });
});

// ---- Direct tests ----------------------------------------------------------------------------

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as Record<string, unknown>)) deepFreeze(x);
  }
  return v;
}

function proxySnapshot(r: TranslateResult): ir.Snapshot {
  const s = r.snapshots.get('gateway-proxy');
  assert.ok(s, 'no gateway-proxy snapshot');
  return s;
}

describe('translate', () => {
  test('is pure: the same input twice gives the same snapshots and outcomes, and the input is not mutated', () => {
    // The last-accepted case also runs the fallback pass.
    for (const name of ['seed', 'last-accepted']) {
      const c = loadCase(join(TESTDATA, `${name}.in.yaml`));
      const all = withDiscovered(c.resources);
      const before = structuredClone({ all, last: [...c.lastAccepted] });
      deepFreeze(all);
      deepFreeze(c.lastAccepted);
      for (const r of c.lastAccepted.values()) deepFreeze(r);
      const a = translate(all, { lastAccepted: c.lastAccepted, proxies: PROXIES });
      const b = translate(all, { lastAccepted: c.lastAccepted, proxies: PROXIES });
      assert.equal(proxySnapshot(a).version, proxySnapshot(b).version, name);
      assert.deepEqual(a.snapshots, b.snapshots, name);
      assert.deepEqual(a.outcomes, b.outcomes, name);
      assert.deepEqual({ all, last: [...c.lastAccepted] }, before, `${name}: translate mutated its input`);
    }
  });

  test('the snapshot version is the tree hash of the rest of the snapshot (ir.snapshotVersion)', () => {
    const { result } = run(loadCase(join(TESTDATA, 'seed.in.yaml')));
    const { version, ...body } = proxySnapshot(result);
    assert.equal(version, ir.snapshotVersion(body));
  });

  test('the snapshot version changes when a route changes, and only then', () => {
    const c = loadCase(join(TESTDATA, 'seed.in.yaml'));
    const base = proxySnapshot(run(c).result).version;
    const edit = (f: (vs: Resource) => void): string => {
      const resources = structuredClone(c.resources);
      const vs = resources.find((r) => r.kind === 'VirtualService');
      assert.ok(vs);
      f(vs);
      return proxySnapshot(run({ resources, lastAccepted: c.lastAccepted }).result).version;
    };
    type Spec = { virtualHost: { routes: { matchers: { prefix?: string }[] }[] } };
    const changed = edit((vs) => {
      (vs.spec as Spec).virtualHost.routes[0]!.matchers[0]!.prefix = '/headers';
    });
    assert.notEqual(changed, base, 'a changed route prefix must change the snapshot version');
    // Metadata the snapshot does not carry leaves the version alone, so proxies are not pushed for nothing.
    const relabelled = edit((vs) => {
      vs.metadata.labels = { team: 'blue' };
      vs.metadata.resourceVersion = '99';
    });
    assert.equal(relabelled, base);
  });

  test("the seed case's Gateways and Settings are defaultResources() written out", () => {
    const c = loadCase(join(TESTDATA, 'seed.in.yaml'));
    for (const d of defaultResources()) {
      const r = c.resources.find((x) => keyString(keyOf(x)) === keyString(keyOf(d)));
      assert.ok(r, `seed.in.yaml lacks ${keyString(keyOf(d))}`);
      const { resourceVersion: _rv, ...metadata } = r.metadata;
      assert.deepEqual({ ...r, metadata }, d);
    }
  });
});
