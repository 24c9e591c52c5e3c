/** Upstream (`gloo.solo.io/v1`): a named group of endpoints and how to reach them. */
import { Type, type Static } from '@sinclair/typebox';
import { Obj, Loose, Port, StringMap, Duration, Enum } from '../schema.js';
import { ObjectMeta, StatusField } from '../meta.js';
import { UpstreamSslConfig } from './ssl.js';

/** StaticHost is one `addr:port` of a static upstream. */
export const StaticHost = Obj({
  addr: Type.String({ minLength: 1 }),
  port: Port,
  sniAddr: Type.Optional(Type.String()),
  loadBalancingWeight: Type.Optional(Type.Integer({ minimum: 0 })),
  healthCheckConfig: Type.Optional(Type.Unknown()),
  metadata: Type.Optional(Type.Unknown()),
});

/** KubeUpstreamSpec points at a Kubernetes-shaped Service port. */
export const KubeUpstreamSpec = Obj({
  serviceName: Type.String({ minLength: 1 }),
  serviceNamespace: Type.String({ minLength: 1 }),
  servicePort: Port,
  selector: Type.Optional(StringMap),
  serviceSpec: Type.Optional(Type.Unknown()),
  subsetSpec: Type.Optional(Type.Unknown()),
});

export const UpstreamSpec = Obj(
  {
    discoveryMetadata: Type.Optional(Obj({ labels: Type.Optional(StringMap) })),
    static: Type.Optional(
      Obj({
        hosts: Type.Array(StaticHost, { minItems: 1 }),
        useTls: Type.Optional(Type.Boolean()),
        serviceSpec: Type.Optional(Type.Unknown()),
        autoSniRewrite: Type.Optional(Type.Boolean()),
      }),
    ),
    kube: Type.Optional(KubeUpstreamSpec),
    sslConfig: Type.Optional(UpstreamSslConfig),
    disableIstioAutoMtls: Type.Optional(Type.Boolean()),
    useHttp2: Type.Optional(Type.Boolean()),
    connectionConfig: Type.Optional(
      Obj({
        maxRequestsPerConnection: Type.Optional(Type.Integer({ minimum: 0 })),
        connectTimeout: Type.Optional(Duration),
        tcpKeepalive: Type.Optional(Type.Unknown()),
        perConnectionBufferLimitBytes: Type.Optional(Type.Integer({ minimum: 0 })),
        commonHttpProtocolOptions: Type.Optional(Type.Unknown()),
        http1ProtocolOptions: Type.Optional(Type.Unknown()),
      }),
    ),
    // Gloo fields accepted so that migrated YAML loads; the translator warns that they are ignored.
    circuitBreakers: Type.Optional(Loose('not supported yet')),
    loadBalancerConfig: Type.Optional(Loose('not supported yet')),
    healthChecks: Type.Optional(Loose('not supported yet')),
    outlierDetection: Type.Optional(Loose('not supported yet')),
    failover: Type.Optional(Loose('not supported yet')),
    protocolSelection: Type.Optional(Enum(['USE_CONFIGURED_PROTOCOL', 'USE_DOWNSTREAM_PROTOCOL'])),
    pipe: Type.Optional(Loose('not supported')),
    aws: Type.Optional(Loose('not supported')),
    azure: Type.Optional(Loose('not supported')),
    consul: Type.Optional(Loose('not supported')),
    awsEc2: Type.Optional(Loose('not supported')),
    gcp: Type.Optional(Loose('not supported')),
  },
  { atMostOneOf: ['static', 'kube', 'pipe', 'aws', 'azure', 'consul', 'awsEc2', 'gcp'] },
);
export type UpstreamSpec = Static<typeof UpstreamSpec>;

/** UNSUPPORTED_UPSTREAM_FIELDS are accepted for compatibility and reported as ignored. */
export const UNSUPPORTED_UPSTREAM_FIELDS = [
  'circuitBreakers', 'loadBalancerConfig', 'healthChecks', 'outlierDetection', 'failover',
  'pipe', 'aws', 'azure', 'consul', 'awsEc2', 'gcp',
] as const;

export const Upstream = Obj({
  apiVersion: Type.Literal('gloo.solo.io/v1'),
  kind: Type.Literal('Upstream'),
  metadata: ObjectMeta,
  spec: UpstreamSpec,
  status: StatusField,
});
