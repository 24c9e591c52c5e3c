// Unit tests for FileStore and atomicWrite against real temporary directories: the on-disk
// layout, resourceVersion bookkeeping, optimistic concurrency, restart and load issues.

import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { Resource } from '../../api/meta.js';
import { ConflictError } from '../errors.js';
import { keyOf, keyString } from '../resource-set.js';
import { atomicWrite } from './atomic-write.js';
import { FileStore } from './file-store.js';

let root: string;
let seq = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'meshgate-file-store-test-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** freshDir is a data directory path, not yet created, of its own for each test. */
function freshDir(): string {
  return join(root, `data-${++seq}`);
}

async function loadedStore(): Promise<FileStore> {
  const s = new FileStore(freshDir());
  await s.load();
  return s;
}

/** files lists every file under dir, relative to it, sorted. */
async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)))
    .sort();
}

function upstream(name: string, port = 8000, namespace = 'gloo-system'): Resource {
  return {
    apiVersion: 'gloo.solo.io/v1',
    kind: 'Upstream',
    metadata: { name, namespace },
    spec: { static: { hosts: [{ addr: '127.0.0.1', port }] } },
  };
}

function workloadEntry(name: string): Resource {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'WorkloadEntry',
    metadata: { name, namespace: 'default', labels: { app: name } },
    spec: { address: '127.0.0.1', ports: { http: 8000 }, labels: { app: name } },
  };
}

describe('FileStore.load', () => {
  test('returns true for a new directory and false once it has been set up', async () => {
    const dir = freshDir();
    const s = new FileStore(dir);
    assert.equal(await s.load(), true);
    assert.equal(await s.load(), false);
    assert.equal(await new FileStore(dir).load(), false);
    assert.deepEqual(s.list(), []);
    assert.deepEqual(s.loadIssues, []);
  });

  test('a new FileStore on the same directory loads every resource back after a restart', async () => {
    const dir = freshDir();
    const s1 = new FileStore(dir);
    await s1.load();
    const a = (await s1.put(upstream('a'))).resource;
    const b = (await s1.put(workloadEntry('b'))).resource;
    const a2 = (await s1.put(upstream('a', 9000))).resource;

    const s2 = new FileStore(dir);
    assert.equal(await s2.load(), false);
    assert.deepEqual(s2.loadIssues, []);
    assert.equal(s2.list().length, 2);
    assert.deepEqual(s2.get(keyOf(a)), a2);
    assert.deepEqual(s2.get(keyOf(b)), b);
  });

  test('resourceVersions keep increasing after a restart', async () => {
    const dir = freshDir();
    const s1 = new FileStore(dir);
    await s1.load();
    await s1.put(upstream('a'));
    const last = (await s1.put(upstream('b'))).resource;

    const s2 = new FileStore(dir);
    await s2.load();
    const next = (await s2.put(upstream('c'))).resource;
    assert.ok(Number(next.metadata.resourceVersion) > Number(last.metadata.resourceVersion));
  });

  test('a corrupt YAML file is reported in loadIssues by name and the other files still load', async () => {
    const dir = freshDir();
    const s1 = new FileStore(dir);
    await s1.load();
    await s1.put(upstream('good-one'));
    await s1.put(upstream('good-two'));
    const corrupt = join(dir, 'resources', 'Upstream', 'gloo-system', 'broken.yaml');
    await writeFile(corrupt, 'apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: broken\n  spec: [\n');

    const s2 = new FileStore(dir);
    await s2.load();
    assert.equal(s2.loadIssues.length, 1);
    assert.equal(s2.loadIssues[0]!.file, corrupt);
    assert.ok(s2.loadIssues[0]!.message.length > 0);
    assert.deepEqual(s2.list().map((r) => r.metadata.name).sort(), ['good-one', 'good-two']);
    // The bad file is left where it was, for the user to fix.
    assert.ok((await stat(corrupt)).isFile());
  });

  test('a well-formed YAML file that is not a valid resource is reported with its schema issue', async () => {
    const dir = freshDir();
    const s1 = new FileStore(dir);
    await s1.load();
    await s1.put(upstream('good'));
    const invalid = join(dir, 'resources', 'Upstream', 'gloo-system', 'invalid.yaml');
    await writeFile(invalid, 'apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata:\n  name: invalid\nspec:\n  static:\n    hosts:\n      - addr: 10.0.0.1\n        port: 70000\n');

    const s2 = new FileStore(dir);
    await s2.load();
    assert.equal(s2.loadIssues.length, 1);
    assert.equal(s2.loadIssues[0]!.file, invalid);
    assert.match(s2.loadIssues[0]!.message, /Upstream gloo-system\/invalid: spec\.static\.hosts\[0\]\.port/);
    assert.deepEqual(s2.list().map((r) => r.metadata.name), ['good']);
  });

  test('a reload forgets the load issues of a file that has since been removed', async () => {
    const dir = freshDir();
    const s = new FileStore(dir);
    await s.load();
    const bad = join(dir, 'resources', 'Upstream', 'gloo-system', 'bad.yaml');
    await mkdir(join(dir, 'resources', 'Upstream', 'gloo-system'), { recursive: true });
    await writeFile(bad, ': : :\n  - [');
    await s.load();
    assert.equal(s.loadIssues.length, 1);
    await rm(bad);
    await s.load();
    assert.deepEqual(s.loadIssues, []);
  });
});

describe('FileStore.put', () => {
  test('returns created, then configured for a change, then unchanged for the same content', async () => {
    const s = await loadedStore();
    const created = await s.put(upstream('httpbin'));
    assert.equal(created.action, 'created');
    const configured = await s.put(upstream('httpbin', 9000));
    assert.equal(configured.action, 'configured');
    const unchanged = await s.put(upstream('httpbin', 9000));
    assert.equal(unchanged.action, 'unchanged');
    assert.deepEqual(unchanged.resource, configured.resource);
  });

  test('assigns uid, creationTimestamp, generation and an increasing resourceVersion', async () => {
    const s = await loadedStore();
    const c = (await s.put(upstream('httpbin'))).resource;
    assert.match(c.metadata.uid ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.ok(!Number.isNaN(Date.parse(c.metadata.creationTimestamp ?? '')), 'creationTimestamp is a date');
    assert.equal(c.metadata.generation, 1);
    assert.match(c.metadata.resourceVersion ?? '', /^[0-9]+$/);

    const u = (await s.put(upstream('httpbin', 9000))).resource;
    assert.equal(u.metadata.uid, c.metadata.uid, 'uid survives an update');
    assert.equal(u.metadata.creationTimestamp, c.metadata.creationTimestamp, 'creationTimestamp survives an update');
    assert.equal(u.metadata.generation, 2);
    assert.ok(Number(u.metadata.resourceVersion) > Number(c.metadata.resourceVersion));

    const other = (await s.put(upstream('other'))).resource;
    assert.notEqual(other.metadata.uid, c.metadata.uid);
    assert.equal(other.metadata.generation, 1);
    assert.ok(Number(other.metadata.resourceVersion) > Number(u.metadata.resourceVersion));
  });

  test('an unchanged put keeps the resourceVersion and generation', async () => {
    const s = await loadedStore();
    const c = (await s.put(upstream('httpbin'))).resource;
    const again = (await s.put(upstream('httpbin'))).resource;
    assert.equal(again.metadata.resourceVersion, c.metadata.resourceVersion);
    assert.equal(again.metadata.generation, c.metadata.generation);
  });

  test('a label change alone is a configured update', async () => {
    const s = await loadedStore();
    await s.put(upstream('httpbin'));
    const labelled = upstream('httpbin');
    labelled.metadata.labels = { team: 'a' };
    const r = await s.put(labelled);
    assert.equal(r.action, 'configured');
    assert.deepEqual(s.get(keyOf(labelled))?.metadata.labels, { team: 'a' });
  });

  test('a put naming the current resourceVersion is accepted', async () => {
    const s = await loadedStore();
    const c = (await s.put(upstream('httpbin'))).resource;
    const next = upstream('httpbin', 9000);
    next.metadata.resourceVersion = c.metadata.resourceVersion;
    assert.equal((await s.put(next)).action, 'configured');
  });

  test('a put naming a stale resourceVersion throws ConflictError and changes nothing on disk', async () => {
    const s = await loadedStore();
    const first = (await s.put(upstream('httpbin'))).resource;
    const current = (await s.put(upstream('httpbin', 9000))).resource;
    const file = join(s.dir, 'resources', 'Upstream', 'gloo-system', 'httpbin.yaml');
    const before = await readFile(file, 'utf8');
    const filesBefore = await files(s.dir);
    let notified = 0;
    s.onChange(() => notified++);

    const stale = upstream('httpbin', 7000);
    stale.metadata.resourceVersion = first.metadata.resourceVersion;
    await assert.rejects(s.put(stale), (err: unknown) => {
      assert.ok(err instanceof ConflictError);
      assert.equal(err.code, 'GW_CONFIG_CONFLICT');
      assert.match(err.message, /Upstream gloo-system\/httpbin/);
      return true;
    });

    assert.equal(await readFile(file, 'utf8'), before);
    assert.deepEqual(await files(s.dir), filesBefore);
    assert.deepEqual(s.get(keyOf(current)), current);
    assert.equal(notified, 0);
  });

  test('a create naming a resourceVersion for a resource that does not exist throws ConflictError', async () => {
    const s = await loadedStore();
    const ghost = upstream('ghost');
    ghost.metadata.resourceVersion = '7';
    await assert.rejects(s.put(ghost), ConflictError);
    assert.equal(s.get(keyOf(ghost)), undefined);
    assert.deepEqual(await files(s.dir), []);
  });

  test('the store keeps working after a conflict', async () => {
    const s = await loadedStore();
    await s.put(upstream('httpbin'));
    const stale = upstream('httpbin', 7000);
    stale.metadata.resourceVersion = '999';
    await assert.rejects(s.put(stale), ConflictError);
    assert.equal((await s.put(upstream('httpbin', 7000))).action, 'configured');
  });

  test('files land at resources/<Kind>/<namespace>/<name>.yaml and hold the stored resource', async () => {
    const s = await loadedStore();
    const us = (await s.put(upstream('httpbin'))).resource;
    const we = (await s.put(workloadEntry('httpbin'))).resource;
    const team = (await s.put(upstream('api', 8080, 'team-a'))).resource;
    assert.deepEqual(await files(s.dir), [
      'resource-version',
      join('resources', 'Upstream', 'gloo-system', 'httpbin.yaml'),
      join('resources', 'Upstream', 'team-a', 'api.yaml'),
      join('resources', 'WorkloadEntry', 'default', 'httpbin.yaml'),
    ]);
    const onDisk = parseYaml(await readFile(join(s.dir, 'resources', 'Upstream', 'gloo-system', 'httpbin.yaml'), 'utf8')) as Resource;
    assert.deepEqual(onDisk, us);
    assert.deepEqual(parseYaml(await readFile(join(s.dir, 'resources', 'WorkloadEntry', 'default', 'httpbin.yaml'), 'utf8')), we);
    assert.deepEqual(parseYaml(await readFile(join(s.dir, 'resources', 'Upstream', 'team-a', 'api.yaml'), 'utf8')), team);
  });

  test('status is never stored and the caller’s object is not changed', async () => {
    const s = await loadedStore();
    const input = upstream('httpbin');
    input.status = { statuses: { 'gloo-system': { state: 'Accepted', reportedBy: 'gloo' } } };
    const copy = structuredClone(input);
    const stored = (await s.put(input)).resource;
    assert.equal('status' in stored, false);
    assert.deepEqual(input, copy);
    const onDisk = parseYaml(await readFile(join(s.dir, 'resources', 'Upstream', 'gloo-system', 'httpbin.yaml'), 'utf8')) as Record<string, unknown>;
    assert.equal('status' in onDisk, false);
  });

  test('concurrent puts get distinct resourceVersions and all land on disk', async () => {
    const s = await loadedStore();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => s.put(upstream(`u${i}`, 8000 + i))));
    const rvs = results.map((r) => r.resource.metadata.resourceVersion);
    assert.equal(new Set(rvs).size, 8);
    assert.equal((await files(join(s.dir, 'resources'))).length, 8);
  });

  test('no temporary files are left behind after writes', async () => {
    const s = await loadedStore();
    await s.put(upstream('a'));
    await s.put(upstream('a', 9000));
    await s.put(upstream('b'));
    await s.recordAccepted([s.get(keyOf(upstream('a')))!]);
    await s.delete(keyOf(upstream('b')));
    const all = await files(s.dir);
    assert.deepEqual(all, [join('accepted', 'Upstream', 'gloo-system', 'a.yaml'), 'resource-version', join('resources', 'Upstream', 'gloo-system', 'a.yaml')]);
    assert.ok(all.every((f) => !f.endsWith('.tmp')));
  });
});

describe('FileStore.delete', () => {
  test('removes the file and the resource, and returns false the second time', async () => {
    const s = await loadedStore();
    const r = (await s.put(upstream('httpbin'))).resource;
    const file = join(s.dir, 'resources', 'Upstream', 'gloo-system', 'httpbin.yaml');
    await stat(file);

    assert.equal(await s.delete(keyOf(r)), true);
    await assert.rejects(stat(file), { code: 'ENOENT' });
    assert.equal(s.get(keyOf(r)), undefined);
    assert.deepEqual(s.list(), []);
    assert.equal(await s.delete(keyOf(r)), false);
  });

  test('returns false for a resource that never existed', async () => {
    const s = await loadedStore();
    assert.equal(await s.delete({ kind: 'Upstream', namespace: 'gloo-system', name: 'nope' }), false);
  });

  test('a deleted resource stays deleted after a restart, and its accepted form goes with it', async () => {
    const dir = freshDir();
    const s1 = new FileStore(dir);
    await s1.load();
    const gone = (await s1.put(upstream('gone'))).resource;
    const kept = (await s1.put(upstream('kept'))).resource;
    await s1.recordAccepted([gone, kept]);
    await s1.delete(keyOf(gone));
    assert.equal(s1.acceptedForms().has(keyString(keyOf(gone))), false);

    const s2 = new FileStore(dir);
    await s2.load();
    assert.deepEqual(s2.list().map((r) => r.metadata.name), ['kept']);
    assert.deepEqual([...s2.acceptedForms().keys()], [keyString(keyOf(kept))]);
  });

  test('a deleted resource can be created again', async () => {
    const s = await loadedStore();
    const first = (await s.put(upstream('httpbin'))).resource;
    await s.delete(keyOf(first));
    const again = await s.put(upstream('httpbin'));
    assert.equal(again.action, 'created');
    assert.equal(again.resource.metadata.generation, 1);
    assert.notEqual(again.resource.metadata.uid, first.metadata.uid);
  });
});

describe('FileStore.recordAccepted', () => {
  test('writes accepted/<Kind>/<namespace>/<name>.yaml and acceptedForms() returns it after a reload', async () => {
    const dir = freshDir();
    const s1 = new FileStore(dir);
    await s1.load();
    const r = (await s1.put(upstream('httpbin'))).resource;
    await s1.recordAccepted([r]);
    assert.deepEqual(s1.acceptedForms().get(keyString(keyOf(r))), r);
    const file = join(dir, 'accepted', 'Upstream', 'gloo-system', 'httpbin.yaml');
    assert.deepEqual(parseYaml(await readFile(file, 'utf8')), r);

    const s2 = new FileStore(dir);
    await s2.load();
    assert.deepEqual(s2.loadIssues, []);
    assert.deepEqual(s2.acceptedForms().get(keyString(keyOf(r))), r);
  });

  test('the accepted form stays the old one after the resource changes, until the new one is accepted', async () => {
    const dir = freshDir();
    const s1 = new FileStore(dir);
    await s1.load();
    const v1 = (await s1.put(upstream('httpbin'))).resource;
    await s1.recordAccepted([v1]);
    const v2 = (await s1.put(upstream('httpbin', 9000))).resource;

    const s2 = new FileStore(dir);
    await s2.load();
    assert.deepEqual(s2.acceptedForms().get(keyString(keyOf(v1))), v1);
    assert.deepEqual(s2.get(keyOf(v2)), v2);

    await s2.recordAccepted([v2]);
    assert.deepEqual(s2.acceptedForms().get(keyString(keyOf(v2))), v2);
  });

  test('a stale copy of a resource is not recorded as accepted', async () => {
    const s = await loadedStore();
    const v1 = (await s.put(upstream('httpbin'))).resource;
    await s.put(upstream('httpbin', 9000));
    await s.recordAccepted([v1]);
    assert.equal(s.acceptedForms().size, 0);
    await assert.rejects(stat(join(s.dir, 'accepted', 'Upstream', 'gloo-system', 'httpbin.yaml')), { code: 'ENOENT' });
  });
});

describe('FileStore.onChange', () => {
  test('listeners are called after each put that changes something and after each delete', async () => {
    const s = await loadedStore();
    const seen: string[] = [];
    // A listener runs after the change is committed: it sees the new state.
    s.onChange(() => seen.push(s.list().map((r) => `${r.metadata.name}@${r.metadata.resourceVersion}`).join(',')));
    const c = (await s.put(upstream('httpbin'))).resource;
    assert.deepEqual(seen, [`httpbin@${c.metadata.resourceVersion}`]);
    const u = (await s.put(upstream('httpbin', 9000))).resource;
    assert.deepEqual(seen, [`httpbin@${c.metadata.resourceVersion}`, `httpbin@${u.metadata.resourceVersion}`]);
    await s.put(upstream('httpbin', 9000));
    assert.equal(seen.length, 2, 'an unchanged put does not notify');
    await s.delete(keyOf(u));
    assert.deepEqual(seen.at(-1), '');
    assert.equal(seen.length, 3);
    await s.delete(keyOf(u));
    assert.equal(seen.length, 3, 'deleting nothing does not notify');
  });

  test('every listener is called, and one that unsubscribes is not called again', async () => {
    const s = await loadedStore();
    let a = 0;
    let b = 0;
    const offA = s.onChange(() => a++);
    s.onChange(() => b++);
    await s.put(upstream('one'));
    assert.deepEqual([a, b], [1, 1]);
    offA();
    await s.put(upstream('two'));
    assert.deepEqual([a, b], [1, 2]);
  });
});

describe('atomicWrite', () => {
  test('writing twice leaves only the final content, with the mode passed, and no temp files', async () => {
    const dir = join(freshDir(), 'nested', 'deeper');
    const file = join(dir, 'secret.pem');
    await atomicWrite(file, 'first content that is longer than the second\n', 0o600);
    await atomicWrite(file, 'second\n', 0o600);
    assert.equal(await readFile(file, 'utf8'), 'second\n');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['secret.pem']);
  });

  test('a rewrite takes the new mode, not the old file’s', async () => {
    const dir = freshDir();
    const file = join(dir, 'f.yaml');
    await atomicWrite(file, 'a', 0o644);
    await atomicWrite(file, 'b', 0o600);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal(await readFile(file, 'utf8'), 'b');
  });

  test('writes bytes as given', async () => {
    const dir = freshDir();
    const file = join(dir, 'bin');
    const bytes = new Uint8Array([0, 1, 2, 254, 255]);
    await atomicWrite(file, bytes);
    assert.deepEqual(new Uint8Array(await readFile(file)), bytes);
  });

  test('a resourceVersion is never issued twice, even after the newest resource is deleted and the store restarts', async () => {
    const s = await loadedStore();
    await s.put(upstream('a'));
    const b = (await s.put(upstream('b'))).resource;
    await s.delete(keyOf(upstream('b')));
    const again = new FileStore(s.dir);
    await again.load();
    const c = (await again.put(upstream('c'))).resource;
    assert.ok(Number(c.metadata.resourceVersion) > Number(b.metadata.resourceVersion));
  });

  test('a file that sits at the wrong path is reported and not loaded', async () => {
    const s = await loadedStore();
    await s.put(upstream('a'));
    const wrong = join(s.dir, 'resources', 'Upstream', 'gloo-system', 'elsewhere.yaml');
    await writeFile(wrong, await readFile(join(s.dir, 'resources', 'Upstream', 'gloo-system', 'a.yaml'), 'utf8'));
    const again = new FileStore(s.dir);
    await again.load();
    assert.equal(again.loadIssues.length, 1);
    assert.equal(again.loadIssues[0]!.file, wrong);
    assert.match(again.loadIssues[0]!.message, /holds Upstream\/gloo-system\/a, which belongs in/);
    assert.equal(again.list().length, 1);
  });
});

describe('FileStore with Secrets', () => {
  function secret(data: Record<string, string>, type = 'kubernetes.io/tls'): Resource {
    return { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tls', namespace: 'default' }, type, data } as unknown as Resource;
  }

  test('a Secret file and its accepted form are readable by the owner only (0600); other kinds keep 0644', async () => {
    const s = await loadedStore();
    const { resource } = await s.put(secret({ 'tls.crt': 'YQ==', 'tls.key': 'Yg==' }));
    await s.recordAccepted([resource]);
    const file = join(s.dir, 'resources', 'Secret', 'default', 'tls.yaml');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(s.dir, 'accepted', 'Secret', 'default', 'tls.yaml'))).mode & 0o777, 0o600);
    await s.put(upstream('u'));
    assert.equal((await stat(join(s.dir, 'resources', 'Upstream', 'gloo-system', 'u.yaml'))).mode & 0o777, 0o644);
    // A Secret has no spec: data and type are stored at the top level, as Kubernetes keeps them.
    const stored = parseYaml(await readFile(file, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(stored.data, { 'tls.crt': 'YQ==', 'tls.key': 'Yg==' });
    assert.equal(stored.spec, undefined);
  });

  test('a change to data or type is configured; the same data is unchanged', async () => {
    const s = await loadedStore();
    assert.equal((await s.put(secret({ a: 'YQ==' }))).action, 'created');
    assert.equal((await s.put(secret({ a: 'YQ==' }))).action, 'unchanged');
    assert.equal((await s.put(secret({ a: 'Yg==' }))).action, 'configured');
    assert.equal((await s.put(secret({ a: 'Yg==' }, 'Opaque'))).action, 'configured');
  });

  test('a Secret is loaded back after a restart', async () => {
    const s = await loadedStore();
    await s.put(secret({ a: 'YQ==' }));
    const again = new FileStore(s.dir);
    await again.load();
    assert.deepEqual(again.loadIssues, []);
    assert.deepEqual((again.get({ kind: 'Secret', namespace: 'default', name: 'tls' }) as unknown as { data: unknown }).data, { a: 'YQ==' });
  });
});

describe('FileStore at scale', () => {
  test('list() keeps the order of first writes through replaces, creates and deletes', async () => {
    const s = await loadedStore();
    for (const n of ['a', 'b', 'c']) await s.put(upstream(n));
    const names = () => s.list().map((r) => `${r.metadata.name}:${r.metadata.resourceVersion}`);
    const before = names();
    const b2 = (await s.put(upstream('b', 9000))).resource;
    assert.deepEqual(names(), [before[0], `b:${b2.metadata.resourceVersion}`, before[2]]);
    await s.delete(keyOf(upstream('a')));
    const d = (await s.put(upstream('d'))).resource;
    assert.deepEqual(names(), [`b:${b2.metadata.resourceVersion}`, before[2], `d:${d.metadata.resourceVersion}`]);
    // The caller's array is its own.
    s.list().pop();
    assert.equal(s.list().length, 3);
  });

  test('recordAccepted writes many accepted forms at once, each a whole file, and reloads them', async () => {
    const dir = freshDir();
    const s1 = new FileStore(dir);
    await s1.load();
    const stored: Resource[] = [];
    for (let i = 0; i < 50; i++) stored.push((await s1.put(upstream(`u${i}`, 8000 + i, i % 2 ? 'team-a' : 'team-b'))).resource);
    await s1.recordAccepted(stored);
    // Again: nothing to write, and nothing changes.
    await s1.recordAccepted(stored);
    assert.equal(s1.acceptedForms().size, 50);
    const s2 = new FileStore(dir);
    await s2.load();
    assert.deepEqual(s2.loadIssues, []);
    for (const r of stored) assert.deepEqual(s2.acceptedForms().get(keyString(keyOf(r))), r);
    assert.ok((await files(dir)).every((f) => !f.endsWith('.tmp')));
  });

  test('on load, an accepted form identical to its resource is the same object; a different one is its own', async () => {
    const dir = freshDir();
    const s1 = new FileStore(dir);
    await s1.load();
    const same = (await s1.put(upstream('same'))).resource;
    const old = (await s1.put(upstream('changed'))).resource;
    await s1.recordAccepted([same, old]);
    const changed = (await s1.put(upstream('changed', 9000))).resource;
    const s2 = new FileStore(dir);
    await s2.load();
    assert.equal(s2.acceptedForms().get(keyString(keyOf(same))), s2.get(keyOf(same)));
    assert.deepEqual(s2.acceptedForms().get(keyString(keyOf(old))), old);
    assert.deepEqual(s2.get(keyOf(changed)), changed);
    assert.notEqual(s2.acceptedForms().get(keyString(keyOf(old))), s2.get(keyOf(changed)));
  });
});

describe('FileStore resourceVersion counter', () => {
  test('after the first write, a put writes the resource file only (it carries its version)', async () => {
    const dir = freshDir();
    const s = new FileStore(dir);
    await s.load();
    await s.put(upstream('a'));
    const counter = join(dir, 'resource-version');
    const before = await readFile(counter, 'utf8');
    const b = (await s.put(upstream('b'))).resource;
    assert.equal(await readFile(counter, 'utf8'), before);
    const s2 = new FileStore(dir);
    await s2.load();
    const c = (await s2.put(upstream('c'))).resource;
    assert.ok(Number(c.metadata.resourceVersion) > Number(b.metadata.resourceVersion));
  });
});

describe('FileStore.all and ofKind', () => {
  test('all() is one frozen array until the next change, in the order of list()', async () => {
    const s = await loadedStore();
    await s.put(upstream('a'));
    await s.put(workloadEntry('w'));
    const first = s.all();
    assert.ok(Object.isFrozen(first));
    assert.equal(s.all(), first);
    assert.deepEqual(first, s.list());
    await s.put(upstream('a', 9000));
    assert.notEqual(s.all(), first);
    assert.deepEqual(s.all(), s.list());
    // The array handed out earlier still holds what was stored then.
    assert.notEqual(first[0]!.metadata.resourceVersion, s.all()[0]!.metadata.resourceVersion);
  });

  test('ofKind lists one kind, in one namespace or in all', async () => {
    const s = await loadedStore();
    await s.put(upstream('a'));
    await s.put(upstream('b', 8000, 'team-a'));
    await s.put(workloadEntry('w'));
    await s.put(upstream('c'));
    assert.deepEqual(s.ofKind('Upstream', 'gloo-system').map((r) => r.metadata.name), ['a', 'c']);
    assert.deepEqual(s.ofKind('Upstream').map((r) => r.metadata.name).sort(), ['a', 'b', 'c']);
    await s.delete(keyOf(upstream('a')));
    assert.deepEqual(s.ofKind('Upstream', 'gloo-system').map((r) => r.metadata.name), ['c']);
    assert.deepEqual(s.ofKind('Service'), []);
    const s2 = new FileStore(s.dir);
    await s2.load();
    assert.deepEqual(s2.ofKind('WorkloadEntry').map((r) => r.metadata.name), ['w']);
  });

  test('recordAccepted with an all() array, current or older, records exactly what it records with a copy', async () => {
    const dir = freshDir();
    const s = new FileStore(dir);
    await s.load();
    await s.put(upstream('a'));
    await s.put(upstream('b'));
    const older = s.all();
    await s.put(upstream('b', 9000));
    // Older: a is stored (recorded now), b's object is stale (not recorded).
    await s.recordAccepted(older);
    assert.deepEqual([...s.acceptedForms().keys()], [keyString(keyOf(upstream('a')))]);
    await s.recordAccepted(s.all());
    assert.deepEqual(s.acceptedForms().get(keyString(keyOf(upstream('b')))), s.get(keyOf(upstream('b'))));
    const s2 = new FileStore(dir);
    await s2.load();
    assert.equal(s2.acceptedForms().size, 2);
    // After a reload, every resource is its own accepted form: nothing to write.
    await s2.recordAccepted(s2.all());
    assert.equal(s2.acceptedForms().get(keyString(keyOf(upstream('a')))), s2.get(keyOf(upstream('a'))));
  });
});
