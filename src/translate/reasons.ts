/** Condition messages users know from Gloo, in one place (gloo-compat.md §6). */

/** invalidDestination is Gloo's warning for a route to an Upstream that does not exist. */
export function invalidDestination(namespace: string, name: string): string {
  return `Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream { ${namespace}.${name} } not found`;
}

/** domainConflict is Gloo's error when two VirtualServices on one Gateway claim a domain. */
export function domainConflict(domains: readonly string[], others: readonly string[]): string {
  return `domain conflict: the [${domains.join(' ')}] domain is present in other virtual services that belong to the same Gateway as this one: [${others.join(' ')}]`;
}

// TLS termination (gloo:projects/gloo/pkg/utils/ssl.go; the not-found text is solo-kit's list Find).

/** sslSecretNotFound is Gloo's error for a secretRef naming no Secret (a Warning with warnMissingTlsSecret). */
export function sslSecretNotFound(namespace: string, name: string): string {
  return `SSL secret not found: list did not find secret ${namespace}.${name}`;
}

/** notTlsSecret is Gloo's error for a secretRef naming a Secret that is not `kubernetes.io/tls`. */
export function notTlsSecret(namespace: string, name: string): string {
  return `${namespace}.${name} is not a TLS secret`;
}

/** NO_CERTIFICATE_FOUND is Gloo's error for an sslConfig without a certificate. */
export const NO_CERTIFICATE_FOUND = 'no certificate information found';

/** ROOT_CA_MUST_BE_PROVIDED is Gloo's error for verifySubjectAltName without a CA to verify with. */
export const ROOT_CA_MUST_BE_PROVIDED = 'a root_ca must be provided if verify_subject_alt_name is not empty';

/** CERT_AND_KEY_TOGETHER is Gloo's error for sslFiles with only one of tlsCert and tlsKey. */
export const CERT_AND_KEY_TOGETHER = 'both or none of cert chain and private key must be provided';
