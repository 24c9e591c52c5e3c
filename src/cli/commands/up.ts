/**
 * `meshgate up`: the embedded default in one foreground process — the control plane and its
 * API, the mesh CA, and the gateway proxy holding its mesh identity
 * (spiffe://cluster.local/ns/gloo-system/sa/gateway-proxy) fetched from the CA over Istio's API,
 * as the istio-proxy agent does beside Gloo's Envoy. With --demo it also runs the mesh example.
 */
import { resolve } from 'node:path';
import type { Server } from 'node:http';
import { FileStore } from '../../config/file/file-store.js';
import { ControlPlane } from '../../control-plane/control-plane.js';
import { startApiServer } from '../../control-plane/api-server.js';
import { Proxy, type ProxyOptions } from '../../proxy/proxy.js';
import type { ProxyHandle } from '../../proxy/handle.js';
import { WorkerPool, isProxyWorker, runProxyWorker } from '../../proxy/workers.js';
import { startAdmin } from '../../proxy/admin.js';
import { createLogger } from '../../log.js';
import { CliError } from '../errors.js';
import { GatewayError } from '../../errors.js';
import { version } from '../version.js';
import { CertificateAuthority } from '../../mesh/ca/certificate-authority.js';
import { TokenIssuer } from '../../mesh/ca/token.js';
import { startCaServer } from '../../mesh/ca/ca-server.js';
import { requestCertificate } from '../../mesh/sds/ca-client.js';
import { CredentialStore } from '../../mesh/sds/credential-store.js';
import { credentialSource } from '../../mesh/sds/credential-source.js';
import { certificateReport } from '../../mesh/sds/certificate-report.js';
import type { Resource } from '../../api/meta.js';
import type { SettingsSpec } from '../../api/gloo/settings.js';
import { GLOO_NAMESPACE } from '../../api/kinds.js';
import { startDemo, type Demo } from './demo.js';

export interface UpOptions {
  readonly dataDir?: string;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly adminPort: number;
  readonly controlPort: number;
  readonly caPort: number;
  readonly bindAddress: string;
  readonly drainTimeout: number;
  readonly demo: boolean;
  readonly workers: number;
  readonly istioIntegration?: boolean;
  readonly autoMtls?: boolean;
  readonly istioDiscoveryAddress?: string;
  readonly istioMetaClusterId?: string;
  readonly istioMetaMeshId?: string;
}

const PROXY_NAME = 'gateway-proxy';
/** GATEWAY_WORKLOAD is the gateway's service account, as Gloo's Helm chart names it. */
const GATEWAY_WORKLOAD = { namespace: GLOO_NAMESPACE, serviceAccount: 'gateway-proxy' };

/** dataDirFrom resolves the data directory: --data-dir, else $MESHGATE_HOME, else ./.meshgate. */
export function dataDirFrom(flag: string | undefined): string {
  return resolve(flag ?? process.env.MESHGATE_HOME ?? '.meshgate');
}

async function listenOrExplain<T>(what: string, port: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(e.message ?? '')) throw new CliError(`port ${port} is already in use (${what})`);
    if (e.code === 'EACCES') throw new CliError(`no permission to listen on port ${port} (${what})`);
    throw err;
  }
}

export async function up(o: UpOptions): Promise<void> {
  const log = createLogger();
  const dataDir = dataDirFrom(o.dataDir);
  const proxyOpts: ProxyOptions = {
    portMap: { 8080: o.httpPort, 8443: o.httpsPort },
    bindAddress: o.bindAddress,
    drainMs: o.drainTimeout,
    log: log.child({ component: 'proxy' }),
  };
  // A forked proxy worker runs only the proxy, fed by the primary (see proxy/workers.ts).
  if (isProxyWorker()) return runProxyWorker(proxyOpts);

  const cp = new ControlPlane({ store: new FileStore(dataDir), log: log.child({ component: 'control-plane' }), proxies: [PROXY_NAME] });
  // The ports bind first, so a port in use fails before anything else starts.
  const api = await listenOrExplain('control-plane API, --control-port', o.controlPort, () => startApiServer(cp, '127.0.0.1', o.controlPort));
  const ca = await CertificateAuthority.loadOrCreate(dataDir);
  const tokens = await TokenIssuer.loadOrCreate(dataDir);
  const caServer = await listenOrExplain('CA, --ca-port', o.caPort, () => startCaServer({ ca, tokens, host: '127.0.0.1', port: o.caPort, log }));
  cp.caRootPem = ca.rootPem;

  // The gateway's identity comes from the CA over its API, token and all, like any workload's.
  const caAddress = o.istioDiscoveryAddress ?? `127.0.0.1:${caServer.port}`;
  const creds = new CredentialStore({
    fetch: async () => requestCertificate({ address: caAddress, rootPem: ca.rootPem, token: await tokens.create(GATEWAY_WORKLOAD) }),
    log: log.child({ component: 'credentials' }),
  });
  await creds.start();

  let proxy: ProxyHandle;
  if (o.workers > 1) {
    // TLS Secrets reach the workers over IPC with each snapshot, from the control plane's translation.
    const pool = await WorkerPool.start(o.workers, { ...proxyOpts, secrets: cp });
    pool.setCredential(creds.current!);
    creds.onChange((c) => pool.setCredential(c));
    proxy = pool;
  } else {
    // The proxy reads the TLS Secrets its snapshots name from the control plane, in process.
    proxy = new Proxy({ ...proxyOpts, credentials: credentialSource(creds), secrets: cp });
  }
  const admin = await listenOrExplain('proxy admin, --admin-port', o.adminPort, () =>
    startAdmin(proxy, '127.0.0.1', o.adminPort, { certs: () => certificateReport(creds.ready ? creds.current : undefined) }),
  );
  await cp.start();
  await applyIstioFlags(cp, o);

  const report = () => {
    cp.reportProxy({ name: PROXY_NAME, listeners: proxy.addresses(), ports: { http: proxy.hostPortFor('::', 8080), https: proxy.hostPortFor('::', 8443) } });
  };
  report();
  const stopAll = async (drainMs: number) => {
    await closeAll([api.server, admin.server]);
    await caServer.close();
    await proxy.close(drainMs);
    creds.stop();
  };
  try {
    await firstSnapshot(cp, proxy, report, log);
  } catch (err) {
    await stopAll(0);
    if (err instanceof GatewayError) throw new CliError(err.message);
    throw err;
  }

  let demo: Demo | undefined;
  if (o.demo) {
    try {
      demo = await startDemo({ controlPort: api.port, tokens, caPort: caServer.port, log });
    } catch (err) {
      await stopAll(0);
      throw err;
    }
  }

  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`meshgate ${version()} is up; data directory ${dataDir}${o.workers > 1 ? `; ${o.workers} proxy workers` : ''}`);
  out(`  gateway-proxy      http://${display(proxy.hostPortFor('::', 8080))}  (Gateway gloo-system.gateway-proxy, bindPort 8080)`);
  out(`  gateway-proxy-ssl  https://${display(proxy.hostPortFor('::', 8443))}  (Gateway gloo-system.gateway-proxy-ssl, bindPort 8443; listens once a VirtualService has sslConfig)`);
  out(`  admin              http://127.0.0.1:${admin.port}  (/ready /config_dump /stats/prometheus /clusters /certs)`);
  out(`  control plane      http://127.0.0.1:${api.port}`);
  out(`  CA                 127.0.0.1:${caServer.port}  (gateway identity ${creds.current!.identity})`);
  for (const line of demo?.lines ?? []) out(line);
  out(`Try: curl $(./bin/meshgate proxy url --name gateway-proxy)/headers`);

  await new Promise<void>((resolveStop) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, 'draining');
      void (async () => {
        await demo?.stop();
        await stopAll(o.drainTimeout);
        log.flush();
        resolveStop();
      })();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

/** firstSnapshot feeds every snapshot to the proxy and resolves once the first one is served. */
function firstSnapshot(cp: ControlPlane, proxy: ProxyHandle, report: () => void, log: ReturnType<typeof createLogger>): Promise<void> {
  return new Promise<void>((resolveFirst, rejectFirst) => {
    let settled = false;
    cp.subscribe(PROXY_NAME, (s) => {
      proxy.applySnapshot(s).then(
        () => {
          report();
          if (!settled) (settled = true), resolveFirst();
        },
        (err: Error) => {
          // A later snapshot that cannot be applied is logged; the last good one keeps serving.
          log.error({ err: { message: err.message, code: (err as GatewayError).code } }, 'snapshot not applied');
          if (!settled) (settled = true), rejectFirst(err);
        },
      );
    });
  });
}

/**
 * applyIstioFlags writes --istio-integration / --auto-mtls into the Settings, as Gloo's Helm
 * values `global.istioIntegration.enabled` / `enableAutoMtls` do.
 */
async function applyIstioFlags(cp: ControlPlane, o: UpOptions): Promise<void> {
  if (o.istioIntegration === undefined && o.autoMtls === undefined) return;
  const key = { kind: 'Settings', namespace: GLOO_NAMESPACE, name: 'default' };
  const s = cp.store.get(key) as Resource<SettingsSpec> | undefined;
  if (!s) throw new CliError('Settings gloo-system/default are missing from the data directory; apply them before using --istio-integration or --auto-mtls');
  const istioOptions = {
    ...s.spec.gloo?.istioOptions,
    ...(o.istioIntegration !== undefined ? { enableIntegration: o.istioIntegration } : {}),
    ...(o.autoMtls !== undefined ? { enableAutoMtls: o.autoMtls } : {}),
  };
  const { resourceVersion: _rv, ...metadata } = s.metadata;
  await cp.store.put({ ...s, metadata, spec: { ...s.spec, gloo: { ...s.spec.gloo, istioOptions } } });
  await cp.settled();
}

function display(a: { host: string; port: number }): string {
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

async function closeAll(servers: Server[]): Promise<void> {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((r) => {
          s.close(() => r());
          s.closeAllConnections();
        }),
    ),
  );
}
