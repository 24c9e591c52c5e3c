/**
 * Credential is a workload's certificate chain, trust root and private key, as the CA returned
 * them and checked here once: the chain links up to the trusted root, the leaf holds our key and
 * names exactly one SPIFFE identity. Read with node:crypto only.
 */
import { X509Certificate, createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { parseSpiffeId } from '../identity/spiffe-id.js';
import { CaRequestError } from './errors.js';
import type { Secret } from './secret.js';

/** Credential is what a sidecar or gateway presents and trusts for mesh mTLS. */
export interface Credential {
  /** identity is the leaf's URI SAN, `spiffe://<td>/ns/<ns>/sa/<sa>`. */
  readonly identity: string;
  /** certChainPem is the leaf then any intermediates, without the root. */
  readonly certChainPem: string;
  /** rootPem is the trust anchor for peers' certificates. */
  readonly rootPem: string;
  readonly key: Secret;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** sha256 is the lower-case hex SHA-256 of the leaf's DER (XFCC `Hash=`). */
  readonly sha256: string;
}

/** uriSans lists the URI entries of a certificate's subjectAltName. */
export function uriSans(cert: X509Certificate): string[] {
  // Node renders the SAN as `URI:a, DNS:b`, quoting entries that contain a comma or quote.
  return (cert.subjectAltName ?? '')
    .split(/, (?=[A-Za-z ]+:)/)
    .filter((e) => e.startsWith('URI:'))
    .map((e) => e.slice(4).replace(/^"(.*)"$/, '$1'));
}

function pemOf(cert: X509Certificate): string {
  return `${cert.toString().trim()}\n`;
}

/**
 * credentialFromChain checks a CA answer (`cert_chain`: leaf first, root last) against the key we
 * generated and the root we trust, and builds the Credential. Any mismatch throws CaRequestError.
 */
export function credentialFromChain(chain: readonly string[], key: Secret, trustedRootPem?: string): Credential {
  if (chain.length < 2) throw new CaRequestError(`ca returned ${chain.length} certificate(s); expected the leaf first and the root last`);
  let certs: X509Certificate[];
  try {
    certs = chain.map((pem) => new X509Certificate(pem));
  } catch (err) {
    throw new CaRequestError('ca returned a chain element that is not a PEM certificate', { cause: err });
  }
  const leaf = certs[0]!;
  const root = certs[certs.length - 1]!;
  let trusted: X509Certificate | undefined;
  try {
    trusted = trustedRootPem === undefined ? undefined : new X509Certificate(trustedRootPem);
  } catch (err) {
    throw new CaRequestError('the trusted root is not a PEM certificate', { cause: err });
  }
  if (trusted && !root.raw.equals(trusted.raw)) {
    throw new CaRequestError('ca returned a chain that does not end in the trusted root');
  }
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!certs[i]!.checkIssued(certs[i + 1]!) || !certs[i]!.verify(certs[i + 1]!.publicKey)) {
      throw new CaRequestError(`ca returned a broken chain: certificate ${i} is not signed by certificate ${i + 1}`);
    }
  }
  const ours = createPublicKey(createPrivateKey(key.reveal())).export({ type: 'spki', format: 'der' });
  if (!leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(ours)) throw new CaRequestError('ca returned a certificate for a different key');
  const uris = uriSans(leaf);
  if (uris.length !== 1 || !parseSpiffeId(uris[0]!)) throw new CaRequestError(`ca returned a leaf with URI SANs [${uris.join(', ')}]; expected exactly one spiffe identity`);
  return {
    identity: uris[0]!,
    certChainPem: certs.slice(0, -1).map(pemOf).join(''),
    rootPem: pemOf(root),
    key,
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
    sha256: createHash('sha256').update(leaf.raw).digest('hex'),
  };
}
