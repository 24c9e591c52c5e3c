/**
 * The control-plane API (port 9977, loopback by default): resources in and out, statuses,
 * snapshots and where proxies listen. It is what the CLI talks to.
 *
 *   GET    /v1/resources?kind=K[&namespace=N]   list (with status; Secret values redacted)
 *   GET    /v1/resources/K/N/NAME               one (with status; Secret values redacted)
 *   POST   /v1/apply[?namespace=N]              multi-document YAML or JSON; all or nothing
 *   DELETE /v1/resources/K/N/NAME
 *   GET    /v1/proxies/NAME                     where a proxy listens
 *   GET    /v1/snapshots/NAME                   a proxy's current snapshot
 *   GET    /v1/mtls?namespace=N&labels=k=v,...  a workload's effective PeerAuthentication
 *   GET    /v1/ca/root                          the mesh root certificate (PEM), when the CA runs here
 */
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseAllDocuments } from 'yaml';
import type { ControlPlane } from './control-plane.js';
import { parseResource, formatIssues } from '../api/parse.js';
import { kindInfo, resolveKindName } from '../api/kinds.js';
import { byKind, keyOf } from '../config/resource-set.js';
import type { Resource } from '../api/meta.js';
import { ConflictError } from '../config/errors.js';
import { redactSecret } from '../api/core/secret.js';

/** MAX_BODY_BYTES bounds an apply request (Kubernetes' API server limit is 3 MiB). */
const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** ApplyResult is one line of `meshgate apply` output. */
export interface ApplyResult {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly action: 'created' | 'configured' | 'unchanged';
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: string[],
  ) {
    super(message);
  }
}

/** startApiServer serves the API for a control plane. */
export async function startApiServer(cp: ControlPlane, host: string, port: number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    route(cp, req)
      .then((body) => send(res, 200, body))
      .catch((err: unknown) => {
        if (err instanceof HttpError) return send(res, err.status, { error: err.message, ...(err.details ? { details: err.details } : {}) });
        if (err instanceof ConflictError) return send(res, 409, { error: err.message });
        send(res, 500, { error: (err as Error).message });
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr ? addr.port : port };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function route(cp: ControlPlane, req: IncomingMessage): Promise<unknown> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const method = req.method ?? 'GET';
  if (parts[0] === 'healthz') return { ok: true };
  if (parts[0] !== 'v1') throw new HttpError(404, `no such path ${url.pathname}`);
  switch (`${method} ${parts[1]}`) {
    case 'GET resources':
      return parts.length === 5 ? getOne(cp, parts[2]!, parts[3]!, parts[4]!) : list(cp, url.searchParams.get('kind'), url.searchParams.get('namespace'));
    case 'DELETE resources': {
      if (parts.length !== 5) throw new HttpError(400, 'DELETE needs /v1/resources/KIND/NAMESPACE/NAME');
      const info = requireKind(parts[2]!);
      const deleted = await cp.store.delete({ kind: info.kind, namespace: parts[3]!, name: parts[4]! });
      if (!deleted) throw new HttpError(404, `${info.singular} "${parts[4]}" not found in namespace ${parts[3]}`);
      await cp.settled();
      return { kind: info.kind, namespace: parts[3], name: parts[4], action: 'deleted' };
    }
    case 'POST apply':
      return apply(cp, await readBody(req), url.searchParams.get('namespace') ?? undefined);
    case 'GET proxies': {
      const info = cp.proxyInfo(parts[2] ?? '');
      if (!info) throw new HttpError(404, `no running proxy named ${JSON.stringify(parts[2] ?? '')}`);
      return info;
    }
    case 'GET mtls': {
      const namespace = url.searchParams.get('namespace');
      if (!namespace) throw new HttpError(400, 'namespace is required');
      return cp.effectiveMtls(namespace, parseLabels(url.searchParams.get('labels') ?? ''));
    }
    case 'GET ca': {
      if (parts[2] !== 'root' || !cp.caRootPem) throw new HttpError(404, 'no CA runs with this control plane');
      return { rootPem: cp.caRootPem };
    }
    case 'GET snapshots': {
      const s = cp.snapshot(parts[2] ?? '');
      if (!s) throw new HttpError(404, `no snapshot for proxy ${JSON.stringify(parts[2] ?? '')}`);
      return s;
    }
    default:
      throw new HttpError(404, `no such path ${method} ${url.pathname}`);
  }
}

/** parseLabels reads `k=v,k2=v2`. */
function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(',').filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new HttpError(400, `labels must be k=v pairs separated by commas, got ${JSON.stringify(pair)}`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

function requireKind(name: string) {
  const info = kindInfo(name) ?? resolveKindName(name);
  if (!info) throw new HttpError(400, `the server doesn't have a resource type "${name}"`);
  return info;
}

function list(cp: ControlPlane, kind: string | null, namespace: string | null): { items: Resource[] } {
  const all = cp.store.list();
  const items = kind ? byKind(all, requireKind(kind).kind) : all;
  return { items: items.filter((r) => !namespace || r.metadata.namespace === namespace).map((r) => shown(cp, r)) };
}

function getOne(cp: ControlPlane, kind: string, namespace: string, name: string): Resource {
  const info = requireKind(kind);
  const r = cp.store.get({ kind: info.kind, namespace, name });
  if (!r) throw new HttpError(404, `${info.singular} "${name}" not found in namespace ${namespace}`);
  return shown(cp, r);
}

/**
 * shown is a resource as the API serves it: with its status, and for a Secret with every value
 * replaced by a `[redacted: N bytes]` marker. Key material goes in through apply and never out.
 */
function shown(cp: ControlPlane, r: Resource): Resource {
  return redactSecret(cp.withStatus(r));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * parseDocuments reads multi-document YAML (JSON is YAML) into resources, or throws an error
 * listing every problem, each naming the document, the resource and the field.
 */
export function parseDocuments(text: string, namespace?: string, source?: string): Resource[] {
  const problems: string[] = [];
  const resources: Resource[] = [];
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const where = source ? `${source} (document ${i + 1})` : `document ${i + 1}`;
    if (doc.errors.length) {
      problems.push(`${where}: invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
      return;
    }
    const value = doc.toJS();
    if (value === null || value === undefined) return; // An empty document (e.g. a trailing ---).
    // A Kubernetes List holds its resources in items.
    const items = value && typeof value === 'object' && (value as { kind?: unknown }).kind === 'List' ? ((value as { items?: unknown[] }).items ?? []) : [value];
    for (const item of items) {
      const r = parseResource(item, namespace);
      if (r.ok) resources.push(r.resource);
      else problems.push(...formatIssues(r, where));
    }
  });
  if (problems.length) throw new HttpError(400, 'invalid resources; nothing was applied', problems);
  return resources;
}

async function apply(cp: ControlPlane, text: string, namespace?: string): Promise<{ results: ApplyResult[] }> {
  // All or nothing for schema errors: a file with one bad resource changes nothing.
  const resources = parseDocuments(text, namespace);
  // Stale writes are refused before anything is written, so a conflict also changes nothing.
  for (const r of resources) {
    const wanted = r.metadata.resourceVersion;
    const current = cp.store.get(keyOf(r))?.metadata.resourceVersion;
    if (wanted !== undefined && wanted !== current) throw new ConflictError(keyOf(r), wanted, current);
  }
  const results: ApplyResult[] = [];
  for (const r of resources) {
    const { action } = await cp.store.put(r);
    const k = keyOf(r);
    results.push({ kind: k.kind, namespace: k.namespace, name: k.name, action });
  }
  await cp.settled();
  return { results };
}
