/** WorkloadEntry (`networking.istio.io/v1`): one workload's address, ports, labels and identity. */
import { Type, type Static } from '@sinclair/typebox';
import { Obj, Port, StringMap } from '../schema.js';
import { ObjectMeta, StatusField } from '../meta.js';

export const WorkloadEntrySpec = Obj({
  address: Type.String({ minLength: 1 }),
  /** ports maps a port name (as the Service names it) to the workload's port number. */
  ports: Type.Optional(Type.Record(Type.String(), Port)),
  labels: Type.Optional(StringMap),
  network: Type.Optional(Type.String()),
  locality: Type.Optional(Type.String()),
  weight: Type.Optional(Type.Integer({ minimum: 0 })),
  serviceAccount: Type.Optional(Type.String()),
});
export type WorkloadEntrySpec = Static<typeof WorkloadEntrySpec>;

export const WorkloadEntry = Obj({
  apiVersion: Type.Union([Type.Literal('networking.istio.io/v1'), Type.Literal('networking.istio.io/v1beta1'), Type.Literal('networking.istio.io/v1alpha3')]),
  kind: Type.Literal('WorkloadEntry'),
  metadata: ObjectMeta,
  spec: WorkloadEntrySpec,
  status: StatusField,
});
