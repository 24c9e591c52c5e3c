/**
 * `meshgate istio …`: glooctl's Istio commands. enable-mtls writes exactly the sslConfig glooctl
 * writes; unlike glooctl, every command says when there is nothing to do. Writes carry the
 * resourceVersion they read, so a concurrent change is refused rather than overwritten.
 */
import type { ControlPlaneClient } from '../../control-plane/client.js';
import { ControlPlaneRequestError } from '../../control-plane/client.js';
import type { Resource } from '../../api/meta.js';
import type { UpstreamSpec } from '../../api/gloo/upstream.js';
import type { SettingsSpec } from '../../api/gloo/settings.js';
import { GLOO_NAMESPACE } from '../../api/kinds.js';
import { CliError } from '../errors.js';

/** ISTIO_SSL_CONFIG is what `glooctl istio enable-mtls` writes (gloo-compat.md §1.2). */
export const ISTIO_SSL_CONFIG = {
  alpnProtocols: ['istio'],
  sds: {
    targetUri: '127.0.0.1:8234',
    clusterName: 'gateway_proxy_sds',
    certificatesSecretName: 'istio_server_cert',
    validationContextName: 'istio_validation_context',
  },
};
const SDS_CLUSTER = 'gateway_proxy_sds';

async function getUpstream(client: ControlPlaneClient, name: string, namespace: string): Promise<Resource<UpstreamSpec>> {
  try {
    return await client.call<Resource<UpstreamSpec>>('GET', `/v1/resources/Upstream/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`);
  } catch (err) {
    if (err instanceof ControlPlaneRequestError && err.status === 404) throw new CliError(`upstream ${namespace}.${name} not found (meshgate get upstreams -n ${namespace} lists them)`);
    throw err;
  }
}

/** forWrite strips what the control plane owns, keeping resourceVersion for the conflict check. */
function forWrite<S>(r: Resource<S>): Resource<S> {
  const { status: _s, ...rest } = r;
  const { uid: _u, generation: _g, creationTimestamp: _c, ...metadata } = rest.metadata;
  return { ...rest, metadata } as Resource<S>;
}

async function write(client: ControlPlaneClient, r: Resource): Promise<void> {
  await client.call('POST', '/v1/apply', JSON.stringify(forWrite(r)));
}

export async function enableMtls(client: ControlPlaneClient, name: string, namespace = GLOO_NAMESPACE): Promise<string> {
  const u = await getUpstream(client, name, namespace);
  if (u.spec.sslConfig) {
    if (JSON.stringify(u.spec.sslConfig) === JSON.stringify(ISTIO_SSL_CONFIG)) return `upstream ${namespace}.${name} already has Istio mTLS; nothing to do`;
    // glooctl silently does nothing here; an sslConfig of another kind is worth saying out loud.
    throw new CliError(`upstream ${namespace}.${name} already has an sslConfig that is not Istio's; remove it first (meshgate istio disable-mtls --upstream ${name})`);
  }
  await write(client, { ...u, spec: { ...u.spec, sslConfig: ISTIO_SSL_CONFIG } });
  return `upstream ${namespace}.${name} now uses Istio mTLS`;
}

export async function disableMtls(client: ControlPlaneClient, name: string, namespace = GLOO_NAMESPACE): Promise<string> {
  const u = await getUpstream(client, name, namespace);
  if (!u.spec.sslConfig) return `upstream ${namespace}.${name} has no sslConfig; mTLS is already disabled, nothing to do`;
  const { sslConfig: _drop, ...spec } = u.spec;
  await write(client, { ...u, spec });
  return `upstream ${namespace}.${name} no longer uses mTLS`;
}

async function getSettings(client: ControlPlaneClient): Promise<Resource<SettingsSpec>> {
  try {
    return await client.call<Resource<SettingsSpec>>('GET', `/v1/resources/Settings/${GLOO_NAMESPACE}/default`);
  } catch (err) {
    if (err instanceof ControlPlaneRequestError && err.status === 404) throw new CliError(`Settings ${GLOO_NAMESPACE}/default not found; apply one first`);
    throw err;
  }
}

/** setIstioOptions updates Settings' istioOptions; it returns false when nothing changes. */
export async function setIstioOptions(client: ControlPlaneClient, change: { enableIntegration?: boolean; enableAutoMtls?: boolean }): Promise<boolean> {
  const s = await getSettings(client);
  const current = s.spec.gloo?.istioOptions ?? {};
  const next = { ...current, ...change };
  if (JSON.stringify(next) === JSON.stringify({ ...current })) return false;
  await write(client, { ...s, spec: { ...s.spec, gloo: { ...s.spec.gloo, istioOptions: next } } });
  return true;
}

export async function inject(client: ControlPlaneClient): Promise<string> {
  const changed = await setIstioOptions(client, { enableIntegration: true });
  return changed ? 'Istio injection was successful!' : 'the Istio integration is already enabled; nothing to do';
}

export async function uninject(client: ControlPlaneClient, includeUpstreams: boolean, namespace = GLOO_NAMESPACE): Promise<string[]> {
  const { items } = await client.call<{ items: Resource<UpstreamSpec>[] }>('GET', `/v1/resources?kind=Upstream&namespace=${encodeURIComponent(namespace)}`);
  const using = items.filter((u) => u.spec.sslConfig?.sds?.clusterName === SDS_CLUSTER);
  const lines: string[] = [];
  if (using.length && !includeUpstreams) {
    throw new CliError(
      `${using.length} upstream(s) still use the Istio certificates (sds cluster ${SDS_CLUSTER}): ${using.map((u) => u.metadata.name).join(', ')}; ` +
        'disable their mTLS first, or pass --include-upstreams to remove their sslConfig',
    );
  }
  if (using.length) {
    lines.push(`Warning: Found ${using.length} upstreams with sds config referencing the ${SDS_CLUSTER} cluster, removing`);
    for (const u of using) {
      const { sslConfig: _drop, ...spec } = u.spec;
      await write(client, { ...u, spec });
    }
  }
  const changed = await setIstioOptions(client, { enableIntegration: false, enableAutoMtls: false });
  lines.push(changed ? 'Istio was successfully uninjected' : 'the Istio integration is already disabled; nothing to do');
  return lines;
}
