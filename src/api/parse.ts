/**
 * parse turns untrusted documents into typed resources, or into issues that name the resource
 * and the field path. Validators are compiled once per kind.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { KINDS, kindInfo, type KindInfo } from './kinds.js';
import type { Resource } from './meta.js';
import { normalizeSecret } from './core/secret.js';

/** SchemaIssue is one problem with one field of one document. */
export interface SchemaIssue {
  /** path is the field path, e.g. `spec.virtualHost.routes[0].matchers[0].prefix`. */
  readonly path: string;
  readonly message: string;
}

/** ParseResult is a resource, or the issues that kept it from being one. */
export type ParseResult =
  | { readonly ok: true; readonly resource: Resource }
  | { readonly ok: false; readonly kind?: string; readonly name?: string; readonly namespace?: string; readonly issues: readonly SchemaIssue[] };

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });

// exactlyOneOf and atMostOneOf express protobuf `oneof`s with a message that names the keys,
// which JSON Schema's own oneOf cannot do readably.
function oneOfKeyword(keyword: 'exactlyOneOf' | 'atMostOneOf') {
  ajv.addKeyword({
    keyword,
    type: 'object',
    schemaType: 'array',
    errors: true,
    validate: function check(this: unknown, keys: string[], data: Record<string, unknown>) {
      const set = keys.filter((k) => data[k] !== undefined);
      const fn = check as unknown as { errors: Partial<ErrorObject>[] };
      if (set.length > 1) {
        fn.errors = [{ keyword, message: `only one of ${keys.join(', ')} may be set, found ${set.join(' and ')}`, params: {} }];
        return false;
      }
      if (keyword === 'exactlyOneOf' && set.length === 0) {
        fn.errors = [{ keyword, message: `one of ${keys.join(', ')} must be set`, params: {} }];
        return false;
      }
      return true;
    },
  });
}
oneOfKeyword('exactlyOneOf');
oneOfKeyword('atMostOneOf');

/**
 * validators are compiled per kind on first use: compiling all of them costs every process that
 * loads the CLI (each `meshgate get`, each proxy worker) a few hundred milliseconds it may not need.
 */
const validators = new Map<string, ValidateFunction>();

function validatorOf(info: KindInfo): ValidateFunction {
  let v = validators.get(info.kind);
  if (!v) {
    v = ajv.compile(info.schema);
    validators.set(info.kind, v);
  }
  return v;
}

/** toFieldPath turns `/spec/routes/0/matchers` into `spec.routes[0].matchers`. */
export function toFieldPath(instancePath: string, extra?: string): string {
  let out = '';
  for (const seg of instancePath.split('/').slice(1)) {
    const s = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^[0-9]+$/.test(s) ? `[${s}]` : out ? `.${s}` : s;
  }
  if (extra) out += out ? `.${extra}` : extra;
  return out || '(document)';
}

function describe(e: ErrorObject): SchemaIssue {
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: toFieldPath(e.instancePath, String(e.params.additionalProperty)), message: 'unknown field' };
    case 'required':
      return { path: toFieldPath(e.instancePath, String(e.params.missingProperty)), message: 'required field is missing' };
    case 'const':
      return { path: toFieldPath(e.instancePath), message: `must be ${JSON.stringify(e.params.allowedValue)}` };
    case 'pattern':
      return { path: toFieldPath(e.instancePath), message: `${(e.parentSchema as { description?: string })?.description ? `must be ${(e.parentSchema as { description: string }).description}` : `must match ${e.params.pattern}`}` };
    default:
      return { path: toFieldPath(e.instancePath), message: e.message ?? 'is invalid' };
  }
}

// A union of literals reports one `const` error per branch and then an `anyOf`; fold them into one.
function fold(errors: ErrorObject[]): SchemaIssue[] {
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const out: SchemaIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    let issue: SchemaIssue;
    if (anyOfPaths.has(e.instancePath) && e.keyword !== 'anyOf') continue;
    if (e.keyword === 'anyOf') {
      const branches = errors.filter((x) => x.instancePath === e.instancePath && x.keyword === 'const').map((x) => JSON.stringify(x.params.allowedValue));
      const desc = (e.parentSchema as { description?: string })?.description;
      issue = { path: toFieldPath(e.instancePath), message: branches.length ? `must be one of ${branches.join(', ')}` : desc ? `must be ${desc}` : 'has the wrong type' };
    } else {
      issue = describe(e);
    }
    const key = `${issue.path}\u0000${issue.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(issue);
    }
  }
  return out;
}

/**
 * parseResource validates one document. The namespace defaults per kind (gloo-system for Gloo
 * kinds, default for core and Istio kinds), as `glooctl` and `kubectl` do.
 */
export function parseResource(doc: unknown, namespaceOverride?: string): ParseResult {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    return { ok: false, issues: [{ path: '(document)', message: 'must be a mapping with apiVersion, kind, metadata and spec' }] };
  }
  const d = doc as Record<string, unknown>;
  const meta = (d.metadata && typeof d.metadata === 'object' ? d.metadata : {}) as Record<string, unknown>;
  const name = typeof meta.name === 'string' ? meta.name : undefined;
  if (typeof d.kind !== 'string') return { ok: false, name, issues: [{ path: 'kind', message: 'required field is missing' }] };
  const info: KindInfo | undefined = kindInfo(d.kind);
  if (!info) {
    return { ok: false, kind: d.kind, name, issues: [{ path: 'kind', message: `unknown kind ${JSON.stringify(d.kind)}; known kinds: ${KINDS.map((k) => k.kind).join(', ')}` }] };
  }
  const namespace = namespaceOverride ?? (typeof meta.namespace === 'string' ? meta.namespace : info.defaultNamespace);
  if (typeof d.apiVersion !== 'string' || !info.apiVersions.includes(d.apiVersion)) {
    return { ok: false, kind: info.kind, name, namespace, issues: [{ path: 'apiVersion', message: `must be ${info.apiVersions.join(' or ')} for kind ${info.kind}` }] };
  }
  const validate = validatorOf(info);
  // Validation works on a copy with the namespace filled in, so defaults never leak into the input.
  // A namespace of the wrong type is kept so that it is reported rather than replaced by the default.
  const candidate = { ...d, metadata: { ...meta, namespace: namespaceOverride ?? meta.namespace ?? namespace } };
  if (!validate(candidate)) {
    return { ok: false, kind: info.kind, name, namespace, issues: fold(validate.errors ?? []) };
  }
  const resource = structuredClone(candidate) as unknown as Resource;
  delete resource.status;
  if (info.kind === 'Secret') normalizeSecret(resource as unknown as Record<string, unknown>);
  return { ok: true, resource };
}

/** formatIssues renders issues as `Kind ns/name: path: message` lines, one per issue. */
export function formatIssues(r: Extract<ParseResult, { ok: false }>, source?: string): string[] {
  const who = `${r.kind ?? 'resource'} ${r.namespace ? `${r.namespace}/` : ''}${r.name ?? '(unnamed)'}`;
  return r.issues.map((i) => `${source ? `${source}: ` : ''}${who}: ${i.path}: ${i.message}`);
}
