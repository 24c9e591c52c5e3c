/** ObjectMeta and the status shape every resource carries, in Kubernetes and Gloo form. */
import { Type, type Static } from '@sinclair/typebox';
import { Obj, StringMap } from './schema.js';

/** DNS_SUBDOMAIN is the Kubernetes rule for object names: lower-case, digits, '-' and '.'. */
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$';
/** DNS_LABEL is the Kubernetes rule for namespace names. */
const DNS_LABEL = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';

/** ObjectMeta is the subset of Kubernetes metadata meshgate keeps. */
export const ObjectMeta = Obj({
  name: Type.String({ pattern: DNS_SUBDOMAIN, description: 'a lower-case DNS name' }),
  namespace: Type.Optional(Type.String({ pattern: DNS_LABEL, description: 'a lower-case DNS label' })),
  labels: Type.Optional(StringMap),
  annotations: Type.Optional(StringMap),
  /** resourceVersion is set by the control plane; a write naming an older one is refused. */
  resourceVersion: Type.Optional(Type.String()),
  generation: Type.Optional(Type.Integer()),
  uid: Type.Optional(Type.String()),
  creationTimestamp: Type.Optional(Type.String()),
});
export type ObjectMeta = Static<typeof ObjectMeta>;

/** ResourceState is Gloo's status state. */
export type ResourceState = 'Pending' | 'Accepted' | 'Rejected' | 'Warning';

/** NamespacedStatus is one reporter's status, Gloo's `status.statuses.<ns>`. */
export interface NamespacedStatus {
  state: ResourceState;
  reason?: string;
  reportedBy: string;
}

/** ResourceStatus is Gloo's status shape: `status.statuses.<install namespace>`. */
export interface ResourceStatus {
  statuses: Record<string, NamespacedStatus>;
}

/** Status is accepted on input (kubectl get -o yaml round-trips) and ignored: the control plane owns it. */
export const StatusField = Type.Optional(Type.Unknown({ description: 'written by the control plane; ignored on input' }));

/** Resource is any resource after parsing: the typed spec is per kind. */
export interface Resource<S = unknown> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta & { namespace: string };
  spec: S;
  status?: ResourceStatus;
}
