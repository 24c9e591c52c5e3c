/**
 * PeerAuthentication translation: resolves the inbound mTLS mode of one workload from the
 * policies that apply to it, and checks the CEL rules JSON Schema cannot express. It does no I/O.
 *
 * Precedence follows Istio's `ComposePeerAuthentication` (pilot/pkg/security/authn/policy_applier.go):
 * the most narrow scope wins, workload over namespace over mesh, a port-level entry over its
 * workload policy, UNSET inherits from the scope above, and the default is PERMISSIVE.
 */
import type { Resource } from '../api/meta.js';
import type { MtlsModeName, PeerAuthenticationSpec } from '../api/security/peer-authentication.js';

/** MtlsMode is a resolved mTLS mode: UNSET never survives resolution. */
export type MtlsMode = 'DISABLE' | 'PERMISSIVE' | 'STRICT';

/** ROOT_NAMESPACE is Istio's default `meshConfig.rootNamespace`, home of mesh-wide policies. */
export const ROOT_NAMESPACE = 'istio-system';

/** DEFAULT_MTLS_MODE applies when no policy sets a mode, and to a mesh policy with mode UNSET. */
export const DEFAULT_MTLS_MODE: MtlsMode = 'PERMISSIVE';

/** WorkloadRef is what precedence needs to know about a workload: where it runs and its labels. */
export interface WorkloadRef {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** EffectiveMtls is the resolved inbound mTLS of one workload. */
export interface EffectiveMtls {
  /** mode applies to every port without an entry in portModes. */
  readonly mode: MtlsMode;
  /** portModes holds the workload policy's port-level entries, UNSET entries resolved to mode. */
  readonly portModes: Record<number, MtlsMode>;
  /**
   * sources are the `ns/name` of the selected policy at each scope, in mesh, namespace, workload
   * order: the oldest policy of its scope, listed even when its mode is UNSET. Newer policies of
   * the same scope, which Istio ignores, are never listed.
   */
  readonly sources: string[];
}

/** PolicyScope is where a PeerAuthentication sits in the precedence order, or `ignored`. */
export type PolicyScope = 'mesh' | 'namespace' | 'workload' | 'ignored';

/** PeerAuthenticationProblems are the user-facing problems of one policy, each `field path: message`. */
export interface PeerAuthenticationProblems {
  /** errors reject the policy (Istio's API server refuses it). */
  readonly errors: string[];
  /** warnings admit the policy but say it will not do what it looks like it does. */
  readonly warnings: string[];
}

/**
 * policyScope classifies a policy as Istio does: no or empty selector in the root namespace is
 * mesh-wide, elsewhere namespace-wide; a non-empty selector outside the root namespace is
 * workload-level; a non-empty selector in the root namespace is ignored.
 */
export function policyScope(pa: Resource<PeerAuthenticationSpec>, rootNamespace = ROOT_NAMESPACE): PolicyScope {
  const inRoot = pa.metadata.namespace === rootNamespace;
  if (!hasSelector(pa.spec)) return inRoot ? 'mesh' : 'namespace';
  // Istio code ignores these; the proto's `selector` comment says otherwise, and the code wins.
  return inRoot ? 'ignored' : 'workload';
}

/**
 * effectiveMtls resolves the inbound mTLS mode of a workload. Candidates are the policies in the
 * workload's namespace and in the root namespace whose selector matches the workload's labels.
 * Within a scope the oldest `creationTimestamp` wins (Istio ignores the newer ones); a tie goes
 * to the smaller `ns/name`, so the result never depends on input order. A policy without a
 * creationTimestamp counts as the oldest, as Go's zero time does. Callers should pass only
 * admitted policies: this function does not re-run validatePeerAuthentication.
 */
export function effectiveMtls(
  policies: readonly Resource<PeerAuthenticationSpec>[],
  workload: WorkloadRef,
  rootNamespace = ROOT_NAMESPACE,
): EffectiveMtls {
  const selected: Partial<Record<Exclude<PolicyScope, 'ignored'>, Resource<PeerAuthenticationSpec>>> = {};
  for (const pa of policies) {
    const ns = pa.metadata.namespace;
    if (ns !== workload.namespace && ns !== rootNamespace) continue;
    const scope = policyScope(pa, rootNamespace);
    if (scope === 'ignored') continue;
    if (scope === 'workload' && !matches(pa.spec.selector?.matchLabels ?? {}, workload.labels)) continue;
    const current = selected[scope];
    if (!current || isOlder(pa, current)) selected[scope] = pa;
  }

  // Resolve UNSET top-down: mesh, then namespace, then workload. A mesh UNSET is PERMISSIVE, which
  // is also the starting point, so skipping UNSET at every scope is enough.
  let mode: MtlsMode = DEFAULT_MTLS_MODE;
  const sources: string[] = [];
  for (const scope of ['mesh', 'namespace', 'workload'] as const) {
    const pa = selected[scope];
    if (!pa) continue;
    sources.push(`${pa.metadata.namespace}/${pa.metadata.name}`);
    mode = resolve(pa.spec.mtls?.mode, mode);
  }

  // Port-level entries count only on the workload policy; on any other scope Istio drops them.
  const portModes: Record<number, MtlsMode> = {};
  for (const [key, mtls] of Object.entries(selected.workload?.spec.portLevelMtls ?? {})) {
    const port = Number(key);
    if (!Number.isInteger(port) || port < 1 || port > 65535) continue;
    portModes[port] = resolve(mtls.mode, mode);
  }
  return { mode, portModes, sources };
}

/** modeForPort is the mode of one workload port: its port-level entry, else the workload mode. */
export function modeForPort(result: EffectiveMtls, port: number): MtlsMode {
  return result.portModes[port] ?? result.mode;
}

/**
 * validatePeerAuthentication checks the rules Istio enforces with CEL, which the JSON Schema in
 * api/security cannot express. It never throws. Errors: portLevelMtls without a non-empty
 * selector, and an empty portLevelMtls. Warning: a selector policy in the root namespace, which
 * is admitted and ignored.
 */
export function validatePeerAuthentication(pa: Resource<PeerAuthenticationSpec>, rootNamespace = ROOT_NAMESPACE): PeerAuthenticationProblems {
  const errors: string[] = [];
  const warnings: string[] = [];
  const ports = pa.spec.portLevelMtls;
  if (ports !== undefined) {
    // Istio: `(has(self.selector) && ... && self.selector.matchLabels.size() > 0) || !has(self.portLevelMtls)`.
    if (!hasSelector(pa.spec)) errors.push('spec.portLevelMtls: requires spec.selector (port-level mTLS applies to workloads only)');
    if (Object.keys(ports).length === 0) errors.push('spec.portLevelMtls: must have at least one entry');
  }
  if (policyScope(pa, rootNamespace) === 'ignored') {
    warnings.push(`spec.selector: a policy with a selector in the root namespace ${rootNamespace} is ignored`);
  }
  return { errors, warnings };
}

function hasSelector(spec: PeerAuthenticationSpec): boolean {
  return Object.keys(spec.selector?.matchLabels ?? {}).length > 0;
}

function matches(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v);
}

function resolve(mode: MtlsModeName | undefined, parent: MtlsMode): MtlsMode {
  return mode === undefined || mode === 'UNSET' ? parent : mode;
}

function createdAt(pa: Resource): number {
  const t = Date.parse(pa.metadata.creationTimestamp ?? '');
  return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
}

function isOlder(a: Resource, b: Resource): boolean {
  const ta = createdAt(a);
  const tb = createdAt(b);
  if (ta !== tb) return ta < tb;
  return `${a.metadata.namespace}/${a.metadata.name}` < `${b.metadata.namespace}/${b.metadata.name}`;
}
