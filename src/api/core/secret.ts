/**
 * Secret (`v1`): a Kubernetes-shaped Secret. No `spec`: `type`, `data` (base64 values) and
 * `stringData` (plain values, merged into `data` on write and never stored, as the Kubernetes
 * API server does) sit at the top level. A `kubernetes.io/tls` Secret holds `tls.crt`,
 * `tls.key` and optionally `ca.crt`; its content is checked at translation time
 * (translate/secret.ts), so a bad certificate is a status, not a refused write.
 *
 * Values are never shown back: the API replaces each `data` value with a `[redacted: N bytes]`
 * marker (redactSecret), and the schema refuses such a marker on input, so applying the output
 * of `meshgate get secret -o yaml` cannot overwrite a key with its own redaction.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Obj } from '../schema.js';
import { ObjectMeta, StatusField, type Resource } from '../meta.js';

/** SECRET_KEY is the Kubernetes rule for a data key: letters, digits, '-', '_' and '.'. */
const SECRET_KEY = '^[-._a-zA-Z0-9]{1,253}$';

/** TLS_SECRET_TYPE is the type of a Secret holding a certificate and its key. */
export const TLS_SECRET_TYPE = 'kubernetes.io/tls';
/** The keys of a TLS Secret (Kubernetes' `corev1.TLSCertKey`, `TLSPrivateKeyKey`, `ServiceAccountRootCAKey`). */
export const TLS_CERT_KEY = 'tls.crt';
export const TLS_PRIVATE_KEY_KEY = 'tls.key';
export const CA_CERT_KEY = 'ca.crt';

/** REDACTED matches the marker the API prints instead of a value. */
const REDACTED = /^\[redacted: [0-9]+ bytes\]$/;

const DataValue = Type.String({
  pattern: '^(?!\\[redacted: [0-9]+ bytes\\]$)',
  description: 'base64 data, not the [redacted: N bytes] marker that `meshgate get` prints',
});

export const Secret = Obj({
  apiVersion: Type.Literal('v1'),
  kind: Type.Literal('Secret'),
  metadata: ObjectMeta,
  /** type defaults to Opaque, as in Kubernetes. */
  type: Type.Optional(Type.String({ minLength: 1 })),
  data: Type.Optional(Type.Record(Type.String({ pattern: SECRET_KEY }), DataValue, { additionalProperties: false })),
  stringData: Type.Optional(Type.Record(Type.String({ pattern: SECRET_KEY }), Type.String(), { additionalProperties: false })),
  status: StatusField,
});
export type Secret = Static<typeof Secret>;

/** SecretResource is a stored Secret: data holds base64 values, stringData is gone; it has no spec. */
export interface SecretResource extends Resource {
  readonly kind: 'Secret';
  type: string;
  data?: Record<string, string>;
}

/** isSecret tells a Secret apart from the spec-carrying kinds. */
export function isSecret(r: { kind: string }): r is SecretResource {
  return r.kind === 'Secret';
}

/**
 * normalizeSecret does what the Kubernetes API server does on write: `stringData` is encoded
 * into `data` (winning over a `data` key of the same name) and dropped, `type` defaults to Opaque.
 */
export function normalizeSecret(r: Record<string, unknown>): void {
  const stringData = r.stringData as Record<string, string> | undefined;
  if (stringData) {
    const data = { ...((r.data as Record<string, string> | undefined) ?? {}) };
    for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(v, 'utf8').toString('base64');
    r.data = data;
    delete r.stringData;
  }
  r.type ??= 'Opaque';
}

/**
 * redactSecret returns a copy whose data values are `[redacted: N bytes]` markers (N is the
 * decoded length); the API serves Secrets only in this form.
 */
export function redactSecret<R extends { kind: string }>(r: R): R {
  if (!isSecret(r) || !r.data) return r;
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.data)) data[k] = REDACTED.test(v) ? v : `[redacted: ${Buffer.from(v, 'base64').length} bytes]`;
  return { ...r, data };
}
