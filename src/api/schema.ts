/**
 * Schema building blocks shared by every resource kind. Objects are closed (unknown fields are
 * rejected, as Gloo's validation webhook and Kubernetes' structural schemas do).
 */
import { Type, type TProperties, type TSchema, type ObjectOptions } from '@sinclair/typebox';

/** Obj is a closed object schema: a misspelt field is an error, never silently ignored. */
export function Obj<T extends TProperties>(props: T, opts: ObjectOptions = {}) {
  return Type.Object(props, { additionalProperties: false, ...opts });
}

/**
 * OneOf marks an object whose listed keys are mutually exclusive and of which exactly one must
 * be set (protobuf `oneof` with a required choice). Checked by the `exactlyOneOf` keyword in parse.ts.
 */
export function OneOf<T extends TProperties>(keys: (keyof T & string)[], props: T, opts: ObjectOptions = {}) {
  return Type.Object(props, { additionalProperties: false, exactlyOneOf: keys, ...opts });
}

/** AtMostOneOf marks keys of which at most one may be set (an optional protobuf `oneof`). */
export function AtMostOneOf<T extends TProperties>(keys: (keyof T & string)[], props: T, opts: ObjectOptions = {}) {
  return Type.Object(props, { additionalProperties: false, atMostOneOf: keys, ...opts });
}

/** Duration is a protobuf JSON duration: seconds with an optional fraction, e.g. `15s`, `0.25s`. */
export const Duration = Type.String({ pattern: '^[0-9]+(\\.[0-9]{1,9})?s$', description: 'a duration such as 15s or 0.5s' });

/** Port is a TCP port number. */
export const Port = Type.Integer({ minimum: 1, maximum: 65535 });

/** StringMap is a map of string to string (labels, selectors). */
export const StringMap = Type.Record(Type.String(), Type.String());

/** Loose is a Gloo field meshgate accepts but does not act on yet; the translator warns about it. */
export const Loose = (description: string): TSchema => Type.Unknown({ description });

/** ResourceRef names another resource (Gloo `core.solo.io.ResourceRef`). */
export const ResourceRef = Obj({ name: Type.String({ minLength: 1 }), namespace: Type.Optional(Type.String()) });

/** Enum is one of the given strings (a proto enum by its value names). */
export const Enum = (values: string[]) => Type.Union(values.map((v) => Type.Literal(v)));
