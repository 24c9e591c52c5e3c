/** Service (`v1`): a Kubernetes-shaped Service that selects WorkloadEntries by label. */
import { Type, type Static } from '@sinclair/typebox';
import { Obj, Port, StringMap } from '../schema.js';
import { ObjectMeta, StatusField } from '../meta.js';

export const ServicePort = Obj({
  name: Type.Optional(Type.String()),
  port: Port,
  /** targetPort is the workload's port: a number, or the name of one of its ports. */
  targetPort: Type.Optional(Type.Union([Port, Type.String({ minLength: 1 })])),
  protocol: Type.Optional(Type.Union([Type.Literal('TCP'), Type.Literal('UDP'), Type.Literal('SCTP')])),
  appProtocol: Type.Optional(Type.String()),
  nodePort: Type.Optional(Port),
});
export type ServicePort = Static<typeof ServicePort>;

export const ServiceSpec = Obj({
  selector: Type.Optional(StringMap),
  ports: Type.Array(ServicePort, { minItems: 1 }),
  type: Type.Optional(Type.String()),
  clusterIP: Type.Optional(Type.String()),
  sessionAffinity: Type.Optional(Type.String()),
});
export type ServiceSpec = Static<typeof ServiceSpec>;

export const Service = Obj({
  apiVersion: Type.Literal('v1'),
  kind: Type.Literal('Service'),
  metadata: ObjectMeta,
  spec: ServiceSpec,
  status: Type.Optional(Type.Unknown()),
});
