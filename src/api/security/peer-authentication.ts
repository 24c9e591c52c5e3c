/**
 * PeerAuthentication (`security.istio.io/v1`, `v1beta1`): which mTLS mode a workload's sidecar
 * accepts inbound. Schema only; precedence and the CEL rules live in translate/peer-authentication.ts.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Obj } from '../schema.js';
import { ObjectMeta, StatusField } from '../meta.js';

/** PORT_KEY matches a decimal port from 1 to 65535 without leading zeros (Istio: `0 < port <= 65535`). */
const PORT_KEY = '^([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$';

/** MtlsModeName is `PeerAuthentication.MutualTLS.Mode`; UNSET inherits from the parent scope. */
export const MtlsModeName = Type.Union([Type.Literal('UNSET'), Type.Literal('DISABLE'), Type.Literal('PERMISSIVE'), Type.Literal('STRICT')]);
export type MtlsModeName = Static<typeof MtlsModeName>;

/** MutualTLS is `PeerAuthentication.MutualTLS`: a mode, absent meaning UNSET. */
export const MutualTLS = Obj({ mode: Type.Optional(MtlsModeName) });
export type MutualTLS = Static<typeof MutualTLS>;

/**
 * WorkloadSelector is Istio's `type.v1beta1.WorkloadSelector`. Its CEL rules: keys are not empty
 * and hold no `*`, values hold no `*` and are at most 63 characters, at most 4096 entries.
 * A key that breaks the rule is reported as an unknown field at `spec.selector.matchLabels.<key>`.
 */
export const WorkloadSelector = Obj({
  matchLabels: Type.Optional(
    Type.Record(
      Type.String({ pattern: '^[^*]+$' }),
      Type.String({ maxLength: 63, pattern: '^[^*]*$', description: 'a label value without *' }),
      { additionalProperties: false, maxProperties: 4096 },
    ),
  ),
});
export type WorkloadSelector = Static<typeof WorkloadSelector>;

export const PeerAuthenticationSpec = Obj({
  /** selector picks workloads in the policy's namespace; absent or empty means the whole namespace. */
  selector: Type.Optional(WorkloadSelector),
  mtls: Type.Optional(MutualTLS),
  /**
   * portLevelMtls maps a workload (container) port, not a Service port, to its mode. A key that is
   * not a port from 1 to 65535 is reported at `spec.portLevelMtls.<key>`.
   */
  portLevelMtls: Type.Optional(Type.Record(Type.String({ pattern: PORT_KEY }), MutualTLS, { additionalProperties: false })),
});
export type PeerAuthenticationSpec = Static<typeof PeerAuthenticationSpec>;

export const PeerAuthentication = Obj({
  apiVersion: Type.Union([Type.Literal('security.istio.io/v1'), Type.Literal('security.istio.io/v1beta1')]),
  kind: Type.Literal('PeerAuthentication'),
  metadata: ObjectMeta,
  spec: PeerAuthenticationSpec,
  status: StatusField,
});
