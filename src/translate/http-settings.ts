/**
 * HTTP listener settings: a Gateway's `httpGateway.options.httpConnectionManagerSettings` and
 * `connectionLimit` → ir.HttpSettings, defaults filled in. Unsupported Gloo fields are warned about.
 */
import type { Resource } from '../api/meta.js';
import type { GatewaySpec } from '../api/gateway/gateway.js';
import { UNSUPPORTED_HCM_SETTINGS, UNSUPPORTED_HTTP_LISTENER_OPTIONS } from '../api/gateway/http-listener-options.js';
import * as ir from '../ir/index.js';
import { type Report, warnUnsupported } from './report.js';
import { durationMs } from './duration.js';

/** translateHttpSettings reads a Gateway's HTTP options. */
export function translateHttpSettings(gw: Resource<GatewaySpec>, report: Report): ir.HttpSettings {
  const options = gw.spec.httpGateway?.options;
  const h = options?.httpConnectionManagerSettings;
  const base = 'spec.httpGateway.options';
  warnUnsupported(report, gw, options, UNSUPPORTED_HTTP_LISTENER_OPTIONS, base);
  warnUnsupported(report, gw, h, UNSUPPORTED_HCM_SETTINGS, `${base}.httpConnectionManagerSettings`);
  const d = ir.DEFAULT_HTTP_SETTINGS;
  const escaped = h?.pathWithEscapedSlashesAction;
  if (h?.forwardClientCertDetails !== undefined && h.forwardClientCertDetails !== 'SANITIZE') {
    report.warn(gw, `${base}.httpConnectionManagerSettings.forwardClientCertDetails: only SANITIZE is supported at the gateway; ${h.forwardClientCertDetails} is ignored`);
  }
  return {
    maxRequestHeadersBytes: (h?.maxRequestHeadersKb ?? d.maxRequestHeadersBytes / 1024) * 1024,
    maxHeadersCount: h?.maxHeadersCount ?? d.maxHeadersCount,
    requestHeadersTimeoutMs: durationMs(h?.requestHeadersTimeout) ?? d.requestHeadersTimeoutMs,
    streamIdleTimeoutMs: durationMs(h?.streamIdleTimeout) ?? d.streamIdleTimeoutMs,
    idleTimeoutMs: durationMs(h?.idleTimeout) ?? d.idleTimeoutMs,
    drainTimeoutMs: durationMs(h?.drainTimeout) ?? d.drainTimeoutMs,
    maxConnections: options?.connectionLimit?.maxActiveConnections ?? d.maxConnections,
    normalizePath: h?.normalizePath ?? d.normalizePath,
    mergeSlashes: h?.mergeSlashes ?? d.mergeSlashes,
    pathWithEscapedSlashesAction:
      escaped === undefined || escaped === 'IMPLEMENTATION_SPECIFIC_DEFAULT' ? d.pathWithEscapedSlashesAction : (escaped as ir.HttpSettings['pathWithEscapedSlashesAction']),
    headersWithUnderscoresAction: (h?.headersWithUnderscoresAction as ir.HttpSettings['headersWithUnderscoresAction'] | undefined) ?? d.headersWithUnderscoresAction,
    useRemoteAddress: h?.useRemoteAddress ?? d.useRemoteAddress,
    xffNumTrustedHops: h?.xffNumTrustedHops ?? d.xffNumTrustedHops,
    skipXffAppend: h?.skipXffAppend ?? d.skipXffAppend,
    generateRequestId: h?.generateRequestId ?? d.generateRequestId,
    acceptHttp10: h?.acceptHttp10 ?? d.acceptHttp10,
  };
}
