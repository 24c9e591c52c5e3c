/** VirtualService (`gateway.solo.io/v1`): domains and ordered routes for one virtual host. */
import { Type, type Static } from '@sinclair/typebox';
import { Obj, OneOf, AtMostOneOf, Loose, Duration, ResourceRef, Port } from '../schema.js';
import { ObjectMeta, StatusField } from '../meta.js';
import { SslConfig } from '../gloo/ssl.js';

const HeaderMatcher = Obj({
  name: Type.String({ minLength: 1 }),
  value: Type.Optional(Type.String()),
  regex: Type.Optional(Type.Boolean()),
  invertMatch: Type.Optional(Type.Boolean()),
});

const QueryParameterMatcher = Obj({
  name: Type.String({ minLength: 1 }),
  value: Type.Optional(Type.String()),
  regex: Type.Optional(Type.Boolean()),
});

/** Matcher is Gloo's `matchers.Matcher`: a path match plus headers, query and methods. */
export const Matcher = AtMostOneOf(['prefix', 'exact', 'regex', 'connectMatcher'], {
  prefix: Type.Optional(Type.String()),
  exact: Type.Optional(Type.String()),
  regex: Type.Optional(Type.String()),
  connectMatcher: Type.Optional(Loose('not supported yet')),
  caseSensitive: Type.Optional(Type.Boolean()),
  headers: Type.Optional(Type.Array(HeaderMatcher)),
  queryParameters: Type.Optional(Type.Array(QueryParameterMatcher)),
  methods: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
});
export type Matcher = Static<typeof Matcher>;

/** Destination is where a routeAction sends a request. */
export const Destination = OneOf(['upstream', 'kube', 'consul'], {
  upstream: Type.Optional(ResourceRef),
  kube: Type.Optional(Obj({ ref: ResourceRef, port: Port })),
  consul: Type.Optional(Loose('not supported')),
  destinationSpec: Type.Optional(Loose('not supported yet')),
  subset: Type.Optional(Loose('not supported yet')),
});
export type Destination = Static<typeof Destination>;

const WeightedDestination = Obj({
  destination: Destination,
  weight: Type.Optional(Type.Integer({ minimum: 0 })),
  options: Type.Optional(Loose('not supported yet')),
});

export const RouteAction = OneOf(['single', 'multi', 'upstreamGroup', 'clusterHeader', 'dynamicForwardProxy'], {
  single: Type.Optional(Destination),
  multi: Type.Optional(Obj({ destinations: Type.Array(WeightedDestination, { minItems: 1 }) })),
  upstreamGroup: Type.Optional(Loose('not supported yet')),
  clusterHeader: Type.Optional(Loose('not supported')),
  dynamicForwardProxy: Type.Optional(Loose('not supported')),
});
export type RouteAction = Static<typeof RouteAction>;

const RedirectResponseCode = Type.Union(
  ['MOVED_PERMANENTLY', 'FOUND', 'SEE_OTHER', 'TEMPORARY_REDIRECT', 'PERMANENT_REDIRECT'].map((v) => Type.Literal(v)),
);

export const RedirectAction = AtMostOneOf(['pathRedirect', 'prefixRewrite', 'regexRewrite'], {
  hostRedirect: Type.Optional(Type.String()),
  pathRedirect: Type.Optional(Type.String()),
  prefixRewrite: Type.Optional(Type.String()),
  regexRewrite: Type.Optional(Loose('not supported yet')),
  responseCode: Type.Optional(RedirectResponseCode),
  httpsRedirect: Type.Optional(Type.Boolean()),
  stripQuery: Type.Optional(Type.Boolean()),
  portRedirect: Type.Optional(Port),
});
export type RedirectAction = Static<typeof RedirectAction>;

export const DirectResponseAction = Obj({
  status: Type.Integer({ minimum: 200, maximum: 599 }),
  body: Type.Optional(Type.String()),
});

const HeaderValueOption = Obj({
  header: Obj({ key: Type.String({ minLength: 1 }), value: Type.String() }),
  append: Type.Optional(Type.Boolean()),
});

/** HeaderManipulation is Gloo's `headers.HeaderManipulation`. */
export const HeaderManipulation = Obj({
  requestHeadersToAdd: Type.Optional(Type.Array(HeaderValueOption)),
  requestHeadersToRemove: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  responseHeadersToAdd: Type.Optional(Type.Array(HeaderValueOption)),
  responseHeadersToRemove: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
});
export type HeaderManipulation = Static<typeof HeaderManipulation>;

export const RetryPolicy = Obj({
  retryOn: Type.Optional(Type.String()),
  numRetries: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
  perTryTimeout: Type.Optional(Duration),
  retryBackOff: Type.Optional(Loose('not supported yet')),
  retriableStatusCodes: Type.Optional(Type.Array(Type.Integer({ minimum: 100, maximum: 599 }))),
  rateLimitedRetryBackOff: Type.Optional(Loose('not supported yet')),
  previousPriorities: Type.Optional(Loose('not supported yet')),
});
export type RetryPolicy = Static<typeof RetryPolicy>;

/** ROUTE_OPTION_FIELDS_UNSUPPORTED are Gloo route options accepted but not acted on yet. */
export const UNSUPPORTED_ROUTE_OPTIONS = [
  'regexRewrite', 'idleTimeout', 'cors', 'hostRewrite', 'autoHostRewrite', 'hostRewritePathRegex', 'hostRewriteHeader',
  'appendXForwardedHost', 'faults', 'shadowing', 'transformations', 'stagedTransformations', 'lbHash', 'upgrades',
  'maxStreamDuration', 'envoyMetadata', 'bufferPerRoute', 'csrf', 'extauth', 'ratelimitBasic', 'ratelimit',
  'rateLimitConfigs', 'waf', 'jwt', 'jwtStaged', 'rbac', 'dlp',
] as const;

const looseOptions = Object.fromEntries(UNSUPPORTED_ROUTE_OPTIONS.map((k) => [k, Type.Optional(Loose('not supported yet'))]));

export const RouteOptions = Obj({
  prefixRewrite: Type.Optional(Type.String()),
  timeout: Type.Optional(Duration),
  retries: Type.Optional(RetryPolicy),
  headerManipulation: Type.Optional(HeaderManipulation),
  ...looseOptions,
});
export type RouteOptions = Static<typeof RouteOptions>;

export const Route = Obj(
  {
    matchers: Type.Optional(Type.Array(Matcher)),
    inheritableMatchers: Type.Optional(Type.Boolean()),
    inheritablePathMatchers: Type.Optional(Type.Boolean()),
    routeAction: Type.Optional(RouteAction),
    redirectAction: Type.Optional(RedirectAction),
    directResponseAction: Type.Optional(DirectResponseAction),
    delegateAction: Type.Optional(Loose('not supported yet')),
    options: Type.Optional(RouteOptions),
    name: Type.Optional(Type.String()),
    optionsConfigRefs: Type.Optional(Loose('not supported yet')),
  },
  { exactlyOneOf: ['routeAction', 'redirectAction', 'directResponseAction', 'delegateAction'] },
);
export type Route = Static<typeof Route>;

export const UNSUPPORTED_VHOST_OPTIONS = [
  'stats', 'cors', 'corsPolicyMergeSettings', 'transformations', 'stagedTransformations', 'includeRequestAttemptCount',
  'includeAttemptCountInResponse', 'bufferPerRoute', 'csrf', 'extauth', 'ratelimitBasic', 'ratelimit',
  'rateLimitConfigs', 'ratelimitEarly', 'ratelimitRegular', 'waf', 'jwt', 'jwtStaged', 'rbac', 'dlp',
] as const;

export const VirtualHostOptions = Obj({
  retries: Type.Optional(RetryPolicy),
  headerManipulation: Type.Optional(HeaderManipulation),
  ...Object.fromEntries(UNSUPPORTED_VHOST_OPTIONS.map((k) => [k, Type.Optional(Loose('not supported yet'))])),
});

export const VirtualServiceSpec = Obj({
  virtualHost: Obj({
    domains: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    routes: Type.Optional(Type.Array(Route)),
    options: Type.Optional(VirtualHostOptions),
    optionsConfigRefs: Type.Optional(Loose('not supported yet')),
  }),
  sslConfig: Type.Optional(SslConfig),
  displayName: Type.Optional(Type.String()),
});
export type VirtualServiceSpec = Static<typeof VirtualServiceSpec>;

export const VirtualService = Obj({
  apiVersion: Type.Literal('gateway.solo.io/v1'),
  kind: Type.Literal('VirtualService'),
  metadata: ObjectMeta,
  spec: VirtualServiceSpec,
  status: StatusField,
});
