/**
 * The registry of resource kinds: for each, its apiVersions, CLI names and schema. The single
 * place to add a kind (after its schema file).
 */
import type { TSchema } from '@sinclair/typebox';
import { Upstream } from './gloo/upstream.js';
import { Settings } from './gloo/settings.js';
import { Gateway } from './gateway/gateway.js';
import { VirtualService } from './gateway/virtual-service.js';
import { Service } from './core/service.js';
import { Secret } from './core/secret.js';
import { WorkloadEntry } from './istio/workload-entry.js';
import { PeerAuthentication } from './security/peer-authentication.js';

/** GLOO_NAMESPACE is where Gloo installs itself and writes discovered Upstreams. */
export const GLOO_NAMESPACE = 'gloo-system';

/** KindInfo describes one resource kind. */
export interface KindInfo {
  readonly kind: string;
  /** apiVersions accepted; the first is the one meshgate writes. */
  readonly apiVersions: readonly string[];
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  /** defaultNamespace is where a resource without a namespace goes, and what `get` lists without -n. */
  readonly defaultNamespace: string;
  readonly schema: TSchema;
}

/** KINDS lists every kind meshgate understands. */
export const KINDS: readonly KindInfo[] = [
  { kind: 'Upstream', apiVersions: ['gloo.solo.io/v1'], plural: 'upstreams', singular: 'upstream', shortNames: ['us', 'gus'], defaultNamespace: GLOO_NAMESPACE, schema: Upstream },
  { kind: 'Settings', apiVersions: ['gloo.solo.io/v1'], plural: 'settings', singular: 'settings', shortNames: ['st', 'gst'], defaultNamespace: GLOO_NAMESPACE, schema: Settings },
  { kind: 'Gateway', apiVersions: ['gateway.solo.io/v1'], plural: 'gateways', singular: 'gateway', shortNames: ['gw', 'ggw'], defaultNamespace: GLOO_NAMESPACE, schema: Gateway },
  { kind: 'VirtualService', apiVersions: ['gateway.solo.io/v1'], plural: 'virtualservices', singular: 'virtualservice', shortNames: ['vs', 'gvs'], defaultNamespace: GLOO_NAMESPACE, schema: VirtualService },
  { kind: 'Service', apiVersions: ['v1'], plural: 'services', singular: 'service', shortNames: ['svc'], defaultNamespace: 'default', schema: Service },
  // kubectl has no short name for secrets. Like every core kind, a Secret without a namespace goes
  // to `default`; a VirtualService's sslConfig.secretRef without one means the VirtualService's own.
  { kind: 'Secret', apiVersions: ['v1'], plural: 'secrets', singular: 'secret', shortNames: [], defaultNamespace: 'default', schema: Secret },
  { kind: 'WorkloadEntry', apiVersions: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'], plural: 'workloadentries', singular: 'workloadentry', shortNames: ['we'], defaultNamespace: 'default', schema: WorkloadEntry },
  { kind: 'PeerAuthentication', apiVersions: ['security.istio.io/v1', 'security.istio.io/v1beta1'], plural: 'peerauthentications', singular: 'peerauthentication', shortNames: ['pa'], defaultNamespace: 'default', schema: PeerAuthentication },
];

const byKind = new Map(KINDS.map((k) => [k.kind, k]));
const byName = new Map<string, KindInfo>();
for (const k of KINDS) {
  for (const n of [k.kind.toLowerCase(), k.plural, k.singular, ...k.shortNames]) byName.set(n, k);
}

/** kindInfo finds a kind by its exact Kind name. */
export function kindInfo(kind: string): KindInfo | undefined {
  return byKind.get(kind);
}

/** resolveKindName finds a kind by any CLI name: `vs`, `virtualservice`, `virtualservices`, `VirtualService`. */
export function resolveKindName(name: string): KindInfo | undefined {
  return byName.get(name.toLowerCase()) ?? byName.get(name.toLowerCase().split('.')[0] ?? '');
}
