/**
 * The sidecar's inbound snapshot: one listener on the inbound port that accepts mesh mTLS per
 * the workload's PeerAuthentication and forwards every request to the app on 127.0.0.1, adding
 * X-Forwarded-Client-Cert for mTLS peers (APPEND_FORWARD, as Istio's inbound sidecar).
 */
import * as ir from '../../ir/index.js';
import type { MtlsMode } from '../../translate/peer-authentication.js';

/** InboundOptions are what the snapshot depends on. */
export interface InboundOptions {
  readonly inboundPort: number;
  readonly appPort: number;
  readonly bindAddress: string;
  readonly mode: MtlsMode;
  readonly trustDomain: string;
}

/** INBOUND_CLUSTER is the app's upstream, named as Istio names inbound clusters. */
export function inboundCluster(appPort: number): string {
  return `inbound|${appPort}||`;
}

/** inboundSnapshot builds the sidecar's snapshot for the current mode. */
export function inboundSnapshot(o: InboundOptions): ir.Snapshot {
  const cluster = inboundCluster(o.appPort);
  const body = {
    proxy: 'sidecar',
    listeners: [
      {
        name: 'virtualInbound',
        bindAddress: o.bindAddress,
        bindPort: o.inboundPort,
        ssl: false,
        // The caller is a mesh peer: trust its x-forwarded-for as Istio's sidecars do.
        http: { ...ir.DEFAULT_HTTP_SETTINGS, xffNumTrustedHops: 1 },
        inbound: { mode: o.mode, trustDomain: o.trustDomain },
        forwardClientCertDetails: 'APPEND_FORWARD' as const,
        virtualHosts: [
          {
            name: 'inbound',
            domains: ['*'],
            routes: [
              {
                name: 'default',
                match: { path: { kind: 'prefix' as const, value: '/' }, caseSensitive: true, headers: [], queryParameters: [], methods: [] },
                // Istio's inbound routes have no timeout: the caller's timeout governs.
                action: { type: 'forward' as const, destinations: [{ upstream: cluster, weight: 1 }], timeoutMs: 0 },
              },
            ],
          },
        ],
      },
    ],
    upstreams: { [cluster]: { name: cluster, connectTimeoutMs: 5000, protocol: 'downstream' as const, endpoints: [{ address: '127.0.0.1', port: o.appPort, labels: {} }] } },
  };
  return { version: ir.contentVersion(body), ...body };
}
