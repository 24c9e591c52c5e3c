// HTTPS termination on a real Proxy, driven by real clients: curl (as users test a gateway) and
// node:https. Certificates are made at run time (test/helpers/tls-pki.ts); key material reaches
// the proxy through a SecretSource or through files (sslFiles), never through the snapshot.

import assert from 'node:assert/strict';
import { request as httpsRequest, Agent } from 'node:https';
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Proxy } from '../../../src/proxy/proxy.js';
import { startAdmin } from '../../../src/proxy/admin.js';
import { silentLogger } from '../../../src/log.js';
import type * as ir from '../../../src/ir/index.js';
import type { SecretSource, TlsSecret } from '../../../src/proxy/tls/secret-source.js';
import { createCa, writeFiles, type KeyPair, type TestCa, type TempFiles } from '../../helpers/tls-pki.js';
import { runCommand, type CliResult } from '../../helpers/cli.js';
import { freePort } from '../../helpers/ports.js';
import { rawExchange, send, statusOf } from '../../helpers/http.js';
import { direct, listener, route, snapshot, vhost } from '../../helpers/snapshot.js';

const HTTPS_PORT = 8443;

/** MemorySecrets is a SecretSource a test fills in. */
class MemorySecrets implements SecretSource {
  readonly map = new Map<string, TlsSecret>();
  set(name: string, pair: KeyPair, caPem?: string): ir.SecretRef {
    this.map.set(`default/${name}`, { certPem: pair.certPem, keyPem: pair.keyPem, ...(caPem ? { caPem } : {}) });
    return { namespace: 'default', name, version: String(this.map.size) + name };
  }
  tlsSecret(namespace: string, name: string): TlsSecret | undefined {
    return this.map.get(`${namespace}/${name}`);
  }
}

interface Started {
  readonly proxy: Proxy;
  readonly port: number;
  close(): Promise<void>;
}

async function startTlsProxy(secrets: SecretSource): Promise<Started> {
  const port = await freePort();
  const proxy = new Proxy({ portMap: { [HTTPS_PORT]: port }, bindAddress: '127.0.0.1', drainMs: 500, log: silentLogger, secrets });
  return { proxy, port, close: () => proxy.close(0) };
}

/** tlsListener builds an ssl listener on 8443 with a direct-response virtual host per domain. */
function tlsListener(
  tls: Omit<ir.ListenerTls, 'alpn' | 'verifySubjectAltName' | 'sessionResumption'> & Partial<ir.ListenerTls>,
  domains: readonly string[] = ['*'],
  http: Partial<ir.HttpSettings> = {},
): ir.Listener {
  const vhosts = domains.map((d) => vhost([route(direct(200, `hello from ${d}`))], { name: `default.${d}`, domains: [d] }));
  return {
    ...listener(vhosts, { name: 'gloo-system.gateway-proxy-ssl', bindPort: HTTPS_PORT, ssl: true, http }),
    tls: { alpn: ['http/1.1'], verifySubjectAltName: [], sessionResumption: true, ...tls },
  };
}

/** curl runs curl without any user configuration, with a bound on time. */
function curl(args: readonly string[]): Promise<CliResult> {
  return runCommand('curl', ['-q', '-sS', '--noproxy', '*', '--max-time', '10', ...args]);
}

/** curlHttps asks https://host:port/ through 127.0.0.1, trusting caFile; -v output is in stderr. */
function curlHttps(host: string, port: number, caFile: string, extra: readonly string[] = []): Promise<CliResult> {
  return curl(['-v', '--cacert', caFile, '--resolve', `${host}:${port}:127.0.0.1`, '-w', '\n%{http_code}', ...extra, `https://${host}:${port}/`]);
}

/** statusLine is curl's last output line (-w '\n%{http_code}'), '000' when no response came. */
function statusLine(r: CliResult): string {
  return r.stdout.trim().split('\n').at(-1) ?? '';
}

interface HttpsReply {
  readonly status: number;
  readonly body: string;
  readonly cert: PeerCertificate;
  readonly protocol: string | null;
  readonly reused: boolean;
}

/** get makes one request with node:https to 127.0.0.1:port, with SNI servername unless undefined. */
function get(port: number, o: { ca: string; servername?: string; host?: string; agent?: Agent; cert?: KeyPair; maxVersion?: 'TLSv1.2' | 'TLSv1.3' }): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        ca: o.ca,
        // Node sends no SNI for an IP address; servername sets it.
        ...(o.servername !== undefined ? { servername: o.servername } : {}),
        headers: { host: o.host ?? o.servername ?? 'localhost' },
        agent: o.agent ?? false,
        ...(o.cert ? { cert: o.cert.certPem, key: o.cert.keyPem } : {}),
        ...(o.maxVersion ? { maxVersion: o.maxVersion } : {}),
        checkServerIdentity: () => undefined,
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const cert = socket.getPeerCertificate();
        const protocol = socket.getProtocol();
        const reused = socket.isSessionReused();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), cert, protocol, reused }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** handshake opens a TLS connection and reports how it went, without HTTP. */
function handshake(port: number, o: { ca: string; servername?: string; alpn?: string[] }): Promise<{ ok: true; alpn: string | false } | { ok: false; code: string }> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: o.ca, checkServerIdentity: () => undefined, ...(o.servername ? { servername: o.servername } : {}), ...(o.alpn ? { ALPNProtocols: o.alpn } : {}) });
    s.once('secureConnect', () => {
      resolve({ ok: true, alpn: s.alpnProtocol ?? false });
      s.destroy();
    });
    s.once('error', (err: Error & { code?: string }) => resolve({ ok: false, code: err.code ?? err.message }));
  });
}

let ca: TestCa;
let files: TempFiles;
let certA: KeyPair;
let certB: KeyPair;
let certDefault: KeyPair;

before(async () => {
  ca = await createCa('meshgate test CA');
  certA = await ca.issue({ cn: 'a.example.com', dns: ['a.example.com'] });
  certB = await ca.issue({ cn: 'b.example.com', dns: ['b.example.com', '*.b.example.com'] });
  certDefault = await ca.issue({ cn: 'default.example.com' });
  files = await writeFiles({ 'ca.pem': ca.certPem, 'a.crt': certA.certPem, 'a.key': certA.keyPem });
});
after(async () => {
  await files.remove();
});

describe('HTTPS: certificates chosen by SNI', () => {
  let p: Started;
  const secrets = new MemorySecrets();
  let admin: { server: Server; port: number };

  before(async () => {
    p = await startTlsProxy(secrets);
    const a = secrets.set('a', certA);
    const b = secrets.set('b', certB);
    await p.proxy.applySnapshot(
      snapshot(
        tlsListener(
          {
            certificates: [
              { name: 'default.a', sniDomains: ['a.example.com'], secretRef: a },
              { name: 'default.b', sniDomains: ['b.example.com', '*.b.example.com'], secretRef: b },
            ],
          },
          ['a.example.com', 'b.example.com', 'www.b.example.com'],
        ),
      ),
    );
    admin = await startAdmin(p.proxy, '127.0.0.1', 0);
  });
  after(async () => {
    await new Promise((resolve) => admin.server.close(resolve));
    await p.close();
  });

  test('curl gets each VirtualService its own certificate, over TLS 1.3 and HTTP/1.1', async () => {
    for (const [host, cn] of [['a.example.com', 'a.example.com'], ['b.example.com', 'b.example.com'], ['www.b.example.com', 'b.example.com']] as const) {
      const r = await curlHttps(host, p.port, files.path('ca.pem'));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(statusLine(r), '200');
      assert.match(r.stdout, new RegExp(`^hello from ${host.replace(/\./g, '\\.')}`));
      assert.match(r.stderr, new RegExp(`subject: CN=${cn.replace(/\./g, '\\.')}`), r.stderr);
      assert.match(r.stderr, /SSL connection using TLSv1\.3/);
      assert.match(r.stderr, /ALPN[:,] server accepted (to use )?http\/1\.1/);
      assert.match(r.stderr, /SSL certificate verify ok/);
    }
  });

  test('curl --http2 offers h2 and gets http/1.1: meshgate serves HTTP/1.1 only for now', async () => {
    const r = await curlHttps('a.example.com', p.port, files.path('ca.pem'), ['--http2']);
    assert.equal(statusLine(r), '200', r.stderr);
    assert.match(r.stderr, /ALPN[:,] server accepted (to use )?http\/1\.1/);
  });

  test('without SNI, and with an SNI name nobody claims, the first certificate is the default', async () => {
    const none = await get(p.port, { ca: ca.certPem, host: 'a.example.com' });
    assert.equal(none.status, 200);
    assert.equal(none.cert.subject.CN, 'a.example.com');
    const unknown = await get(p.port, { ca: ca.certPem, servername: 'zzz.example.com', host: 'b.example.com' });
    assert.equal(unknown.cert.subject.CN, 'a.example.com');
    // The virtual host is still chosen by Host, whatever the certificate.
    assert.equal(unknown.body, 'hello from b.example.com');
  });

  test('a node:https client offering only h2 is refused with no_application_protocol', async () => {
    const r = await handshake(p.port, { ca: ca.certPem, servername: 'a.example.com', alpn: ['h2'] });
    assert.deepEqual(r, { ok: false, code: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL' });
    const ok = await handshake(p.port, { ca: ca.certPem, servername: 'a.example.com' });
    assert.deepEqual(ok, { ok: true, alpn: false });
  });

  test('a plaintext request to the TLS port gets a 400 that says so, and the listener keeps serving', async () => {
    const raw = await rawExchange(p.port, 'GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n');
    assert.equal(statusOf(raw), 400);
    assert.match(raw, /\r\n\r\nclient sent an HTTP request to an HTTPS port\n$/);
    const viaCurl = await curl(['-w', '\n%{http_code}', `http://127.0.0.1:${p.port}/`]);
    assert.equal(statusLine(viaCurl), '400');
    // Not HTTP, not TLS: closed without an answer.
    assert.equal(await rawExchange(p.port, Buffer.from([0x00, 0x01, 0x02])), '');
    assert.equal((await get(p.port, { ca: ca.certPem, servername: 'a.example.com' })).status, 200);
    const metrics = await p.proxy.metrics();
    assert.match(metrics, /meshgate_downstream_rq_errors_total\{reason="plaintext_on_tls"\} 3/);
  });

  test('/config_dump names the Secrets and never carries key material', async () => {
    const dump = (await send(admin.port, '/config_dump')).body;
    assert.match(dump, /"secretRef": \{\s*"namespace": "default",\s*"name": "a"/);
    assert.doesNotMatch(dump, /PRIVATE KEY/);
    assert.doesNotMatch(dump, /BEGIN CERTIFICATE/);
    for (const pair of [certA, certB]) {
      const body = pair.keyPem.split('\n').slice(1, -2).join('');
      assert.ok(body.length > 40);
      assert.ok(!dump.replace(/\s/g, '').includes(body.slice(0, 40)), 'the key PEM must not appear');
    }
  });

  test('a new certificate applies to the next handshake on the same port, without rebinding', async () => {
    const before = p.proxy.addresses();
    const rotated = await ca.issue({ cn: 'a.example.com', dns: ['a.example.com', 'rotated.a.example.com'] });
    const open = await get(p.port, { ca: ca.certPem, servername: 'a.example.com' });
    const a2 = secrets.set('a2', rotated);
    await p.proxy.applySnapshot(
      snapshot(tlsListener({ certificates: [{ name: 'default.a', sniDomains: ['a.example.com'], secretRef: a2 }] }, ['a.example.com'])),
    );
    assert.deepEqual(p.proxy.addresses(), before);
    const now = await get(p.port, { ca: ca.certPem, servername: 'a.example.com' });
    assert.equal(now.status, 200);
    assert.notEqual(now.cert.fingerprint256, open.cert.fingerprint256);
    assert.equal(now.cert.subjectaltname, 'DNS:a.example.com, DNS:rotated.a.example.com');
    // The default certificate (no SNI) is the listener's own context: replaced too.
    const noSni = await get(p.port, { ca: ca.certPem, host: 'a.example.com' });
    assert.equal(noSni.cert.fingerprint256, now.cert.fingerprint256);
  });

  test('a certificate the proxy cannot load refuses the snapshot; the last good one keeps serving', async () => {
    const served = p.proxy.current!.version;
    const missing = snapshot(
      tlsListener({ certificates: [{ name: 'default.x', sniDomains: ['*'], secretRef: { namespace: 'default', name: 'nowhere', version: '1' } }] }),
    );
    await assert.rejects(p.proxy.applySnapshot(missing), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'GW_PROXY_TLS_MATERIAL');
      assert.match(err.message, /^listener gloo-system\.gateway-proxy-ssl: secret default\.nowhere is not available to the proxy$/);
      return true;
    });
    const unreadable = snapshot(
      tlsListener({ certificates: [{ name: 'default.x', sniDomains: ['*'], files: { certPath: files.path('nope.crt'), keyPath: files.path('a.key') } }] }),
    );
    await assert.rejects(p.proxy.applySnapshot(unreadable), /cannot read sslFiles\.tlsCert .*nope\.crt \(ENOENT\)/);
    const mismatched = snapshot(
      tlsListener({ certificates: [{ name: 'default.x', sniDomains: ['*'], files: { certPath: files.path('a.crt'), keyPath: files.path('a.crt') } }] }),
    );
    await assert.rejects(p.proxy.applySnapshot(mismatched), (err: Error & { code?: string }) => err.code === 'GW_PROXY_TLS_MATERIAL' && !/BEGIN/.test(err.message));
    assert.equal(p.proxy.current!.version, served);
    assert.equal((await get(p.port, { ca: ca.certPem, servername: 'a.example.com' })).status, 200);
  });
});

describe('HTTPS: sslFiles and the default certificate', () => {
  let p: Started;

  before(async () => {
    p = await startTlsProxy(new MemorySecrets());
  });
  after(async () => {
    await p.close();
  });

  test('certificates from files on the proxy\'s machine; `*` in sniDomains makes the default', async () => {
    const dflt = await writeFiles({ 'd.crt': certDefault.certPem, 'd.key': certDefault.keyPem });
    try {
      await p.proxy.applySnapshot(
        snapshot(
          tlsListener({
            certificates: [
              { name: 'default.a', sniDomains: ['a.example.com'], files: { certPath: files.path('a.crt'), keyPath: files.path('a.key') } },
              { name: 'default.d', sniDomains: ['default.example.com', '*'], files: { certPath: dflt.path('d.crt'), keyPath: dflt.path('d.key') } },
            ],
          }),
        ),
      );
    } finally {
      await dflt.remove();
    }
    const a = await curlHttps('a.example.com', p.port, files.path('ca.pem'));
    assert.equal(statusLine(a), '200', a.stderr);
    assert.match(a.stderr, /subject: CN=a\.example\.com/);
    assert.equal((await get(p.port, { ca: ca.certPem })).cert.subject.CN, 'default.example.com');
    assert.equal((await get(p.port, { ca: ca.certPem, servername: 'other.example.com' })).cert.subject.CN, 'default.example.com');
  });
});

describe('HTTPS: the listener\'s HTTP limits apply behind TLS', () => {
  let p: Started;
  const secrets = new MemorySecrets();

  before(async () => {
    p = await startTlsProxy(secrets);
    await p.proxy.applySnapshot(
      snapshot(tlsListener({ certificates: [{ name: 'default.a', sniDomains: ['*'], secretRef: secrets.set('a', certA) }] }, ['*'], { requestHeadersTimeoutMs: 200 })),
    );
  });
  after(async () => {
    await p.close();
  });

  test('a TLS client that never finishes its headers gets 408 and the connection closes (requestHeadersTimeout)', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: p.port, ca: ca.certPem, servername: 'a.example.com' }, () => s.write('GET / HTTP/1.1\r\nHost: a.example.com\r\n'));
      let got = '';
      s.on('data', (c: Buffer) => (got += c.toString('latin1')));
      s.on('error', reject);
      s.on('close', () => resolve(got));
    });
    assert.equal(statusOf(answer), 408);
  });
});

describe('HTTPS: protocol versions and ciphers', () => {
  let p: Started;
  const secrets = new MemorySecrets();

  before(async () => {
    p = await startTlsProxy(secrets);
  });
  after(async () => {
    await p.close();
  });

  const apply = (tls: Partial<ir.ListenerTls>) =>
    p.proxy.applySnapshot(
      snapshot(tlsListener({ certificates: [{ name: 'default.a', sniDomains: ['a.example.com'], secretRef: secrets.set('a', certA) }], ...tls }, ['a.example.com'])),
    );

  test('maximumProtocolVersion TLSv1_2 refuses a TLS 1.3-only client and serves TLS 1.2', async () => {
    await apply({ maxVersion: 'TLSv1_2' });
    const only13 = await curlHttps('a.example.com', p.port, files.path('ca.pem'), ['--tlsv1.3', '--tls-max', '1.3']);
    assert.notEqual(only13.code, 0);
    assert.equal(statusLine(only13), '000');
    assert.match(only13.stderr, /protocol version/i);
    const r = await curlHttps('a.example.com', p.port, files.path('ca.pem'));
    assert.equal(statusLine(r), '200', r.stderr);
    assert.match(r.stderr, /SSL connection using TLSv1\.2/);
  });

  test('minimumProtocolVersion TLSv1_3 refuses a client that stops at TLS 1.2', async () => {
    await apply({ minVersion: 'TLSv1_3' });
    const old = await curlHttps('a.example.com', p.port, files.path('ca.pem'), ['--tls-max', '1.2']);
    assert.notEqual(old.code, 0);
    assert.equal(statusLine(old), '000');
    const r = await get(p.port, { ca: ca.certPem, servername: 'a.example.com' });
    assert.equal(r.protocol, 'TLSv1.3');
  });

  test('cipherSuites limit TLS 1.2 ciphers to those listed', async () => {
    await apply({ maxVersion: 'TLSv1_2', ciphers: ['ECDHE-ECDSA-AES128-GCM-SHA256'] });
    const other = await curlHttps('a.example.com', p.port, files.path('ca.pem'), ['--ciphers', 'ECDHE-ECDSA-AES256-GCM-SHA384']);
    assert.notEqual(other.code, 0);
    assert.equal(statusLine(other), '000');
    const listed = await curlHttps('a.example.com', p.port, files.path('ca.pem'), ['--ciphers', 'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256']);
    assert.equal(statusLine(listed), '200', listed.stderr);
    assert.match(listed.stderr, /SSL connection using TLSv1\.2 \/ ECDHE-ECDSA-AES128-GCM-SHA256/);
  });

  test('an unknown cipher refuses the snapshot (OpenSSL\'s reason, no key material)', async () => {
    await assert.rejects(apply({ ciphers: ['NOT-A-CIPHER'] }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'GW_PROXY_TLS_MATERIAL');
      assert.match(err.message, /listener TLS settings: .*cipher/i);
      return true;
    });
  });
});

describe('HTTPS: client certificates', () => {
  let p: Started;
  let clientFiles: TempFiles;

  before(async () => {
    const secrets = new MemorySecrets();
    p = await startTlsProxy(secrets);
    const clientCa = await createCa('client CA');
    const otherCa = await createCa('another CA');
    const good = await clientCa.issue({ cn: 'good client', uris: ['spiffe://example.com/good'], usage: 'client' });
    const wrongSan = await clientCa.issue({ cn: 'other client', uris: ['spiffe://example.com/other'], dns: ['other.example.com'], usage: 'client' });
    const foreign = await otherCa.issue({ cn: 'foreign client', uris: ['spiffe://example.com/good'], usage: 'client' });
    clientFiles = await writeFiles({
      'good.crt': good.certPem, 'good.key': good.keyPem,
      'wrong.crt': wrongSan.certPem, 'wrong.key': wrongSan.keyPem,
      'foreign.crt': foreign.certPem, 'foreign.key': foreign.keyPem,
    });
    const ref = secrets.set('mtls', certA, clientCa.certPem);
    await p.proxy.applySnapshot(
      snapshot(
        tlsListener(
          {
            certificates: [{ name: 'default.a', sniDomains: ['a.example.com'], secretRef: ref }],
            clientCa: { secretRef: ref },
            verifySubjectAltName: ['spiffe://example.com/good', 'good.example.com'],
          },
          ['a.example.com'],
        ),
      ),
    );
  });
  after(async () => {
    await p.close();
    await clientFiles.remove();
  });

  const withCert = (name: string) => ['--cert', clientFiles.path(`${name}.crt`), '--key', clientFiles.path(`${name}.key`)];

  test('no client certificate: refused', async () => {
    const r = await curlHttps('a.example.com', p.port, files.path('ca.pem'));
    assert.notEqual(r.code, 0);
    assert.equal(statusLine(r), '000');
    assert.match(r.stderr, /certificate required|alert/i);
  });

  test('a certificate from another CA: refused', async () => {
    const r = await curlHttps('a.example.com', p.port, files.path('ca.pem'), withCert('foreign'));
    assert.notEqual(r.code, 0);
    assert.equal(statusLine(r), '000');
  });

  test('the right CA but no SAN in verifySubjectAltName: refused after the handshake, before any request', async () => {
    const r = await curlHttps('a.example.com', p.port, files.path('ca.pem'), withCert('wrong'));
    assert.notEqual(r.code, 0);
    assert.equal(statusLine(r), '000');
    assert.match(await p.proxy.metrics(), /meshgate_downstream_rq_errors_total\{reason="tls_client_san_refused"\} 1/);
  });

  test('the right CA and a listed SAN: 200', async () => {
    const r = await curlHttps('a.example.com', p.port, files.path('ca.pem'), withCert('good'));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statusLine(r), '200');
  });
});

describe('HTTPS: session resumption', () => {
  let p: Started;
  const secrets = new MemorySecrets();

  before(async () => {
    p = await startTlsProxy(secrets);
  });
  after(async () => {
    await p.close();
  });

  const apply = (sessionResumption: boolean) =>
    p.proxy.applySnapshot(
      snapshot(tlsListener({ certificates: [{ name: 'default.a', sniDomains: ['a.example.com'], secretRef: secrets.set('a', certA) }], sessionResumption }, ['a.example.com'])),
    );

  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    test(`${maxVersion}: a second connection with the first one's session resumes it`, async () => {
      await apply(true);
      const agent = new Agent({ keepAlive: false, maxCachedSessions: 10 });
      const first = await get(p.port, { ca: ca.certPem, servername: 'a.example.com', agent, maxVersion });
      assert.equal(first.reused, false);
      const second = await get(p.port, { ca: ca.certPem, servername: 'a.example.com', agent, maxVersion });
      assert.equal(second.status, 200);
      assert.equal(second.reused, true);
      agent.destroy();
    });

    test(`${maxVersion}: with disableTlsSessionResumption nothing resumes`, async () => {
      await apply(false);
      const agent = new Agent({ keepAlive: false, maxCachedSessions: 10 });
      await get(p.port, { ca: ca.certPem, servername: 'a.example.com', agent, maxVersion });
      const second = await get(p.port, { ca: ca.certPem, servername: 'a.example.com', agent, maxVersion });
      assert.equal(second.status, 200);
      assert.equal(second.reused, false);
      agent.destroy();
    });
  }
});
