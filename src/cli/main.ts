/**
 * The meshgate CLI: argument parsing only; each command's work lives in commands/. Errors a
 * user can act on are printed as one `Error: …` line (plus details) with exit code 1.
 */
import { Command, Option, InvalidArgumentError } from 'commander';
import { CliError } from './errors.js';
import { ControlPlaneClient, DEFAULT_CONTROL_PLANE } from './client.js';
import { apply, get, deleteByName, deleteByFile } from './commands/resources.js';
import { validate } from './commands/validate.js';
import { up } from './commands/up.js';
import { httpbin } from './commands/httpbin.js';
import { version } from './version.js';

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

const print = (s: string) => process.stdout.write(`${s}\n`);

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
    .option('--demo', 'also start the bundled httpbin on port 8000 and apply examples/httpbin', false)
    .option('--workers <n>', 'proxy processes sharing the ports (one per core is fastest)', workerCount, 1)
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
    if (err instanceof CliError) {
      process.stderr.write(`Error: ${err.message}\n`);
      for (const d of err.details) process.stderr.write(`  ${d}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
}
