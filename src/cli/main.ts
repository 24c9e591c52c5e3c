/**
 * The meshgate CLI: argument parsing only; each command's work lives in commands/. Errors a
 * user can act on are printed as one `Error: …` line (plus details) with exit code 1.
 */
import { availableParallelism } from 'node:os';
import { Command, Option, InvalidArgumentError } from 'commander';
import { CliError } from './errors.js';
import { GatewayError } from '../errors.js';
import { ControlPlaneClient, DEFAULT_CONTROL_PLANE } from '../control-plane/client.js';
import { apply, get, deleteByName, deleteByFile } from './commands/resources.js';
import { validate } from './commands/validate.js';
import { up } from './commands/up.js';
import { httpbin } from './commands/httpbin.js';
import { version } from './version.js';
import { caServe, caRoot, tokenCreate, sidecar, parseLabel } from './commands/mesh.js';
import { enableMtls, disableMtls, inject, uninject } from './commands/istio.js';

function port(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^[0-9]+$/.test(v) || n > 65535) throw new InvalidArgumentError(`${name} must be a port number from 0 to 65535, got "${v}"`);
    return n;
  };
}

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^[0-9]+$/.test(v)) throw new InvalidArgumentError(`${name} must be a whole number, got "${v}"`);
    return n;
  };
}

/** defaultWorkers is one proxy process per core the process may use, within --workers' bounds. */
function defaultWorkers(): number {
  return Math.min(64, Math.max(1, availableParallelism()));
}

function workerCount(v: string): number {
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || n < 1 || n > 64) throw new InvalidArgumentError(`--workers must be a whole number from 1 to 64, got "${v}"`);
  return n;
}

/** controlPlaneOption is shared by every command that talks to the control plane. */
function withControlPlane(cmd: Command): Command {
  return cmd.addOption(
    new Option('--control-plane <url>', 'control-plane API address').env('MESHGATE_CONTROL_PLANE').default(DEFAULT_CONTROL_PLANE),
  );
}

function client(cmd: Command): ControlPlaneClient {
  const url = cmd.optsWithGlobals().controlPlane as string;
  if (!/^https?:\/\/[^/]+/.test(url)) throw new CliError(`--control-plane must be an http:// or https:// URL, got "${url}"`);
  return new ControlPlaneClient(url);
}

const print = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

export function buildProgram(): Command {
  const program = new Command('meshgate')
    .description('An API gateway for service meshes, for Gloo Gateway users')
    .version(version(), '--version')
    .showHelpAfterError()
    .configureOutput({ outputError: (str, write) => write(str) });

  program
    .command('up')
    .description('run the control plane and the gateway proxy in one foreground process')
    .option('--data-dir <dir>', 'data directory (default: $MESHGATE_HOME or ./.meshgate)')
    .option('--http-port <port>', 'port for the gateway-proxy Gateway (bindPort 8080)', port('--http-port'), 8080)
    .option('--https-port <port>', 'port for the gateway-proxy-ssl Gateway (bindPort 8443)', port('--https-port'), 8443)
    .option('--admin-port <port>', 'proxy admin port', port('--admin-port'), 19000)
    .option('--control-port <port>', 'control-plane API port', port('--control-port'), 9977)
    .option('--bind-address <addr>', 'address that Gateways with a wildcard bindAddress listen on', '127.0.0.1')
    .option('--drain-timeout <ms>', 'how long shutdown waits for in-flight requests', positiveInt('--drain-timeout'), 5000)
    .option('--ca-port <port>', 'mesh CA port (Istio: 15012)', port('--ca-port'), 15012)
    .option('--istio-integration', "turn the gateway's mesh integration on (Settings istioOptions.enableIntegration)")
    .option('--auto-mtls', 'turn auto-mTLS on (Settings istioOptions.enableAutoMtls)')
    .option('--istio-discovery-address <host:port>', "the CA the gateway gets its identity from (default: this process's CA)")
    .option('--istio-meta-cluster-id <id>', 'cluster ID (accepted like the Helm value; informational on one machine)')
    .option('--istio-meta-mesh-id <id>', 'mesh ID (accepted like the Helm value; informational on one machine)')
    .option('--demo', 'also run the mesh example: httpbin on 8000 behind a sidecar, mesh-wide STRICT, auto-mTLS', false)
    // One proxy process per core by default, as Envoy's --concurrency defaults to the hardware threads.
    .option('--workers <n>', 'proxy processes sharing the ports: one per core by default; 1 serves from this process', workerCount, defaultWorkers())
    .action(async (o) => up(o));

  withControlPlane(
    program
      .command('apply')
      .description('create or update resources from YAML (a file, a directory, or - for stdin)')
      .requiredOption('-f, --filename <path>', 'file, directory or - for stdin')
      .option('-n, --namespace <ns>', 'namespace for resources that name none'),
  ).action(async (o, cmd: Command) => {
    for (const line of await apply(client(cmd), o.filename, o.namespace)) print(line);
  });

  withControlPlane(
    program
      .command('get')
      .description('list resources or show one (kinds: upstreams/us, virtualservices/vs, gateways/gw, settings/st, services/svc, workloadentries/we)')
      .argument('<kind>')
      .argument('[name]')
      .option('-n, --namespace <ns>', 'namespace (default: gloo-system for Gloo kinds, default for others)')
      .option('-A, --all-namespaces', 'list across all namespaces', false)
      .option('-o, --output <format>', 'table, yaml or json', 'table'),
  ).action(async (kind, name, o, cmd: Command) => {
    print(await get(client(cmd), kind, name, o));
  });

  withControlPlane(
    program
      .command('delete')
      .description('delete a resource by kind and name, or those in a file')
      .argument('[kind]')
      .argument('[name]')
      .option('-n, --namespace <ns>', 'namespace')
      .option('-f, --filename <path>', 'delete the resources a file describes'),
  ).action(async (kind: string | undefined, name: string | undefined, o, cmd: Command) => {
    if (o.filename) {
      if (kind) throw new CliError('give either -f or KIND NAME, not both');
      const { lines, errors } = await deleteByFile(client(cmd), o.filename, o.namespace);
      lines.forEach(print);
      if (errors.length) throw new CliError(errors.join('\n'));
      return;
    }
    if (!kind || !name) throw new CliError('delete needs KIND NAME or -f FILE');
    print(await deleteByName(client(cmd), kind, name, o.namespace));
  });

  const proxyCmd = program.command('proxy').description('the gateway proxy');
  withControlPlane(
    proxyCmd
      .command('url')
      .description('print the URL of a gateway proxy (as glooctl proxy url)')
      .requiredOption('--name <name>', 'proxy name, e.g. gateway-proxy')
      .option('--port <name>', 'http or https', 'http'),
  ).action(async (o, cmd: Command) => {
    if (o.port !== 'http' && o.port !== 'https') throw new CliError(`--port must be http or https, got "${o.port}"`);
    const info = await client(cmd).call<{ ports: Record<string, { host: string; port: number }> }>('GET', `/v1/proxies/${encodeURIComponent(o.name)}`);
    const p = info.ports[o.port]!;
    // A wildcard address is reachable on loopback from this machine.
    const host = p.host === '::' || p.host === '0.0.0.0' ? '127.0.0.1' : p.host.includes(':') ? `[${p.host}]` : p.host;
    print(`${o.port}://${host}:${p.port}`);
  });

  const caCmd = program.command('ca').description("the mesh CA (Istio's CreateCertificate API over gRPC with TLS)");
  caCmd
    .command('serve', { isDefault: true })
    .description('run the CA alone in the foreground')
    .option('--data-dir <dir>', 'data directory holding the CA (default: $MESHGATE_HOME or ./.meshgate)')
    .option('--ca-port <port>', 'port (Istio: 15012)', port('--ca-port'), 15012)
    .option('--host <addr>', 'address', '127.0.0.1')
    .action(async (o) => caServe(o));
  caCmd
    .command('root')
    .description('print the mesh root certificate (PEM)')
    .option('--data-dir <dir>', 'data directory holding the CA')
    .action(async (o) => print(await caRoot(o)));

  program
    .command('token')
    .description('service-account tokens for the CA')
    .command('create')
    .description('issue a token with the claims of a Kubernetes service-account token (audience istio-ca)')
    .requiredOption('--namespace <ns>', 'the workload namespace')
    .requiredOption('--service-account <sa>', 'the workload service account')
    .option('--ttl <duration>', 'lifetime: 3600s, 30m, 12h, 7d (default 12h)')
    .option('--audience <aud>', 'audience', 'istio-ca')
    .option('--data-dir <dir>', 'data directory holding the signing key')
    .action(async (o) => print(await tokenCreate(o)));

  withControlPlane(
    program
      .command('sidecar')
      .description('run a sidecar beside a workload: mesh identity, WorkloadEntry registration, inbound mTLS')
      .requiredOption('--namespace <ns>', 'workload namespace')
      .requiredOption('--service-account <sa>', 'workload service account')
      .requiredOption('--service <name>', 'the Service the workload belongs to')
      .requiredOption('--app-port <port>', 'the app port on 127.0.0.1', port('--app-port'))
      .option('--inbound-port <port>', 'inbound listener', port('--inbound-port'), 15006)
      .option('--health-port <port>', 'health (/healthz/ready)', port('--health-port'), 15021)
      .addOption(new Option('--ca-address <host:port>', 'the CA').env('MESHGATE_CA_ADDRESS').default('127.0.0.1:15012'))
      .option('--token-file <file>', 'service-account token (default: $MESHGATE_TOKEN)')
      .option('--ca-root-file <file>', 'mesh root PEM (default: asked from the control plane)')
      .option('--workload-entry <name>', 'WorkloadEntry to write (default: the service name)')
      .option('--label <k=v>', 'workload label (repeatable)', parseLabel, [])
      .option('--bind-address <addr>', 'address to listen on', '127.0.0.1'),
  ).action(async (o) => {
    if (!/^[^:]+:[0-9]+$/.test(o.caAddress)) throw new CliError(`--ca-address must be host:port, got "${o.caAddress}"`);
    await sidecar(o);
  });

  const istio = program.command('istio').description("the gateway's Istio integration (as glooctl istio)");
  withControlPlane(
    istio
      .command('enable-mtls')
      .description("make an Upstream use Istio mTLS (writes glooctl's sslConfig)")
      .requiredOption('--upstream <name>', 'the Upstream')
      .option('-n, --namespace <ns>', 'its namespace', 'gloo-system'),
  ).action(async (o, cmd: Command) => print(await enableMtls(client(cmd), o.upstream, o.namespace)));
  withControlPlane(
    istio
      .command('disable-mtls')
      .description("remove an Upstream's sslConfig")
      .requiredOption('--upstream <name>', 'the Upstream')
      .option('-n, --namespace <ns>', 'its namespace', 'gloo-system'),
  ).action(async (o, cmd: Command) => print(await disableMtls(client(cmd), o.upstream, o.namespace)));
  withControlPlane(
    istio
      .command('inject')
      .description("turn the gateway's mesh integration on (Settings istioOptions.enableIntegration)")
      .option('--istio-namespace <ns>', 'accepted for glooctl compatibility', 'istio-system')
      .option('--istio-meta-mesh-id <id>', 'accepted for glooctl compatibility')
      .option('--istio-meta-cluster-id <id>', 'accepted for glooctl compatibility')
      .option('--istio-discovery-address <addr>', 'accepted for glooctl compatibility'),
  ).action(async (_o, cmd: Command) => print(await inject(client(cmd))));
  withControlPlane(
    istio
      .command('uninject')
      .description('turn the mesh integration off; refuses while Upstreams use the Istio certificates')
      .option('--include-upstreams', "also remove those Upstreams' sslConfig", false)
      .option('-n, --namespace <ns>', 'namespace of the Upstreams', 'gloo-system'),
  ).action(async (o, cmd: Command) => (await uninject(client(cmd), o.includeUpstreams, o.namespace)).forEach((l) => print(l)));

  program
    .command('httpbin')
    .description('run the bundled httpbin-compatible app')
    .option('--port <port>', 'port', port('--port'), 8000)
    .option('--host <addr>', 'address', '127.0.0.1')
    .action(async (o) => httpbin(o));

  program
    .command('validate')
    .description('check resources offline with the same pipeline the control plane runs')
    .requiredOption('-f, --filename <path>', 'file, directory or - for stdin')
    .option('-n, --namespace <ns>', 'namespace for resources that name none')
    .action(async (o) => {
      const { lines, ok } = await validate(o.filename, o.namespace);
      lines.forEach(print);
      if (!ok) process.exitCode = 1;
    });

  program
    .command('version')
    .description('print the version')
    .action(() => {
      print(`meshgate ${version()} (node ${process.version})`);
    });

  return program;
}

/** main runs the CLI; a CliError becomes one `Error:` line and exit code 1. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      process.exitCode = e.exitCode ?? 1;
      return;
    }
    // A CliError, or any error thrown on purpose (a GatewayError), is a message for the user.
    if (err instanceof CliError || err instanceof GatewayError) {
      process.stderr.write(`Error: ${err.message}\n`);
      for (const d of (err as { details?: readonly string[] }).details ?? []) process.stderr.write(`  ${d}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
}
