import { Type, type SchemaOptions, type Static, type TSchema } from '@sinclair/typebox';

/**
 * The schemas routes share. A route declares its body, params, querystring and responses with TypeBox
 * (one schema: Ajv validates the request with it, fast-json-stringify writes the answer with it, and
 * the handler's `request.body` / `request.params` / `request.query` and its return value get their
 * TypeScript types from it: no casts). Write bodies are strict (`Strict`): an unknown field is refused
 * by name (src/server/validation.ts), never dropped.
 *
 * A response schema is also a filter: fast-json-stringify writes only the properties it declares, so
 * a field the UI or a client reads must be declared here or in the route.
 */

/** An object that refuses any property it does not declare (additionalProperties: false). */
export function Strict<T extends Record<string, TSchema>>(properties: T, options: SchemaOptions = {}) {
  return Type.Object(properties, { ...options, additionalProperties: false });
}

/**
 * `schema` or null, as one JSON Schema type list (`type: ['string', 'null']`) rather than anyOf, so a
 * wrong value is still answered "must be string,null", naming the field.
 */
export function Nullable<T extends TSchema & { type: string }>(schema: T) {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'] });
}

/** One of some strings, as JSON Schema `enum` (a wrong value: "must be equal to one of the allowed values"). */
export function StringEnum<const T extends readonly string[]>(values: T, options: SchemaOptions = {}) {
  return Type.Unsafe<T[number]>({ ...options, type: 'string', enum: values });
}

/** A uuid (users, tenants, rows). */
export const Uuid = Type.String({ format: 'uuid' });
/** An e-mail address as typed: the server normalises and checks it (src/auth/accounts.ts). */
export const Email = Type.String({ maxLength: 320 });
/** A password as typed: the policy (length, strength) is checked by the server, not the schema. */
export const Password = Type.String({ maxLength: 1024 });
/** A TOTP code or a recovery code. */
export const Code = Type.String({ minLength: 1, maxLength: 40 });
/** A role name of permissions.yml (the server checks it is one). */
export const RoleName = Type.String({ pattern: '^[a-z][a-z0-9_]{0,39}$' });

/** `:id` a uuid. */
export const IdParams = Type.Object({ id: Uuid });

/** Every 4xx and 5xx answer: a stable code for programs, a sentence for people. */
export const ErrorBody = Type.Object({
  error: Type.String(),
  message: Type.String(),
  /** a 500's request id, to quote to the operator (the log has the error) */
  requestId: Type.Optional(Type.String()),
});
export type ErrorBody = Static<typeof ErrorBody>;

/** The error answers of every route (add them to a route's `response`). */
export const errorResponses = { '4xx': ErrorBody, '5xx': ErrorBody } as const;

/** 204: no body (`reply.code(204).send()`) */
export const NoContent = Type.Unsafe<undefined>({ description: 'No content' });

/** An accepted request whose effect follows by e-mail (202). */
export const Accepted = Type.Object({ status: Type.String(), message: Type.String() });
