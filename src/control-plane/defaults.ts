/**
 * The resources a fresh data directory starts with, as Gloo's Helm chart installs them: the
 * `gateway-proxy` (8080) and `gateway-proxy-ssl` (8443) Gateways and `gloo-system/default` Settings.
 */
import type { Resource } from '../api/meta.js';
import { GLOO_NAMESPACE } from '../api/kinds.js';

export function defaultResources(): Resource[] {
  const gateway = (name: string, port: number, ssl: boolean): Resource => ({
    apiVersion: 'gateway.solo.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace: GLOO_NAMESPACE },
    spec: { bindAddress: '::', bindPort: port, httpGateway: {}, proxyNames: ['gateway-proxy'], ssl },
  });
  return [
    gateway('gateway-proxy', 8080, false),
    gateway('gateway-proxy-ssl', 8443, true),
    {
      apiVersion: 'gloo.solo.io/v1',
      kind: 'Settings',
      metadata: { name: 'default', namespace: GLOO_NAMESPACE },
      spec: {
        discoveryNamespace: GLOO_NAMESPACE,
        gloo: {
          istioOptions: { appendXForwardedHost: true, enableAutoMtls: false, enableIntegration: false },
          invalidConfigPolicy: {
            replaceInvalidRoutes: false,
            invalidRouteResponseCode: 404,
            invalidRouteResponseBody: 'Gloo Gateway has invalid configuration. Administrators should run `glooctl check` to find and fix config errors.',
          },
        },
      },
    },
  ];
}
