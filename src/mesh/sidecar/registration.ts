/**
 * Registration: a sidecar puts its workload in the mesh by (re)writing the workload's
 * WorkloadEntry with the inbound port and `security.istio.io/tlsMode: istio`, and on a clean
 * exit restores the entry it replaced, or removes its own, so "inject sidecar" and "remove
 * sidecar" are one command each.
 */
import type { ControlPlaneClient } from '../../control-plane/client.js';
import { ControlPlaneRequestError } from '../../control-plane/client.js';
import type { Resource } from '../../api/meta.js';
import type { ServiceSpec } from '../../api/core/service.js';
import type { WorkloadEntrySpec } from '../../api/istio/workload-entry.js';
import { TLS_MODE_LABEL } from '../../translate/istio-mtls.js';


export interface RegistrationOptions {
  readonly namespace: string;
  readonly name: string;
  readonly service: string;
  readonly serviceAccount: string;
  readonly address: string;
  readonly inboundPort: number;
  readonly labels: Readonly<Record<string, string>>;
}

/** Registration remembers what it replaced, to put it back. */
export interface Registration {
  readonly entry: Resource<WorkloadEntrySpec>;
  restore(): Promise<void>;
}

async function getOrUndefined<T>(client: ControlPlaneClient, path: string): Promise<T | undefined> {
  try {
    return await client.call<T>('GET', path);
  } catch (err) {
    if (err instanceof ControlPlaneRequestError && err.status === 404) return undefined;
    throw err;
  }
}

/** register writes the sidecar's WorkloadEntry and returns how to undo it. */
export async function register(client: ControlPlaneClient, o: RegistrationOptions): Promise<Registration> {
  const svc = await getOrUndefined<Resource<ServiceSpec>>(client, `/v1/resources/Service/${o.namespace}/${o.service}`);
  if (!svc) throw new ControlPlaneRequestError(`Service ${o.namespace}/${o.service} not found; apply it before starting its sidecar`);
  const previous = await getOrUndefined<Resource<WorkloadEntrySpec>>(client, `/v1/resources/WorkloadEntry/${o.namespace}/${o.name}`);
  // Every named Service port reaches the workload through the sidecar's inbound port.
  const ports = Object.fromEntries(svc.spec.ports.filter((p) => p.name).map((p) => [p.name!, o.inboundPort]));
  const entry: Resource<WorkloadEntrySpec> = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'WorkloadEntry',
    metadata: { name: o.name, namespace: o.namespace, ...(previous?.metadata.labels ? { labels: previous.metadata.labels } : {}) },
    spec: {
      address: o.address,
      ports,
      labels: { ...(previous?.spec.labels ?? svc.spec.selector ?? {}), ...o.labels, [TLS_MODE_LABEL]: 'istio' },
      serviceAccount: o.serviceAccount,
    },
  };
  await client.call('POST', '/v1/apply', JSON.stringify(entry));
  return {
    entry,
    restore: async () => {
      if (previous) {
        const { status: _status, ...rest } = previous;
        const { resourceVersion: _rv, uid: _uid, generation: _g, creationTimestamp: _c, ...meta } = rest.metadata;
        await client.call('POST', '/v1/apply', JSON.stringify({ ...rest, metadata: meta }));
      } else {
        await client.call('DELETE', `/v1/resources/WorkloadEntry/${o.namespace}/${o.name}`);
      }
    },
  };
}
