/** Gloo's TLS blocks (`ssl.proto`): UpstreamSslConfig for origination, SslConfig for termination. */
import { Type } from '@sinclair/typebox';
import { AtMostOneOf, Obj, Duration, ResourceRef } from '../schema.js';

const TlsVersion = Type.Union(
  ['TLS_AUTO', 'TLSv1_0', 'TLSv1_1', 'TLSv1_2', 'TLSv1_3'].map((v) => Type.Literal(v)),
  { description: 'TLS_AUTO, TLSv1_0, TLSv1_1, TLSv1_2 or TLSv1_3' },
);

/** SslParameters are protocol versions, ciphers and curves. */
export const SslParameters = Obj({
  minimumProtocolVersion: Type.Optional(TlsVersion),
  maximumProtocolVersion: Type.Optional(TlsVersion),
  cipherSuites: Type.Optional(Type.Array(Type.String())),
  ecdhCurves: Type.Optional(Type.Array(Type.String())),
});

/** SslFiles are PEM file paths on the proxy's machine. */
export const SslFiles = Obj({
  tlsCert: Type.Optional(Type.String()),
  tlsKey: Type.Optional(Type.String()),
  rootCa: Type.Optional(Type.String()),
  ocspStaple: Type.Optional(Type.String()),
});

/** SdsConfig names certificates served by a secret discovery service (Istio's, for the mesh). */
export const SdsConfig = Obj({
  targetUri: Type.Optional(Type.String()),
  clusterName: Type.Optional(Type.String()),
  callCredentials: Type.Optional(Type.Unknown()),
  certificatesSecretName: Type.Optional(Type.String()),
  validationContextName: Type.Optional(Type.String()),
});

/** UpstreamSslConfig is TLS origination towards an upstream. */
export const UpstreamSslConfig = AtMostOneOf(['secretRef', 'sslFiles', 'sds'], {
  secretRef: Type.Optional(ResourceRef),
  sslFiles: Type.Optional(SslFiles),
  sds: Type.Optional(SdsConfig),
  sni: Type.Optional(Type.String()),
  verifySubjectAltName: Type.Optional(Type.Array(Type.String())),
  parameters: Type.Optional(SslParameters),
  alpnProtocols: Type.Optional(Type.Array(Type.String())),
  allowRenegotiation: Type.Optional(Type.Boolean()),
  oneWayTls: Type.Optional(Type.Boolean()),
});

/** SslConfig is TLS termination on a VirtualService. */
export const SslConfig = AtMostOneOf(['secretRef', 'sslFiles', 'sds'], {
  secretRef: Type.Optional(ResourceRef),
  sslFiles: Type.Optional(SslFiles),
  sds: Type.Optional(SdsConfig),
  sniDomains: Type.Optional(Type.Array(Type.String())),
  verifySubjectAltName: Type.Optional(Type.Array(Type.String())),
  parameters: Type.Optional(SslParameters),
  alpnProtocols: Type.Optional(Type.Array(Type.String())),
  oneWayTls: Type.Optional(Type.Boolean()),
  disableTlsSessionResumption: Type.Optional(Type.Boolean()),
  transportSocketConnectTimeout: Type.Optional(Duration),
  ocspStaplePolicy: Type.Optional(Type.String()),
});
