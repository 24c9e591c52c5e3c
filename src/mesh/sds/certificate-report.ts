/** certificateReport describes a credential for the admin /certs page: public facts only, never the key. */
import type { Credential } from './credential.js';

export interface CertificateReport {
  readonly identity: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly secondsUntilExpiry: number;
  readonly sha256: string;
}

export function certificateReport(c: Credential | undefined, now = Date.now()): CertificateReport[] {
  if (!c) return [];
  return [{
    identity: c.identity,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    secondsUntilExpiry: Math.max(0, Math.floor((c.notAfter.getTime() - now) / 1000)),
    sha256: c.sha256,
  }];
}
