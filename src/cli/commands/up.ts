/**
 * `meshgate up`: the control plane, its API and the gateway proxy in one foreground process
 * (the embedded default). With --demo it also starts the bundled httpbin as its own process
 * and applies examples/httpbin, so the walk-through's first curl answers 200.
 */
import { resolve, join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
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
import { ControlPlaneClient } from '../client.js';
import { apply } from './resources.js';
import { GatewayError } from '../../errors.js';
import { version } from '../version.js';

export interface UpOptions {
  readonly dataDir?: string;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly adminPort: number;
  readonly controlPort: number;
  readonly bindAddress: string;
  readonly drainTimeout: number;
  readonly demo: boolean;
  readonly workers: number;
}

/** REPO_ROOT is where bin/ and examples/ live (dist/cli/commands → three levels up). */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PROXY_NAME = 'gateway-proxy';
/** DEMO_HTTPBIN_PORT is the port examples/httpbin's WorkloadEntry names. */
const DEMO_HTTPBIN_PORT = 8000;

/** dataDirFrom resolves the data directory: --data-dir, else $MESHGATE_HOME, else ./.meshgate. */
export function dataDirFrom(flag: string | undefined): string {
  return resolve(flag ?? process.env.MESHGATE_HOME ?? '.meshgate');
}

async function listenOrExplain<T>(what: string, port: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE') throw new CliError(`port ${port} is already in use (${what})`);
    if (code === 'EACCES') throw new CliError(`no permission to listen on port ${port} (${what})`);
    throw err;
  }
}

export async function up(o: UpOptions): Promise<void> {
  const log = createLogger();
  const dataDir = dataDirFrom(o.dataDir);
  const cp = new ControlPlane({ store: new FileStore(dataDir), log: log.child({ component: 'control-plane' }), proxies: [PROXY_NAME] });
  const proxyOpts: ProxyOptions = {
    portMap: { 8080: o.httpPort, 8443: o.httpsPort },
    bindAddress: o.bindAddress,
    drainMs: o.drainTimeout,
    log: log.child({ component: 'proxy' }),
  };
  // A forked proxy worker runs only the proxy, fed by the primary (see proxy/workers.ts).
  if (isProxyWorker()) return runProxyWorker(proxyOpts);
  const proxy: ProxyHandle = o.workers > 1 ? await WorkerPool.start(o.workers, proxyOpts) : new Proxy(proxyOpts);
  // The control API and the admin port bind first, so a port in use fails before anything starts.
  const api = await listenOrExplain('control-plane API, --control-port', o.controlPort, () => startApiServer(cp, '127.0.0.1', o.controlPort));
  const admin = await listenOrExplain('proxy admin, --admin-port', o.adminPort, () => startAdmin(proxy, '127.0.0.1', o.adminPort));
  await cp.start();

  const report = () => {
    const http = proxy.hostPortFor('::', 8080);
    const https = proxy.hostPortFor('::', 8443);
    cp.reportProxy({ name: PROXY_NAME, listeners: proxy.addresses(), ports: { http, https } });
  };
  report();
  const first = new Promise<void>((resolveFirst, rejectFirst) => {
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
  try {
    await first;
  } catch (err) {
    await closeAll([api.server, admin.server]);
    await proxy.close(0);
    if (err instanceof GatewayError) throw new CliError(err.message);
    throw err;
  }

  let child: ChildProcess | undefined;
  if (o.demo) child = await startDemo(api.port);

  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`meshgate ${version()} is up; data directory ${dataDir}${o.workers > 1 ? `; ${o.workers} proxy workers` : ''}`);
  out(`  gateway-proxy      http://${display(proxy.hostPortFor('::', 8080))}  (Gateway gloo-system.gateway-proxy, bindPort 8080)`);
  out(`  gateway-proxy-ssl  https://${display(proxy.hostPortFor('::', 8443))}  (Gateway gloo-system.gateway-proxy-ssl, bindPort 8443; listens once a VirtualService has sslConfig)`);
  out(`  admin              http://127.0.0.1:${admin.port}  (/ready /config_dump /stats/prometheus /clusters)`);
  out(`  control plane      http://127.0.0.1:${api.port}`);
  if (child) out(`  httpbin            http://127.0.0.1:${DEMO_HTTPBIN_PORT}  (examples/httpbin applied)`);
  out(`Try: curl $(./bin/meshgate proxy url --name gateway-proxy)/headers`);

  await new Promise<void>((resolveStop) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, 'draining');
      child?.kill('SIGTERM');
      void (async () => {
        await closeAll([api.server, admin.server]);
        await proxy.close(o.drainTimeout);
        log.flush();
        resolveStop();
      })();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
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

/** startDemo starts `meshgate httpbin` as a child process and applies examples/httpbin. */
async function startDemo(controlPort: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'meshgate'), 'httpbin', '--port', String(DEMO_HTTPBIN_PORT)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await new Promise<void>((resolveReady, rejectReady) => {
    const deadline = Date.now() + 10_000;
    const probe = async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${DEMO_HTTPBIN_PORT}/uuid`);
        if (res.ok) return resolveReady();
      } catch {
        /* not up yet */
      }
      if (child.exitCode !== null || Date.now() > deadline) return rejectReady(new CliError(`the demo httpbin did not start on port ${DEMO_HTTPBIN_PORT}`));
      setTimeout(probe, 50);
    };
    void probe();
  });
  const client = new ControlPlaneClient(`http://127.0.0.1:${controlPort}`);
  for (const line of await apply(client, join(REPO_ROOT, 'examples', 'httpbin'))) process.stdout.write(`${line}\n`);
  return child;
}
