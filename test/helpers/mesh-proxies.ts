/**
 * Mesh proxies for integration tests, wired as the composition root wires them: a sidecar is a
 * Proxy with a mesh credential serving inboundSnapshot (its mode switchable at run time), a
 * gateway is a Proxy with a mesh credential and a snapshot whose endpoints may originate Istio
 * mTLS. Both are closed by close() (idempotent, for after()).
 */
import { Proxy } from '../../src/proxy/proxy.js';
import { silentLogger } from '../../src/log.js';
import { inboundSnapshot } from '../../src/mesh/sidecar/inbound.js';
import type { CredentialSource } from '../../src/proxy/upstream/mesh-tls.js';
import type { MtlsMode } from '../../src/translate/peer-authentication.js';
import type * as ir from '../../src/ir/index.js';
import { freePort } from './ports.js';
import { forward, listener, match, route, snapshot, vhost, HTTP_PORT } from './snapshot.js';
import { HTTPBIN_SNI, ISTIO_HTTP_ALPN } from './mesh-clients.js';
import { MESH_TRUST_DOMAIN } from './mesh-pki.js';

export interface TestSidecar {
  readonly proxy: Proxy;
  /** port is the inbound listener's port (Istio's 15006). */
  readonly port: number;
  readonly appPort: number;
  mode: MtlsMode;
  /** setMode applies the inbound snapshot for another mode, as the sidecar's policy poll does. */
  setMode(mode: MtlsMode): Promise<void>;
  close(): Promise<void>;
}

/** startTestSidecar serves the inbound listener on 127.0.0.1 in front of the app on appPort. */
export async function startTestSidecar(o: { credentials: CredentialSource; appPort: number; mode: MtlsMode; trustDomain?: string }): Promise<TestSidecar> {
  const proxy = new Proxy({ log: silentLogger, credentials: o.credentials, drainMs: 1000 });
  const port = await freePort();
  const build = (mode: MtlsMode) =>
    inboundSnapshot({ inboundPort: port, appPort: o.appPort, bindAddress: '127.0.0.1', mode, trustDomain: o.trustDomain ?? MESH_TRUST_DOMAIN });
  await proxy.applySnapshot(build(o.mode));
  let closed: Promise<void> | undefined;
  const sc: TestSidecar = {
    proxy,
    port,
    appPort: o.appPort,
    mode: o.mode,
    async setMode(mode) {
      await proxy.applySnapshot(build(mode));
      sc.mode = mode;
    },
    close() {
      closed ??= proxy.close(1000);
      return closed;
    },
  };
  return sc;
}

/** istioMtls is the endpoint mTLS the translator writes for httpbin.default (secure naming on identities). */
export function istioMtls(identities: readonly string[]): ir.EndpointMtls {
  return { sni: HTTPBIN_SNI, alpn: ISTIO_HTTP_ALPN, identities, trustDomain: MESH_TRUST_DOMAIN };
}

/** GatewayTarget routes a path prefix to one endpoint, with or without mesh mTLS. */
export interface GatewayTarget {
  readonly prefix: string;
  readonly upstream: string;
  readonly port: number;
  readonly mtls?: ir.EndpointMtls;
  readonly protocol?: ir.UpstreamProtocol;
}

/** gatewaySnapshot is one listener on bindPort 8080 with one prefix route per target. */
export function gatewaySnapshot(targets: readonly GatewayTarget[]): ir.Snapshot {
  const routes = targets.map((t) => route(forward(t.upstream), { name: `route${t.prefix.replace(/\//g, '.')}`, match: match({ prefix: t.prefix }) }));
  const upstreams: ir.Upstream[] = targets.map((t) => ({
    name: t.upstream,
    connectTimeoutMs: 5000,
    protocol: t.protocol ?? 'http1',
    endpoints: [{ address: '127.0.0.1', port: t.port, labels: {}, ...(t.mtls ? { mtls: t.mtls } : {}) }],
  }));
  return snapshot(listener([vhost(routes)]), upstreams);
}

export interface TestGateway {
  readonly proxy: Proxy;
  /** port is where bindPort 8080 listens. */
  readonly port: number;
  apply(s: ir.Snapshot): Promise<void>;
  close(): Promise<void>;
}

/** startTestGateway runs a gateway Proxy with a mesh identity, bindPort 8080 mapped to a free port. */
export async function startTestGateway(o: { credentials: CredentialSource; snapshot?: ir.Snapshot }): Promise<TestGateway> {
  const port = await freePort();
  const proxy = new Proxy({ log: silentLogger, credentials: o.credentials, portMap: { [HTTP_PORT]: port }, bindAddress: '127.0.0.1', drainMs: 1000 });
  if (o.snapshot) await proxy.applySnapshot(o.snapshot);
  let closed: Promise<void> | undefined;
  return {
    proxy,
    port,
    apply: (s) => proxy.applySnapshot(s),
    close() {
      closed ??= proxy.close(1000);
      return closed;
    },
  };
}
