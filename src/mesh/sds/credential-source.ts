/** credentialSource adapts a CredentialStore to what the proxy reads per connection. */
import type { CredentialSource } from '../../proxy/upstream/mesh-tls.js';
import type { CredentialStore } from './credential-store.js';

export function credentialSource(store: CredentialStore): CredentialSource {
  return {
    current: () => {
      const c = store.current;
      // The secure context is built once per credential and cached by the store.
      return c ? { identity: c.identity, secureContext: store.secureContext() } : undefined;
    },
  };
}
