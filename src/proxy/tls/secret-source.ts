/**
 * SecretSource is how key material reaches the proxy: the snapshot names a Secret
 * (ir.SecretRef), the composition root hands the proxy something that can look it up (the
 * control plane's translated Secrets in process, the IPC copy in a worker). The proxy never
 * imports the control plane, and the material never enters a snapshot, a log or /config_dump.
 */
import type * as ir from '../../ir/index.js';

/** TlsSecret is a TLS Secret's material, PEM text. */
export interface TlsSecret {
  readonly certPem: string;
  readonly keyPem: string;
  readonly caPem?: string;
}

/** SecretSource looks up a TLS Secret by namespace and name. */
export interface SecretSource {
  tlsSecret(namespace: string, name: string): TlsSecret | undefined;
}

/** namedSecrets lists the Secrets a listener's TLS names (certificates and client CA), once each. */
export function namedSecrets(tls: ir.ListenerTls): { namespace: string; name: string }[] {
  const out = new Map<string, { namespace: string; name: string }>();
  for (const c of tls.certificates) if (c.secretRef) out.set(`${c.secretRef.namespace}/${c.secretRef.name}`, c.secretRef);
  if (tls.clientCa && 'secretRef' in tls.clientCa) out.set(`${tls.clientCa.secretRef.namespace}/${tls.clientCa.secretRef.name}`, tls.clientCa.secretRef);
  return [...out.values()].map(({ namespace, name }) => ({ namespace, name }));
}
