/** ResourceKey and helpers to index a set of resources by kind, namespace and name. */
import type { Resource } from '../api/meta.js';

/** ResourceKey identifies one resource. */
export interface ResourceKey {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

/** keyString renders a key as `Kind/namespace/name`, the form used in maps and logs. */
export function keyString(k: ResourceKey): string {
  return `${k.kind}/${k.namespace}/${k.name}`;
}

/** keyOf is the key of a resource. */
export function keyOf(r: Resource): ResourceKey {
  return { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
}

/** refString renders a resource as `namespace.name`, as Gloo's messages do. */
export function refString(r: { metadata: { namespace: string; name: string } }): string {
  return `${r.metadata.namespace}.${r.metadata.name}`;
}

/** byKind returns the resources of one kind, sorted by namespace then name for stable output. */
export function byKind<S = unknown>(set: readonly Resource[], kind: string): Resource<S>[] {
  return (set.filter((r) => r.kind === kind) as Resource<S>[]).sort(compareResources);
}

/** compareResources orders by namespace, then name. */
export function compareResources(a: Resource, b: Resource): number {
  return a.metadata.namespace.localeCompare(b.metadata.namespace) || a.metadata.name.localeCompare(b.metadata.name);
}
