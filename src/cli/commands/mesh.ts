/** `meshgate ca`, `ca root`, `token create` and `sidecar`: the mesh side of one machine. */
import { readFile } from 'node:fs/promises';
import { CertificateAuthority } from '../../mesh/ca/certificate-authority.js';
import { TokenIssuer } from '../../mesh/ca/token.js';
import { startCaServer } from '../../mesh/ca/ca-server.js';
import { startSidecar, type SidecarOptions } from '../../mesh/sidecar/sidecar.js';
import { ControlPlaneClient } from '../../control-plane/client.js';
import { createLogger } from '../../log.js';
import { CliError } from '../errors.js';
import { dataDirFrom } from './up.js';

/** parseTtl reads `30s`, `15m`, `12h`, `7d` or a number of seconds. */
export function parseTtl(v: string): number {
  const m = /^([0-9]+)(s|m|h|d)?$/.exec(v);
  if (!m) throw new CliError(`--ttl must be a duration such as 3600s, 30m, 12h or 7d, got "${v}"`);
  const n = Number(m[1]);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  if (n <= 0) throw new CliError(`--ttl must be greater than zero, got "${v}"`);
  return n * unit;
}

/** caServe runs the CA alone in the foreground. */
export async function caServe(o: { dataDir?: string; caPort: number; host: string }): Promise<void> {
  const log = createLogger();
  const dir = dataDirFrom(o.dataDir);
  const ca = await CertificateAuthority.loadOrCreate(dir);
  const tokens = await TokenIssuer.loadOrCreate(dir);
  const server = await startCaServer({ ca, tokens, host: o.host, port: o.caPort, log }).catch((err: Error & { code?: string }) => {
    throw err.code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(err.message) ? new CliError(`port ${o.caPort} is already in use (CA, --ca-port)`) : err;
  });
  process.stdout.write(`meshgate CA listening on ${o.host}:${server.port} (trust domain ${ca.trustDomain}); root: meshgate ca root\n`);
  await new Promise<void>((resolve) => {
    const stop = () => void server.close().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** caRoot prints the root certificate, creating the CA on first use as `up` would. */
export async function caRoot(o: { dataDir?: string }): Promise<string> {
  return (await CertificateAuthority.loadOrCreate(dataDirFrom(o.dataDir))).rootPem.trimEnd();
}

/** tokenCreate issues a service-account token for a workload, signed with the data directory's key. */
export async function tokenCreate(o: { dataDir?: string; namespace: string; serviceAccount: string; ttl?: string; audience: string }): Promise<string> {
  const tokens = await TokenIssuer.loadOrCreate(dataDirFrom(o.dataDir));
  return tokens.create({ namespace: o.namespace, serviceAccount: o.serviceAccount, audience: o.audience, ...(o.ttl ? { ttlSeconds: parseTtl(o.ttl) } : {}) });
}

/** SidecarCliOptions are the sidecar's flags: its settings, with files and URLs in place of what they hold. */
export type SidecarCliOptions = Pick<
  SidecarOptions,
  'namespace' | 'serviceAccount' | 'service' | 'appPort' | 'inboundPort' | 'healthPort' | 'caAddress' | 'bindAddress'
> & {
  readonly tokenFile?: string;
  readonly caRootFile?: string;
  readonly workloadEntry?: string;
  readonly label: string[];
  readonly controlPlane: string;
};

/** parseLabel reads one `--label k=v`. */
export function parseLabel(v: string, prev: string[] = []): string[] {
  if (!/^[^=]+=.*$/.test(v)) throw new CliError(`--label must be k=v, got "${v}"`);
  return [...prev, v];
}

/** sidecar runs a sidecar in the foreground until SIGINT/SIGTERM, then puts things back. */
export async function sidecar(o: SidecarCliOptions): Promise<void> {
  const log = createLogger();
  const client = new ControlPlaneClient(o.controlPlane);
  const token = o.tokenFile
    ? (await readFile(o.tokenFile, 'utf8').catch(() => {
        throw new CliError(`cannot read --token-file "${o.tokenFile}"`);
      })).trim()
    : process.env.MESHGATE_TOKEN;
  if (!token) throw new CliError('a service-account token is needed: --token-file FILE or MESHGATE_TOKEN (make one with `meshgate token create`)');
  const rootPem = o.caRootFile
    ? await readFile(o.caRootFile, 'utf8').catch(() => {
        throw new CliError(`cannot read --ca-root-file "${o.caRootFile}"`);
      })
    : (await client.call<{ rootPem: string }>('GET', '/v1/ca/root')).rootPem;
  const labels = Object.fromEntries(o.label.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const running = await startSidecar({
    namespace: o.namespace, serviceAccount: o.serviceAccount, service: o.service, appPort: o.appPort,
    inboundPort: o.inboundPort, healthPort: o.healthPort, caAddress: o.caAddress, token, rootPem,
    workloadEntry: o.workloadEntry ?? o.service, labels, bindAddress: o.bindAddress, client, log,
  }).catch((err: Error & { code?: string }) => {
    if (err.code === 'EADDRINUSE') throw new CliError(`${err.message.replace(/^listen /, '')}: a port of the sidecar is already in use (--inbound-port, --health-port)`);
    throw err;
  });
  process.stdout.write(`sidecar for ${o.namespace}/${o.service} is up as ${running.identity}: inbound 127.0.0.1:${running.inboundPort} → app 127.0.0.1:${o.appPort}, health :${running.healthPort}/healthz/ready\n`);
  await new Promise<void>((resolve) => {
    const stop = () => void running.stop().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  log.flush();
}
