/** Condition messages users know from Gloo, in one place (gloo-compat.md §6). */

/** invalidDestination is Gloo's warning for a route to an Upstream that does not exist. */
export function invalidDestination(namespace: string, name: string): string {
  return `Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream { ${namespace}.${name} } not found`;
}

/** domainConflict is Gloo's error when two VirtualServices on one Gateway claim a domain. */
export function domainConflict(domains: readonly string[], others: readonly string[]): string {
  return `domain conflict: the [${domains.join(' ')}] domain is present in other virtual services that belong to the same Gateway as this one: [${others.join(' ')}]`;
}
