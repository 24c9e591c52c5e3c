/**
 * FileStore is the one-machine config source: the control plane's data directory holds one YAML
 * file per resource under `resources/<Kind>/<namespace>/<name>.yaml`, and the last form of each
 * resource the translator accepted under `accepted/…`, so a resource that turns bad keeps serving
 * after a restart too (Gloo loses it: kgw#8412). Every write is atomic; writes are serialized.
 */
import { readdir, readFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { parseResource, formatIssues } from '../../api/parse.js';
import type { Resource } from '../../api/meta.js';
import { keyOf, keyString, type ResourceKey } from '../resource-set.js';
import { atomicWrite, atomicWriteMany, syncDir } from './atomic-write.js';
import { ConflictError } from '../errors.js';
import { isSecret } from '../../api/core/secret.js';

/** PutResult says what a write did, in kubectl's words. */
export type PutAction = 'created' | 'configured' | 'unchanged';

/** StoreChangeListener hears about every change to the stored resources. */
export type StoreChangeListener = () => void;

/** LoadIssue is a file in the data directory that could not be read as a resource. */
export interface LoadIssue {
  readonly file: string;
  readonly message: string;
}

/**
 * RV_FILE keeps resourceVersions from being issued twice: load takes the largest of it and of
 * every stored version, so it is written when that largest could go missing (a delete removes
 * files) and once when the directory is new, not on every write (the written file carries its
 * version: one durable write per apply instead of two).
 */
const RV_FILE = 'resource-version';

export class FileStore {
  readonly #dir: string;
  readonly #resources = new Map<string, Resource>();
  readonly #accepted = new Map<string, Resource>();
  /**
   * #unrecorded holds the stored objects that are not their own accepted form: the only ones
   * recordAccepted may have to write (a pass hands it every resource, thousands of them).
   */
  readonly #unrecorded = new Set<Resource>();
  /** #all is all(), built on first use after a change; #handedOut, every array all() returned. */
  #all: readonly Resource[] | undefined;
  readonly #handedOut = new WeakSet<readonly Resource[]>();
  /** #byKind indexes the resources by kind, then namespace, then name, in the order of #resources. */
  readonly #byKind = new Map<string, Map<string, Map<string, Resource>>>();
  readonly #listeners = new Set<StoreChangeListener>();
  #rv = 0;
  /** #rvFile: RV_FILE exists. */
  #rvFile = false;
  #queue: Promise<unknown> = Promise.resolve();
  #loadIssues: LoadIssue[] = [];

  constructor(dir: string) {
    this.#dir = dir;
  }

  get dir(): string {
    return this.#dir;
  }

  /** loadIssues lists files that could not be read at the last load; they are left on disk, unserved. */
  get loadIssues(): readonly LoadIssue[] {
    return this.#loadIssues;
  }

  /** load reads the data directory; it returns true when the directory was new. */
  async load(): Promise<boolean> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const fresh = !(await exists(join(this.#dir, 'resources')));
    await mkdir(join(this.#dir, 'resources'), { recursive: true });
    this.#loadIssues = [];
    const rvText = await readFile(join(this.#dir, RV_FILE), 'utf8').catch(() => undefined);
    this.#rvFile = rvText !== undefined;
    this.#rv = Number((rvText ?? '0').trim()) || 0;
    this.#unrecorded.clear();
    this.#byKind.clear();
    /** texts of the resources' files, so an accepted form written from the same resource is not parsed twice. */
    const texts = new Map<string, Resource>();
    for (const [store, sub] of [[this.#resources, 'resources'], [this.#accepted, 'accepted']] as const) {
      store.clear();
      const files = await listYaml(join(this.#dir, sub));
      const contents = await readAll(files);
      for (const [i, file] of files.entries()) {
        try {
          const text = contents[i]!;
          if (text instanceof Error) throw text;
          // An accepted form that is the stored resource, byte for byte, is the same object: one
          // copy in memory, and translation caches see one resource.
          const same = sub === 'accepted' ? texts.get(text) : undefined;
          if (same && file === this.#path(sub, keyOf(same))) {
            store.set(keyString(keyOf(same)), same);
            continue;
          }
          const r = parseResource(parseYaml(text));
          if (!r.ok) throw new Error(formatIssues(r).join('; '));
          // A file must sit where its kind, namespace and name say, or delete would miss it.
          if (file !== this.#path(sub, keyOf(r.resource))) throw new Error(`holds ${keyString(keyOf(r.resource))}, which belongs in ${this.#path(sub, keyOf(r.resource))}`);
          store.set(keyString(keyOf(r.resource)), r.resource);
          if (sub === 'resources') texts.set(text, r.resource);
          this.#rv = Math.max(this.#rv, Number(r.resource.metadata.resourceVersion ?? 0) || 0);
        } catch (err) {
          this.#loadIssues.push({ file, message: (err as Error).message });
        }
      }
    }
    for (const [k, r] of this.#resources) {
      this.#index(r);
      if (this.#accepted.get(k) !== r) this.#unrecorded.add(r);
    }
    this.#all = undefined;
    return fresh;
  }

  /** list returns every stored resource. */
  list(): Resource[] {
    return [...this.all()];
  }

  /**
   * all is list() as one frozen array, the same until the next change: a control plane with
   * thousands of resources reads them on every pass, and a translation cache can tell what
   * changed by comparing two of them (frozen: neither side can change it under the other).
   */
  all(): readonly Resource[] {
    if (!this.#all) {
      this.#all = Object.freeze([...this.#resources.values()]);
      this.#handedOut.add(this.#all);
    }
    return this.#all;
  }

  /**
   * ofKind lists the resources of one kind in one namespace, in the order of list(); or, without
   * a namespace, of every namespace, namespace by namespace.
   */
  ofKind(kind: string, namespace?: string): Resource[] {
    const byNs = this.#byKind.get(kind);
    if (!byNs) return [];
    if (namespace !== undefined) return [...(byNs.get(namespace)?.values() ?? [])];
    return [...byNs.values()].flatMap((m) => [...m.values()]);
  }

  /** get returns one resource. */
  get(key: ResourceKey): Resource | undefined {
    return this.#resources.get(keyString(key));
  }

  /** acceptedForms returns the last accepted form of every resource that had one. */
  acceptedForms(): ReadonlyMap<string, Resource> {
    return this.#accepted;
  }

  /** onChange registers a listener called after each committed change. */
  onChange(l: StoreChangeListener): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  /**
   * put creates or replaces a resource. A resource that names a resourceVersion other than the
   * stored one is refused (optimistic concurrency, as the Kubernetes API does).
   */
  put(resource: Resource): Promise<{ action: PutAction; resource: Resource }> {
    return this.#serialized(async () => {
      const key = keyOf(resource);
      const ks = keyString(key);
      const current = this.#resources.get(ks);
      const wanted = resource.metadata.resourceVersion;
      if (wanted !== undefined && wanted !== (current?.metadata.resourceVersion ?? '')) {
        throw new ConflictError(key, wanted, current?.metadata.resourceVersion);
      }
      if (current && sameContent(current, resource)) return { action: 'unchanged' as const, resource: current };
      const next: Resource = structuredClone(resource);
      next.metadata = {
        ...next.metadata,
        uid: current?.metadata.uid ?? randomUUID(),
        creationTimestamp: current?.metadata.creationTimestamp ?? new Date().toISOString(),
        generation: (current?.metadata.generation ?? 0) + 1,
        resourceVersion: String(++this.#rv),
      };
      delete next.status;
      // The file carries the version: after a restart, load starts above it (see RV_FILE).
      await Promise.all([
        this.#rvFile ? undefined : atomicWrite(join(this.#dir, RV_FILE), String(this.#rv)).then(() => void (this.#rvFile = true)),
        atomicWrite(this.#path('resources', key), toYaml(next), modeOf(next)),
      ]);
      this.#resources.set(ks, next);
      this.#index(next);
      if (current) this.#unrecorded.delete(current);
      this.#unrecorded.add(next);
      this.#all = undefined;
      this.#notify();
      return { action: current ? ('configured' as const) : ('created' as const), resource: next };
    });
  }

  /** delete removes a resource and its accepted form; it returns false when there was none. */
  delete(key: ResourceKey): Promise<boolean> {
    return this.#serialized(async () => {
      const ks = keyString(key);
      if (!this.#resources.has(ks)) return false;
      // The counter first: the deleted file may hold the largest version issued.
      await atomicWrite(join(this.#dir, RV_FILE), String(this.#rv));
      this.#rvFile = true;
      await rm(this.#path('resources', key), { force: true });
      await rm(this.#path('accepted', key), { force: true });
      await syncDir(join(this.#dir, 'resources', key.kind, key.namespace)).catch(() => undefined);
      const current = this.#resources.get(ks)!;
      this.#resources.delete(ks);
      this.#accepted.delete(ks);
      this.#byKind.get(key.kind)?.get(key.namespace)?.delete(key.name);
      this.#unrecorded.delete(current);
      this.#all = undefined;
      this.#notify();
      return true;
    });
  }

  /** recordAccepted remembers the form of a resource the translator accepted. */
  recordAccepted(resources: readonly Resource[]): Promise<void> {
    return this.#serialized(async () => {
      const fresh: Resource[] = [];
      // Thousands of resources are passed on every pass. When they come from all(), every one is
      // a stored object or a stale one, and the store knows the few that may need writing: the
      // others are their own accepted form already (or stale). Any other list is checked whole.
      const candidates = !this.#handedOut.has(resources)
        ? resources
        : this.#unrecorded.size > 16
          ? resources.filter((r) => this.#unrecorded.has(r))
          : [...this.#unrecorded].filter((r) => resources.includes(r)).sort((a, b) => resources.indexOf(a) - resources.indexOf(b));
      for (const r of candidates) {
        const ks = keyString(keyOf(r));
        const prev = this.#accepted.get(ks);
        if (prev && prev.metadata.resourceVersion === r.metadata.resourceVersion) continue;
        // Only the stored form can become the accepted form; a stale copy is ignored.
        if (this.#resources.get(ks)?.metadata.resourceVersion !== r.metadata.resourceVersion) continue;
        fresh.push(r);
      }
      // Each file is replaced atomically; many at once share their directory syncs.
      await atomicWriteMany(fresh.map((r) => ({ path: this.#path('accepted', keyOf(r)), data: toYaml(r), mode: modeOf(r) })));
      for (const r of fresh) {
        this.#accepted.set(keyString(keyOf(r)), r);
        this.#unrecorded.delete(r);
      }
    });
  }

  #index(r: Resource): void {
    let byNs = this.#byKind.get(r.kind);
    if (!byNs) this.#byKind.set(r.kind, (byNs = new Map()));
    let byName = byNs.get(r.metadata.namespace);
    if (!byName) byNs.set(r.metadata.namespace, (byName = new Map()));
    byName.set(r.metadata.name, r);
  }

  #path(area: 'resources' | 'accepted', k: ResourceKey): string {
    return join(this.#dir, area, k.kind, k.namespace, `${k.name}.yaml`);
  }

  #notify(): void {
    for (const l of this.#listeners) l();
  }

  // Writes run one at a time so that resourceVersions and files never interleave.
  #serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

/** sameContent compares what a user controls: labels, annotations and spec (a Secret's type and data). */
function sameContent(a: Resource, b: Resource): boolean {
  const content = (r: Resource) => (isSecret(r) ? [r.type, r.data ?? {}] : r.spec);
  return (
    JSON.stringify([a.apiVersion, a.metadata.labels ?? {}, a.metadata.annotations ?? {}, content(a)]) ===
    JSON.stringify([b.apiVersion, b.metadata.labels ?? {}, b.metadata.annotations ?? {}, content(b)])
  );
}

/** modeOf is a file's mode: Secrets (resources and accepted forms alike) are readable by the owner only. */
function modeOf(r: Resource): number | undefined {
  return isSecret(r) ? 0o600 : undefined;
}

async function exists(p: string): Promise<boolean> {
  try {
    await readdir(p);
    return true;
  } catch {
    return false;
  }
}

/** READ_CONCURRENCY bounds the files load reads at once. */
const READ_CONCURRENCY = 64;

/** readAll reads files a few dozen at a time; a file that cannot be read gives its Error. */
async function readAll(files: readonly string[]): Promise<(string | Error)[]> {
  const out: (string | Error)[] = new Array<string | Error>(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      out[i] = await readFile(files[i]!, 'utf8').catch((err: unknown) => err as Error);
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, files.length) }, worker));
  return out;
}

async function listYaml(dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.isFile() && e.name.endsWith('.yaml') && !e.name.startsWith('.')) out.push(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
  }
  return out.sort();
}


