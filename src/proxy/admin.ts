/**
 * The proxy's admin port (Envoy's 19000): /ready, /config_dump, /stats/prometheus, /clusters,
 * /listeners. Read-only; it binds to loopback by default because it shows the whole config.
 */
import { createServer, type Server } from 'node:http';
import type { ProxyHandle } from './handle.js';

/** CertInfo is what /certs shows of a certificate: public facts only. */
export interface CertInfo {
  readonly identity: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly secondsUntilExpiry: number;
  readonly sha256: string;
}

/** AdminExtras are pages the proxy does not own itself (its mesh certificates come from mesh/). */
export interface AdminExtras {
  readonly certs?: () => readonly CertInfo[];
}

/** certMetrics renders the certificate expiry gauge in Prometheus text format. */
function certMetrics(certs: readonly CertInfo[]): string {
  if (!certs.length) return '';
  const lines = [
    '# HELP meshgate_workload_cert_expiry_seconds Seconds until the proxy\'s mesh certificate expires.',
    '# TYPE meshgate_workload_cert_expiry_seconds gauge',
    ...certs.map((c) => `meshgate_workload_cert_expiry_seconds{identity="${c.identity}"} ${c.secondsUntilExpiry}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** startAdmin serves the admin endpoints for a proxy. */
export async function startAdmin(proxy: ProxyHandle, host: string, port: number, extras: AdminExtras = {}): Promise<{ server: Server; port: number }> {
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    try {
      switch (path) {
        case '/ready':
          // 503 until the first snapshot is applied, as Envoy's /ready says PRE_INITIALIZING.
          return proxy.current ? send(200, 'text/plain', 'LIVE\n') : send(503, 'text/plain', 'PRE_INITIALIZING\n');
        case '/config_dump':
          // The snapshot never holds key material: it names credentials, it does not carry them.
          return send(200, 'application/json', JSON.stringify({ snapshot: proxy.current ?? null, listeners: proxy.addresses() }, null, 2));
        case '/stats/prometheus':
          return send(200, proxy.metricsContentType, (await proxy.metrics()) + certMetrics(extras.certs?.() ?? []));
        case '/certs':
          // Identity and validity only; keys never leave the credential store.
          return send(200, 'application/json', JSON.stringify({ certificates: extras.certs?.() ?? [] }, null, 2));
        case '/clusters':
          return send(200, 'text/plain', clustersText(proxy));
        case '/listeners':
          return send(200, 'application/json', JSON.stringify(proxy.addresses(), null, 2));
        default:
          return send(404, 'text/plain', 'admin paths: /ready /config_dump /stats/prometheus /clusters /listeners /certs\n');
      }
    } catch (err) {
      send(500, 'text/plain', `${(err as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr ? addr.port : port };
}

/** clustersText lists each upstream's endpoints, one per line, like Envoy's /clusters. */
function clustersText(proxy: ProxyHandle): string {
  const s = proxy.current;
  if (!s) return '';
  const lines: string[] = [];
  for (const u of Object.values(s.upstreams)) {
    if (u.endpoints.length === 0) lines.push(`${u.name}::no endpoints`);
    for (const e of u.endpoints) lines.push(`${u.name}::${e.address}:${e.port}::labels::${JSON.stringify(e.labels)}`);
  }
  return lines.join('\n') + '\n';
}
