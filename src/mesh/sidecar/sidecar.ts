/**
 * Sidecar: a proxy beside one workload. It gets its mesh identity from the CA, registers the
 * workload's WorkloadEntry (so the gateway sends traffic through it), serves the inbound
 * listener with the workload's effective PeerAuthentication, and reports health on 15021.
 * A policy change reaches it within one poll and applies to new connections.
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { Proxy } from '../../proxy/proxy.js';
import type { ControlPlaneClient } from '../../control-plane/client.js';
import { CredentialStore } from '../sds/credential-store.js';
import { credentialSource } from '../sds/credential-source.js';
import { requestCertificate } from '../sds/ca-client.js';
import { modeForPort, type EffectiveMtls, type MtlsMode } from '../../translate/peer-authentication.js';
import { DEFAULT_TRUST_DOMAIN, spiffeId } from '../identity/spiffe-id.js';
import { inboundSnapshot } from './inbound.js';
import { register, type Registration } from './registration.js';
import { TLS_MODE_LABEL } from '../../translate/istio-mtls.js';

/** POLICY_POLL_MS is how often the sidecar asks for its effective PeerAuthentication. */
export const POLICY_POLL_MS = 500;

export interface SidecarOptions {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly service: string;
  readonly appPort: number;
  readonly inboundPort: number;
  readonly healthPort: number;
  readonly caAddress: string;
  readonly token: string;
  readonly rootPem: string;
  readonly workloadEntry: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly bindAddress: string;
  readonly client: ControlPlaneClient;
  readonly log: Logger;
}

export interface Sidecar {
  readonly identity: string;
  readonly inboundPort: number;
  readonly healthPort: number;
  /** stop restores the WorkloadEntry, drains the inbound listener and stops renewing. */
  stop(drainMs?: number): Promise<void>;
}

/** startSidecar runs a sidecar until stop() is called. */
export async function startSidecar(o: SidecarOptions): Promise<Sidecar> {
  const log = o.log;
  const creds = new CredentialStore({
    fetch: () => requestCertificate({ address: o.caAddress, rootPem: o.rootPem, token: o.token }),
    log: log.child({ component: 'credentials' }),
  });
  await creds.start();
  const expected = spiffeId(o.namespace, o.serviceAccount);
  if (creds.current.identity !== expected) {
    creds.stop();
    throw new Error(`the token gives identity ${creds.current.identity}, not ${expected}: check --namespace and --service-account`);
  }
  const proxy = new Proxy({ log: log.child({ component: 'inbound' }), credentials: credentialSource(creds) });
  let mode: MtlsMode | undefined;
  const labels = { ...o.labels };
  const apply = async (eff: EffectiveMtls) => {
    const next = modeForPort(eff, o.appPort);
    if (next === mode) return;
    await proxy.applySnapshot(inboundSnapshot({ inboundPort: o.inboundPort, appPort: o.appPort, bindAddress: o.bindAddress, mode: next, trustDomain: DEFAULT_TRUST_DOMAIN }));
    log.info({ mode: next, sources: eff.sources }, 'inbound mTLS mode');
    mode = next;
  };
  const policy = () => {
    const q = new URLSearchParams({ namespace: o.namespace, labels: Object.entries({ ...labels, [TLS_MODE_LABEL]: 'istio' }).map(([k, v]) => `${k}=${v}`).join(',') });
    return o.client.call<EffectiveMtls>('GET', `/v1/mtls?${q}`);
  };

  let registration: Registration | undefined;
  let health: Server | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    // Listen before registering, so the gateway never sends traffic to a closed port.
    await apply(await policy());
    registration = await register(o.client, {
      namespace: o.namespace, name: o.workloadEntry, service: o.service, serviceAccount: o.serviceAccount,
      address: '127.0.0.1', inboundPort: o.inboundPort, labels,
    });
    Object.assign(labels, registration.entry.spec.labels);
    health = await startHealth(o.bindAddress, o.healthPort, () => creds.ready && proxy.current !== undefined);
  } catch (err) {
    await registration?.restore().catch(() => undefined);
    await proxy.close(0);
    creds.stop();
    throw err;
  }
  const poll = () => {
    timer = setTimeout(() => {
      policy().then(apply, (err: Error) => log.warn({ err: err.message }, 'cannot read PeerAuthentication; keeping the current mode')).finally(poll);
    }, POLICY_POLL_MS);
  };
  poll();

  return {
    identity: expected,
    inboundPort: o.inboundPort,
    healthPort: o.healthPort,
    stop: async (drainMs = 5000) => {
      clearTimeout(timer);
      await registration!.restore().catch((err: Error) => log.error({ err: err.message }, 'cannot restore the WorkloadEntry'));
      await new Promise((r) => health!.close(r));
      await proxy.close(drainMs);
      creds.stop();
    },
  };
}

/** startHealth serves Istio's readiness path, /healthz/ready, on the health port. */
async function startHealth(host: string, port: number, ready: () => boolean): Promise<Server> {
  const server = createServer((req, res) => {
    const ok = req.url === '/healthz/ready' && ready();
    res.writeHead(ok ? 200 : req.url === '/healthz/ready' ? 503 : 404, { 'content-type': 'text/plain' });
    res.end(ok ? 'ready\n' : '');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
  return server;
}
