/** credentialSource adapts a CredentialStore to what the proxy reads per connection. */
import type { CredentialSource } from '../../proxy/upstream/mesh-tls.js';
import type { CredentialStore } from './credential-store.js';

export function credentialSource(store: CredentialStore): CredentialSource {
  return {
    current: () => {
      // Before its first credential the store throws; the proxy then has no identity yet.
      if (!store.ready) return undefined;
      // The secure context is built once per credential and cached by the store.
      return { identity: store.current.identity, secureContext: store.secureContext(), rootPem: store.current.rootPem };
    },
  };
}
