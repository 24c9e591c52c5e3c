/**
 * HttpListenerOptions (`httpGateway.options`), the part meshgate acts on: Gloo's
 * `httpConnectionManagerSettings` (gloo-compat.md §1.6) and `connectionLimit`. Other Gloo fields
 * are accepted and reported as ignored.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Obj, Loose, Duration, Enum } from '../schema.js';


export const HttpConnectionManagerSettings = Obj({
  skipXffAppend: Type.Optional(Type.Boolean()),
  via: Type.Optional(Type.String()),
  xffNumTrustedHops: Type.Optional(Type.Integer({ minimum: 0, maximum: 64 })),
  useRemoteAddress: Type.Optional(Type.Boolean()),
  generateRequestId: Type.Optional(Type.Boolean()),
  streamIdleTimeout: Type.Optional(Duration),
  idleTimeout: Type.Optional(Duration),
  maxRequestHeadersKb: Type.Optional(Type.Integer({ minimum: 1, maximum: 8192 })),
  requestTimeout: Type.Optional(Duration),
  requestHeadersTimeout: Type.Optional(Duration),
  drainTimeout: Type.Optional(Duration),
  serverName: Type.Optional(Type.String()),
  acceptHttp10: Type.Optional(Type.Boolean()),
  forwardClientCertDetails: Type.Optional(Enum(['SANITIZE', 'FORWARD_ONLY', 'APPEND_FORWARD', 'SANITIZE_SET', 'ALWAYS_FORWARD_ONLY'])),
  headersWithUnderscoresAction: Type.Optional(Enum(['ALLOW', 'REJECT_REQUEST', 'DROP_HEADER'])),
  pathWithEscapedSlashesAction: Type.Optional(Enum(['IMPLEMENTATION_SPECIFIC_DEFAULT', 'KEEP_UNCHANGED', 'REJECT_REQUEST', 'UNESCAPE_AND_REDIRECT', 'UNESCAPE_AND_FORWARD'])),
  mergeSlashes: Type.Optional(Type.Boolean()),
  normalizePath: Type.Optional(Type.Boolean()),
  maxHeadersCount: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
  maxConnectionDuration: Type.Optional(Duration),
  stripAnyHostPort: Type.Optional(Type.Boolean()),
  ...Object.fromEntries(
    ['tracing', 'setCurrentClientCertDetails', 'preserveExternalRequestId', 'upgrades', 'serverHeaderTransformation', 'codecType',
      'appendXForwardedPort', 'earlyHeaderManipulation', 'preserveCaseHeaderKeyFormat', 'allowChunkedLength', 'enableTrailers',
      'properCaseHeaderKeyFormat', 'maxStreamDuration', 'http2ProtocolOptions', 'uuidRequestIdConfig', 'internalAddressConfig',
      'defaultHostForHttp10', 'strictHeaderValidation', 'maxRequestsPerConnection', 'http2ProtocolOptions']
      .map((k) => [k, Type.Optional(Loose('not supported by meshgate yet'))]),
  ),
});
export type HttpConnectionManagerSettings = Static<typeof HttpConnectionManagerSettings>;

export const HttpListenerOptions = Obj({
  httpConnectionManagerSettings: Type.Optional(HttpConnectionManagerSettings),
  connectionLimit: Type.Optional(Obj({ maxActiveConnections: Type.Integer({ minimum: 1 }), delayBeforeCloseMs: Type.Optional(Type.Integer({ minimum: 0 })) })),
  ...Object.fromEntries(
    ['healthCheck', 'grpcWeb', 'gzip', 'router', 'buffer', 'csrf', 'grpcJsonTranscoder', 'dynamicForwardProxy', 'networkLocalRatelimit',
      'httpLocalRatelimit', 'extauth', 'ratelimitServer', 'waf', 'dlp', 'wasm', 'caching', 'tap', 'statefulSession', 'leftmostXffAddress',
      'sanitizeClusterHeader', 'proxyLatency', 'extProc', 'disableExtProc', 'headerValidationSettings']
      .map((k) => [k, Type.Optional(Loose('not supported by meshgate yet'))]),
  ),
});
export type HttpListenerOptions = Static<typeof HttpListenerOptions>;

/** UNSUPPORTED_HCM_SETTINGS lists the accepted-but-ignored settings, for warnings. */
export const UNSUPPORTED_HCM_SETTINGS = [
  'via', 'requestTimeout', 'serverName', 'maxConnectionDuration', 'stripAnyHostPort', 'tracing', 'setCurrentClientCertDetails',
  'preserveExternalRequestId', 'upgrades', 'serverHeaderTransformation', 'codecType', 'appendXForwardedPort', 'earlyHeaderManipulation',
  'preserveCaseHeaderKeyFormat', 'allowChunkedLength', 'enableTrailers', 'properCaseHeaderKeyFormat', 'maxStreamDuration',
  'http2ProtocolOptions', 'uuidRequestIdConfig', 'internalAddressConfig', 'defaultHostForHttp10', 'strictHeaderValidation',
  'maxRequestsPerConnection',
] as const;
export const UNSUPPORTED_HTTP_LISTENER_OPTIONS = [
  'healthCheck', 'grpcWeb', 'gzip', 'router', 'buffer', 'csrf', 'grpcJsonTranscoder', 'dynamicForwardProxy', 'networkLocalRatelimit',
  'httpLocalRatelimit', 'extauth', 'ratelimitServer', 'waf', 'dlp', 'wasm', 'caching', 'tap', 'statefulSession', 'leftmostXffAddress',
  'sanitizeClusterHeader', 'proxyLatency', 'extProc', 'disableExtProc', 'headerValidationSettings',
] as const;
