// HTTPS termination through bin/meshgate, as a user does it: apply a TLS Secret (made at run
// time) and a VirtualService with sslConfig.secretRef, ask `proxy url --port https`, curl it.
// The Secret never comes back out: `get secret -o yaml` shows markers, the data file is 0600.
// Then the same with --workers 2, where the Secret reaches the workers over IPC.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { runCli, runCommand, startCli, upReady, type Background } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';
import { createCa, tlsSecretYaml, type KeyPair, type TestCa } from '../helpers/tls-pki.js';

const HOST = 'secure.example.com';

let dir: string;
let ca: TestCa;
let site: KeyPair;
let httpbin: Background;
let httpbinPort: number;
const procs: Background[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-https-e2e-'));
  ca = await createCa('e2e CA');
  site = await ca.issue({ cn: HOST });
  await writeFile(join(dir, 'ca.pem'), ca.certPem);
  httpbinPort = await freePort();
  httpbin = startCli(['httpbin', '--port', String(httpbinPort)]);
  procs.push(httpbin);
  await eventually(() => assert.match(httpbin.output(), /listening on http:\/\/127\.0\.0\.1:\d+/), { timeoutMs: 10_000 });
});

after(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGTERM')));
  await rm(dir, { recursive: true, force: true });
});

async function startUp(name: string, extra: string[] = []) {
  const ports = { http: await freePort(), https: await freePort(), admin: await freePort(), control: await freePort(), ca: await freePort() };
  const dataDir = join(dir, name);
  const up = startCli([
    'up', '--data-dir', dataDir, '--http-port', String(ports.http), '--https-port', String(ports.https),
    '--admin-port', String(ports.admin), '--control-port', String(ports.control), '--ca-port', String(ports.ca), ...extra,
  ]);
  procs.push(up);
  await upReady(up, ports.admin);
  return { up, ports, dataDir, cp: ['--control-plane', `http://127.0.0.1:${ports.control}`] };
}

/** applyHttps writes the user's files and applies them: the Secret in `default`, the route in gloo-system. */
async function applyHttps(cp: string[]): Promise<void> {
  const secretFile = join(dir, 'secret.yaml');
  // No namespace: a Secret goes to `default`, as with kubectl.
  await writeFile(secretFile, tlsSecretYaml('site-tls', 'default', site).replace(', namespace: default}', '}'), { mode: 0o600 });
  const vsFile = join(dir, 'vs.yaml');
  await writeFile(vsFile, `apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: httpbin}
spec:
  static:
    hosts: [{addr: 127.0.0.1, port: ${httpbinPort}}]
---
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: secure}
spec:
  sslConfig:
    secretRef: {name: site-tls, namespace: default}
  virtualHost:
    domains: [${HOST}]
    routes:
    - matchers: [{prefix: /}]
      routeAction: {single: {upstream: {name: httpbin}}}
`);
  const s = await runCli(['apply', '-f', secretFile, ...cp]);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.stdout.trim(), 'secret/site-tls created');
  const v = await runCli(['apply', '-f', vsFile, ...cp]);
  assert.equal(v.code, 0, v.stderr);
}

/** curlHttps follows the user's steps: proxy url --port https, then curl with the CA. */
async function curlHttps(cp: string[], path: string) {
  const url = await runCli(['proxy', 'url', '--name', 'gateway-proxy', '--port', 'https', ...cp]);
  assert.equal(url.code, 0, url.stderr);
  const m = /^https:\/\/127\.0\.0\.1:(\d+)$/.exec(url.stdout.trim());
  assert.ok(m, `proxy url printed ${url.stdout}`);
  const port = m[1]!;
  return runCommand('curl', [
    '-q', '-sS', '-v', '--noproxy', '*', '--max-time', '10', '--cacert', join(dir, 'ca.pem'),
    '--resolve', `${HOST}:${port}:127.0.0.1`, '-w', '\n%{http_code}', `https://${HOST}:${port}${path}`,
  ]);
}

/**
 * tlsExchange makes one HTTPS/1.1 request on a new connection, offering session if given, and
 * tells whether the session was resumed and the session (ticket) the server sent.
 */
function tlsExchange(port: number, session?: Buffer): Promise<{ reused: boolean; session: Buffer }> {
  return new Promise((resolve, reject) => {
    let ticket: Buffer | undefined;
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: HOST, ca: ca.certPem, ALPNProtocols: ['http/1.1'], ...(session ? { session } : {}) });
    socket.on('session', (s: Buffer) => (ticket = s));
    socket.on('error', reject);
    let reused = false;
    socket.once('secureConnect', () => {
      reused = socket.isSessionReused();
      socket.write(`GET /get HTTP/1.1\r\nhost: ${HOST}\r\nconnection: close\r\n\r\n`);
    });
    let reply = '';
    socket.on('data', (d: Buffer) => (reply += d.toString('latin1')));
    socket.on('close', () => {
      if (!reply.startsWith('HTTP/1.1 200')) return reject(new Error(`no 200: ${reply.slice(0, 80)}`));
      const s = ticket ?? session;
      if (!s) return reject(new Error('the server sent no session ticket'));
      resolve({ reused, session: s });
    });
  });
}

test('a Secret and a VirtualService with sslConfig serve httpbin over HTTPS; the key never comes back out', async () => {
  const { cp, dataDir, ports } = await startUp('single');
  await applyHttps(cp);
  const r = await eventually(async () => {
    const c = await curlHttps(cp, '/headers');
    assert.equal(c.stdout.trim().split('\n').at(-1), '200', c.stderr);
    return c;
  }, { timeoutMs: 10_000 });
  assert.match(r.stderr, /subject: CN=secure\.example\.com/);
  assert.match(r.stderr, /SSL certificate verify ok/);
  // curl offers h2 first and the ssl Gateway's listener takes it (Gloo's default ALPN).
  assert.match(r.stderr, /ALPN: server accepted h2/);
  assert.match(r.stderr, /< HTTP\/2 200/);
  const body = JSON.parse(r.stdout.trim().split('\n').slice(0, -1).join('\n')) as { headers: Record<string, string[]> };
  assert.deepEqual(body.headers['X-Forwarded-Proto'], ['https']);

  // `get secret -o yaml` shows the shape and the sizes, never a value.
  const yaml = await runCli(['get', 'secret', 'site-tls', '-o', 'yaml', ...cp]);
  assert.equal(yaml.code, 0, yaml.stderr);
  assert.match(yaml.stdout, /tls\.key: "?\[redacted: \d+ bytes\]"?/);
  assert.match(yaml.stdout, /type: kubernetes\.io\/tls/);
  assert.match(yaml.stdout, /state: Accepted/);
  const keyB64 = Buffer.from(site.keyPem).toString('base64');
  for (const out of [yaml.stdout, (await runCli(['get', 'secrets', '-o', 'json', ...cp])).stdout, (await runCli(['get', 'secrets', ...cp])).stdout]) {
    assert.doesNotMatch(out, /PRIVATE KEY/);
    assert.ok(!out.includes(keyB64.slice(0, 40)));
  }
  const table = (await runCli(['get', 'secrets', ...cp])).stdout;
  assert.match(table, /\|\s+NAME\s+\|\s+TYPE\s+\|\s+DATA\s+\|\s+STATUS\s+\|/);
  assert.match(table, /\| site-tls \| kubernetes\.io\/tls \| 2\s+\| Accepted \|/);
  // /config_dump names the Secret only.
  const dump = await (await fetch(`http://127.0.0.1:${ports.admin}/config_dump`)).text();
  assert.match(dump, /"name": "site-tls"/);
  assert.doesNotMatch(dump, /PRIVATE KEY/);

  // On disk the Secret (and its accepted form) is readable by its owner only.
  const file = join(dataDir, 'resources', 'Secret', 'default', 'site-tls.yaml');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  await eventually(async () => assert.equal((await stat(join(dataDir, 'accepted', 'Secret', 'default', 'site-tls.yaml'))).mode & 0o777, 0o600));
  assert.match(await readFile(file, 'utf8'), /tls\.key: /);
});

test('with --workers 2 the Secret reaches every worker over IPC and HTTPS is served', async () => {
  const { cp, up } = await startUp('workers', ['--workers', '2']);
  await applyHttps(cp);
  await eventually(async () => {
    const c = await curlHttps(cp, '/get');
    assert.equal(c.stdout.trim().split('\n').at(-1), '200', c.stderr);
  }, { timeoutMs: 10_000 });
  // Several fresh connections, so both workers serve some.
  for (let i = 0; i < 6; i++) {
    const c = await curlHttps(cp, '/get');
    assert.equal(c.stdout.trim().split('\n').at(-1), '200', c.stderr);
  }
  // Every worker issues and accepts tickets with the same keys (tls/ticket-keys.ts): a session
  // from one connection resumes on every fresh one, whichever worker the kernel gives it to.
  const port = Number(/:(\d+)$/.exec((await runCli(['proxy', 'url', '--name', 'gateway-proxy', '--port', 'https', ...cp])).stdout.trim())![1]);
  const session = await tlsExchange(port);
  assert.equal(session.reused, false);
  const resumed = [];
  for (let i = 0; i < 16; i++) resumed.push((await tlsExchange(port, session.session)).reused);
  assert.deepEqual(resumed, resumed.map(() => true));
  // Nothing of the key is ever logged.
  assert.doesNotMatch(up.output(), /PRIVATE KEY|BEGIN CERTIFICATE/);
  assert.ok(!up.output().includes(Buffer.from(site.keyPem).toString('base64').slice(0, 40)));
});
