/**
 * SPIFFE IDs as Istio writes and reads them: `spiffe://<trust-domain>/ns/<ns>/sa/<sa>`
 * (istio/istio pkg/spiffe). This module only formats and parses strings; it trusts nothing.
 */
import { IdentityInvalidError } from './errors.js';

/** DEFAULT_TRUST_DOMAIN is Istio's default `meshConfig.trustDomain`. */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

/** SPIFFE_PREFIX is the URI scheme part every identity starts with. */
export const SPIFFE_PREFIX = 'spiffe://';

/** WorkloadIdentity is the parsed form of a SPIFFE ID. */
export interface WorkloadIdentity {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

/**
 * spiffeId formats the identity of a service account. As in Istio's GenSpiffeURI, an `@` in
 * the trust domain becomes `.`, and an empty namespace or service account is refused; a `/`
 * is refused too, because it would move the `ns`/`sa` literals and let a name forge another.
 */
export function spiffeId(namespace: string, serviceAccount: string, trustDomain: string = DEFAULT_TRUST_DOMAIN): string {
  const td = trustDomain.replaceAll('@', '.');
  for (const [what, v] of [
    ['trust domain', td],
    ['namespace', namespace],
    ['service account', serviceAccount],
  ] as const) {
    if (v === '' || v.includes('/')) throw new IdentityInvalidError(`${what} ${JSON.stringify(v)} cannot be part of a spiffe id`);
  }
  return `${SPIFFE_PREFIX}${td}/ns/${namespace}/sa/${serviceAccount}`;
}

/**
 * parseSpiffeId reads an Istio identity, or returns undefined when `uri` is not one. Like
 * Istio's ParseIdentity it needs exactly five path parts with `ns` and `sa` at positions 2
 * and 4. Unlike it, empty parts are refused: no certificate Istio issues has one.
 */
export function parseSpiffeId(uri: string): WorkloadIdentity | undefined {
  if (!uri.startsWith(SPIFFE_PREFIX)) return undefined;
  const parts = uri.slice(SPIFFE_PREFIX.length).split('/');
  if (parts.length !== 5 || parts[1] !== 'ns' || parts[3] !== 'sa') return undefined;
  const [trustDomain, , namespace, , serviceAccount] = parts as [string, string, string, string, string];
  if (trustDomain === '' || namespace === '' || serviceAccount === '') return undefined;
  return { trustDomain, namespace, serviceAccount };
}

/** GATEWAY_IDENTITY is the gateway proxy's own identity (Gloo's `gloo-system/gateway-proxy`). */
export const GATEWAY_IDENTITY = spiffeId('gloo-system', 'gateway-proxy');
