/** `apply`, `get` and `delete`: resources through the control plane, in kubectl's words. */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, extname } from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { ControlPlaneClient } from '../../control-plane/client.js';
import { CliError } from '../errors.js';
import { parseDocuments, type ApplyResult } from '../../control-plane/api-server.js';
import { kindInfo, resolveKindName, KINDS, type KindInfo } from '../../api/kinds.js';
import type { Resource } from '../../api/meta.js';
import { printTable } from '../printers/resources.js';

/** readManifests reads `-f` input: a file, a directory (its .yaml/.yml/.json files, sorted) or `-` (stdin). */
export async function readManifests(path: string): Promise<{ source: string; text: string }[]> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
    return [{ source: 'stdin', text: Buffer.concat(chunks).toString('utf8') }];
  }
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new CliError(`the path "${path}" does not exist`);
  }
  if (!st.isDirectory()) return [{ source: path, text: await readFile(path, 'utf8') }];
  const files = (await readdir(path)).filter((f) => ['.yaml', '.yml', '.json'].includes(extname(f))).sort();
  if (files.length === 0) throw new CliError(`no .yaml, .yml or .json files in directory "${path}"`);
  return Promise.all(files.map(async (f) => ({ source: join(path, f), text: await readFile(join(path, f), 'utf8') })));
}

/** loadResources parses every manifest locally first, so errors name the file as well. */
export async function loadResources(path: string, namespace?: string): Promise<Resource[]> {
  const out: Resource[] = [];
  const problems: string[] = [];
  for (const m of await readManifests(path)) {
    try {
      out.push(...parseDocuments(m.text, namespace, m.source));
    } catch (err) {
      problems.push(...((err as { details?: string[] }).details ?? [(err as Error).message]));
    }
  }
  if (problems.length) throw new CliError('invalid resources; nothing was applied', problems);
  if (out.length === 0) throw new CliError(`no objects passed to apply (${path})`);
  return out;
}

/** kubectlName renders `virtualservice.gateway.solo.io/httpbin`, or `service/httpbin` for core kinds. */
export function kubectlName(kind: string, name: string): string {
  const info = kindInfo(kind);
  const group = info?.apiVersions[0]?.includes('/') ? `.${info.apiVersions[0].split('/')[0]}` : '';
  return `${kind.toLowerCase()}${group}/${name}`;
}

export async function apply(client: ControlPlaneClient, file: string, namespace?: string): Promise<string[]> {
  const resources = await loadResources(file, namespace);
  const body = resources.map((r) => JSON.stringify(r)).join('\n---\n');
  const { results } = await client.call<{ results: ApplyResult[] }>('POST', `/v1/apply`, body);
  return results.map((r) => `${kubectlName(r.kind, r.name)} ${r.action}`);
}

export function requireKind(name: string): KindInfo {
  const info = resolveKindName(name);
  if (!info) {
    throw new CliError(`the server doesn't have a resource type "${name}" (known: ${KINDS.map((k) => `${k.plural} (${[k.singular, ...k.shortNames].join(', ')})`).join('; ')})`);
  }
  return info;
}

export interface GetOptions {
  readonly namespace?: string;
  readonly allNamespaces?: boolean;
  readonly output?: string;
}

export async function get(client: ControlPlaneClient, kindName: string, name: string | undefined, o: GetOptions): Promise<string> {
  const info = requireKind(kindName);
  const ns = o.namespace ?? info.defaultNamespace;
  const output = o.output ?? 'table';
  if (!['table', 'yaml', 'json', 'wide'].includes(output)) throw new CliError(`unknown output format "${output}" (use table, yaml or json)`);
  let items: Resource[];
  if (name) {
    items = [await client.call<Resource>('GET', `/v1/resources/${info.kind}/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`)];
  } else {
    const q = new URLSearchParams({ kind: info.kind, ...(o.allNamespaces ? {} : { namespace: ns }) });
    items = (await client.call<{ items: Resource[] }>('GET', `/v1/resources?${q}`)).items;
  }
  if (output === 'json') return JSON.stringify(name ? items[0] : { apiVersion: 'v1', kind: 'List', items }, null, 2);
  if (output === 'yaml') return name ? toYaml(items[0]).trimEnd() : items.map((i) => toYaml(i).trimEnd()).join('\n---\n');
  if (items.length === 0) return o.allNamespaces ? `No resources found.` : `No resources found in ${ns} namespace.`;
  return printTable(info.kind, items, o.allNamespaces ?? false);
}

export async function deleteByName(client: ControlPlaneClient, kindName: string, name: string, namespace?: string): Promise<string> {
  const info = requireKind(kindName);
  const ns = namespace ?? info.defaultNamespace;
  await client.call('DELETE', `/v1/resources/${info.kind}/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`);
  return `${kubectlName(info.kind, name).replace(/\/.*/, '')} "${name}" deleted`;
}

export async function deleteByFile(client: ControlPlaneClient, file: string, namespace?: string): Promise<{ lines: string[]; errors: string[] }> {
  const lines: string[] = [];
  const errors: string[] = [];
  for (const r of await loadResources(file, namespace)) {
    try {
      lines.push(await deleteByName(client, r.kind, r.metadata.name, r.metadata.namespace));
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  return { lines, errors };
}
