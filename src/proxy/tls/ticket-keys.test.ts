// Ticket keys shared by proxy workers: two processes that build the same listener runtime hold
// the same keys (so a session resumes on either), and a changed runtime gets new ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:tls';
import type * as ir from '../../ir/index.js';
import { TlsContexts } from './contexts.js';
import { setTicketKeySeed, ticketKeySeed, ticketKeys } from './ticket-keys.js';
import { selfSigned } from '../../../test/helpers/tls-pki.js';

function listener(tls: Partial<ir.ListenerTls> = {}): ir.Listener {
  return {
    name: 'gateway-proxy-ssl',
    tls: {
      certificates: [{ name: 'default.site', sniDomains: ['*'], secretRef: { namespace: 'default', name: 'site' } }],
      alpn: ['h2', 'http/1.1'],
      verifySubjectAltName: [],
      sessionResumption: true,
      ...tls,
    },
  } as unknown as ir.Listener;
}

/** keysOf is what a tls.Server built from a runtime's options issues tickets with. */
function keysOf(options: object): Buffer {
  const server = createServer(options);
  return server.getTicketKeys();
}

test('ticket keys derive from the seed and the runtime: same inputs same keys, any change new ones', () => {
  const seed = ticketKeySeed();
  assert.equal(seed.length, 32);
  assert.equal(ticketKeys('a/1').length, 48);
  assert.deepEqual(ticketKeys('a/1'), ticketKeys('a/1'));
  assert.notDeepEqual(ticketKeys('a/1'), ticketKeys('a/2'));
  setTicketKeySeed(Buffer.alloc(32, 7));
  const other = ticketKeys('a/1');
  setTicketKeySeed(seed);
  assert.notDeepEqual(other, ticketKeys('a/1'));
  assert.throws(() => setTicketKeySeed(Buffer.alloc(16)), /must be 32 bytes, got 16/);
});

test('two proxies (as two workers) building the same listener issue tickets with the same keys', async () => {
  const site = await selfSigned('site.example.com');
  const secrets = { tlsSecret: () => ({ certPem: site.certPem, keyPem: site.keyPem }) };
  const a = (await new TlsContexts(secrets).build([listener()])).get('gateway-proxy-ssl')!;
  const b = (await new TlsContexts(secrets).build([listener()])).get('gateway-proxy-ssl')!;
  assert.deepEqual(keysOf(a.serverOptions), keysOf(b.serverOptions));
  // Another ALPN list (any TLS change) is another runtime: its tickets do not open the old sessions.
  const c = (await new TlsContexts(secrets).build([listener({ alpn: ['http/1.1'] })])).get('gateway-proxy-ssl')!;
  assert.notDeepEqual(keysOf(a.serverOptions), keysOf(c.serverOptions));
  // With session resumption off there are no shared keys to derive: OpenSSL's own, tickets off.
  const off = (await new TlsContexts(secrets).build([listener({ sessionResumption: false })])).get('gateway-proxy-ssl')!;
  assert.equal((off.serverOptions as { ticketKeys?: Buffer }).ticketKeys, undefined);
});
