/** Settings (`gloo.solo.io/v1`): install-wide options, normally `gloo-system/default`. */
import { Type, type Static } from '@sinclair/typebox';
import { Obj, Loose } from '../schema.js';
import { ObjectMeta, StatusField } from '../meta.js';

const loose = (keys: string[]) => Object.fromEntries(keys.map((k) => [k, Type.Optional(Loose('not used by meshgate'))]));

export const SettingsSpec = Obj({
  discoveryNamespace: Type.Optional(Type.String()),
  watchNamespaces: Type.Optional(Type.Array(Type.String())),
  gloo: Type.Optional(
    Obj({
      istioOptions: Type.Optional(
        Obj({
          enableIntegration: Type.Optional(Type.Boolean()),
          enableAutoMtls: Type.Optional(Type.Boolean()),
          appendXForwardedHost: Type.Optional(Type.Boolean()),
        }),
      ),
      invalidConfigPolicy: Type.Optional(
        Obj({
          replaceInvalidRoutes: Type.Optional(Type.Boolean()),
          invalidRouteResponseCode: Type.Optional(Type.Integer({ minimum: 200, maximum: 599 })),
          invalidRouteResponseBody: Type.Optional(Type.String()),
        }),
      ),
      ...loose(['xdsBindAddr', 'validationBindAddr', 'restXdsBindAddr', 'circuitBreakers', 'endpointsWarmingTimeout',
        'disableKubernetesDestinations', 'disableProxyGarbageCollection', 'regexMaxProgramSize', 'removeUnusedFilters',
        'enableRestEds', 'proxyDebugBindAddr']),
    }),
  ),
  gateway: Type.Optional(
    Obj({
      /** translateEmptyGateways: meshgate's default is true (an empty plaintext Gateway answers 404); see docs. */
      translateEmptyGateways: Type.Optional(Type.Boolean()),
      ...loose(['validationServerAddr', 'validation', 'readGatewaysFromAllNamespaces', 'compressedProxySpec',
        'persistProxySpec', 'isolateVirtualHostsBySslConfig', 'virtualServiceOptions', 'enableGatewayController']),
    }),
  ),
  discovery: Type.Optional(Loose('discovery options; meshgate always discovers Services')),
  ...loose(['kubernetesConfigSource', 'kubernetesSecretSource', 'kubernetesArtifactSource', 'refreshRate',
    'watchNamespaceSelectors', 'devMode', 'linkerd', 'knative', 'upstreamOptions', 'consoleOptions', 'extauth',
    'namedExtauth', 'ratelimitServer', 'ratelimit', 'rbac', 'cachingServer', 'observabilityOptions', 'extProc',
    'watchNamespacesOptions', 'consul', 'consulDiscovery', 'kubernetes']),
});
export type SettingsSpec = Static<typeof SettingsSpec>;

export const Settings = Obj({
  apiVersion: Type.Literal('gloo.solo.io/v1'),
  kind: Type.Literal('Settings'),
  metadata: ObjectMeta,
  spec: SettingsSpec,
  status: StatusField,
});
