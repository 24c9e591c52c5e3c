/**
 * The mesh version of the example, for `meshgate up --demo`: httpbin on port 8000 behind a
 * sidecar (its own processes, as in the walk-through), mesh-wide STRICT, and auto-mTLS on, so
 * the first `curl …/headers` already shows X-Forwarded-Client-Cert with the gateway's identity.
 */
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { ControlPlaneClient } from '../../control-plane/client.js';
import type { TokenIssuer } from '../../mesh/ca/token.js';
import { CliError } from '../errors.js';
import { apply } from './resources.js';
import { setIstioOptions } from './istio.js';

/** REPO_ROOT is where bin/ and examples/ live (dist/cli/commands → three levels up). */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** DEMO_HTTPBIN_PORT is the port examples/httpbin's WorkloadEntry names. */
export const DEMO_HTTPBIN_PORT = 8000;
const SIDECAR_HEALTH_PORT = 15021;

export interface Demo {
  readonly lines: readonly string[];
  /** stop ends the sidecar first (it restores the WorkloadEntry), then httpbin. */
  stop(): Promise<void>;
}

function startChild(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [join(REPO_ROOT, 'bin', 'meshgate'), ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ...env },
  });
}

async function waitFor(url: string, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new CliError(`the demo ${what} did not start (${url})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopChild(c: ChildProcess | undefined): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  await new Promise<void>((r) => {
    c.once('exit', () => r());
    c.kill('SIGTERM');
  });
}

export async function startDemo(o: { controlPort: number; caPort: number; tokens: TokenIssuer; log: Logger }): Promise<Demo> {
  const controlPlane = `http://127.0.0.1:${o.controlPort}`;
  const client = new ControlPlaneClient(controlPlane);
  const lines: string[] = [];
  let httpbin: ChildProcess | undefined;
  let sidecar: ChildProcess | undefined;
  const stop = async () => {
    await stopChild(sidecar);
    await stopChild(httpbin);
  };
  try {
    // The walk-through's Helm values: integration and auto-mTLS on.
    await setIstioOptions(client, { enableIntegration: true, enableAutoMtls: true });
    httpbin = startChild(['httpbin', '--port', String(DEMO_HTTPBIN_PORT)]);
    await waitFor(`http://127.0.0.1:${DEMO_HTTPBIN_PORT}/uuid`, httpbin, 'httpbin');
    lines.push(...(await apply(client, join(REPO_ROOT, 'examples', 'httpbin'))));
    const token = await o.tokens.create({ namespace: 'default', serviceAccount: 'httpbin' });
    sidecar = startChild(
      ['sidecar', '--namespace', 'default', '--service-account', 'httpbin', '--service', 'httpbin', '--app-port', String(DEMO_HTTPBIN_PORT),
        '--ca-address', `127.0.0.1:${o.caPort}`, '--control-plane', controlPlane],
      // The token goes by environment rather than a file nobody would clean up.
      { MESHGATE_TOKEN: token },
    );
    await waitFor(`http://127.0.0.1:${SIDECAR_HEALTH_PORT}/healthz/ready`, sidecar, 'sidecar');
    lines.push(...(await apply(client, join(REPO_ROOT, 'examples', 'httpbin', 'mesh', 'peer-authentication.yaml'))));
  } catch (err) {
    await stop();
    throw err;
  }
  lines.push(
    `  httpbin            http://127.0.0.1:${DEMO_HTTPBIN_PORT}, behind its sidecar on 127.0.0.1:15006 (spiffe://cluster.local/ns/default/sa/httpbin)`,
    '  mesh               PeerAuthentication istio-system/test: STRICT; auto-mTLS on',
  );
  return { lines, stop };
}
