/**
 * Istio mTLS towards upstreams, decided per endpoint (gloo-compat.md §1.2, §5):
 *  - an Upstream whose `sslConfig.sds` names Istio's certificates (what `istio enable-mtls`
 *    writes) gets mTLS to every endpoint, with the ALPN it lists;
 *  - with auto-mTLS on (Settings `istioOptions.enableAutoMtls`, which needs `enableIntegration`),
 *    an Upstream without `sslConfig` or `disableIstioAutoMtls` gets mTLS to each endpoint
 *    labelled `security.istio.io/tlsMode: istio`, plaintext to the others.
 * Unlike Gloo, the server's identity is checked against the endpoint's service account.
 */
import type { Resource } from '../api/meta.js';
import type { UpstreamSpec } from '../api/gloo/upstream.js';
import type { SettingsSpec } from '../api/gloo/settings.js';
import type * as ir from '../ir/index.js';
import type { Report } from './report.js';
import { DEFAULT_TRUST_DOMAIN, spiffeId } from '../mesh/identity/spiffe-id.js';

/** The SDS secret names glooctl writes for the Istio certificates (gloo constants/sds.go). */
export const ISTIO_CERTIFICATES = 'istio_server_cert';
export const ISTIO_VALIDATION_CONTEXT = 'istio_validation_context';
/** TLS_MODE_LABEL is the label Istio's injector puts on meshed workloads. */
export const TLS_MODE_LABEL = 'security.istio.io/tlsMode';
/**
 * AUTO_MTLS_ALPN is what auto-mTLS offers: Istio's HTTP ALPN, so a real Istio sidecar treats the
 * connection as HTTP and adds XFCC (with plain `istio` it would treat it as TCP).
 */
export const AUTO_MTLS_ALPN = ['istio-http/1.1'];
/**
 * AUTO_MTLS_ALPN_H2 is what auto-mTLS offers to an HTTP/2 upstream: Istio's `istio-h2`, and `h2`
 * so that a real Istio sidecar, which advertises h2 and http/1.1, settles on h2.
 */
export const AUTO_MTLS_ALPN_H2 = ['istio-h2', 'h2'];
/** FORBIDDEN_ALPN needs Istio's TCP metadata-exchange framing, which meshgate does not speak. */
const FORBIDDEN_ALPN = 'istio-peer-exchange';

/** IstioOptions are the Settings that decide mesh mTLS. */
export interface IstioOptions {
  readonly enableIntegration: boolean;
  readonly enableAutoMtls: boolean;
}

/** istioOptionsOf reads the Settings, warning about auto-mTLS without the integration (as Gloo logs). */
export function istioOptionsOf(settings: Resource<SettingsSpec> | undefined, report: Report): IstioOptions {
  const o = settings?.spec.gloo?.istioOptions;
  const enableIntegration = o?.enableIntegration ?? false;
  const enableAutoMtls = o?.enableAutoMtls ?? false;
  if (settings && enableAutoMtls && !enableIntegration) {
    report.warn(settings, 'spec.gloo.istioOptions.enableAutoMtls: Istio integration must be enabled to use auto mTLS (set enableIntegration: true); auto-mTLS is off');
  }
  return { enableIntegration, enableAutoMtls: enableAutoMtls && enableIntegration };
}

/** usesIstioSds tells an sslConfig that names the Istio certificates. */
export function usesIstioSds(spec: UpstreamSpec): boolean {
  const sds = spec.sslConfig?.sds;
  return sds?.certificatesSecretName === ISTIO_CERTIFICATES && sds.validationContextName === ISTIO_VALIDATION_CONTEXT;
}

/** istioSni is Istio's outbound SNI for an upstream (DNS-SRV-like subset key; trust domain fixed as Gloo does). */
function istioSni(u: Resource<UpstreamSpec>): string {
  if (u.spec.kube) return `outbound_.${u.spec.kube.servicePort}_._.${u.spec.kube.serviceName}.${u.spec.kube.serviceNamespace}.svc.cluster.local`;
  const h = u.spec.static?.hosts[0];
  if (h) return h.sniAddr ?? `outbound_.${h.port}_._.${h.addr}`;
  return '';
}

/** applyIstioMtls returns the endpoints with their mTLS settings filled in. */
export function applyIstioMtls(
  u: Resource<UpstreamSpec>, endpoints: ir.Endpoint[], protocol: ir.UpstreamProtocol, opts: IstioOptions, report: Report,
): ir.Endpoint[] {
  const namespace = u.spec.kube?.serviceNamespace;
  const withMtls = (e: ir.Endpoint, alpn: readonly string[]): ir.Endpoint => ({
    ...e,
    mtls: {
      sni: u.spec.sslConfig?.sni ?? istioSni(u),
      alpn,
      // Secure naming: the server must be the workload the endpoint says it is.
      identities: e.serviceAccount && namespace ? [spiffeId(namespace, e.serviceAccount)] : [],
      trustDomain: DEFAULT_TRUST_DOMAIN,
    },
  });
  if (u.spec.sslConfig) {
    if (!usesIstioSds(u.spec)) {
      report.warn(u, 'spec.sslConfig: TLS origination other than the Istio certificates is not supported by meshgate yet; connections are plaintext');
      return endpoints;
    }
    if (!opts.enableIntegration) {
      report.warn(u, 'spec.sslConfig.sds: names the Istio certificates but the Istio integration is off (Settings spec.gloo.istioOptions.enableIntegration); the gateway uses its mesh identity anyway');
    }
    const alpn = (u.spec.sslConfig.alpnProtocols ?? []).filter((p) => p !== FORBIDDEN_ALPN);
    if (alpn.length !== (u.spec.sslConfig.alpnProtocols ?? []).length) {
      report.warn(u, `spec.sslConfig.alpnProtocols: ${FORBIDDEN_ALPN} needs Istio's metadata exchange, which meshgate does not speak; not offered`);
    }
    return endpoints.map((e) => withMtls(e, alpn));
  }
  if (!opts.enableAutoMtls || u.spec.disableIstioAutoMtls) return endpoints;
  const auto = protocol === 'http2' ? AUTO_MTLS_ALPN_H2 : AUTO_MTLS_ALPN;
  return endpoints.map((e) => (e.labels[TLS_MODE_LABEL] === 'istio' ? withMtls(e, auto) : e));
}
