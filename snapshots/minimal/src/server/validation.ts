import type { FastifySchemaValidationError } from 'fastify';

/**
 * The message of a 400 for input its JSON schema refuses (Fastify's schemaErrorFormatter): the
 * first problem, naming the field when a field is the problem. Schemas say additionalProperties:
 * false, and the server keeps Ajv from dropping such fields silently (src/server/app.ts), so a body
 * carrying tenant_id, owner_id, id or a misspelt column is refused by name.
 */
export function schemaErrorMessage(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const first = errors[0];
  if (!first) return new Error(`${dataVar} is not valid`);
  const where = `${dataVar}${first.instancePath.replace(/\//g, '.')}`;
  const params = first.params as Record<string, unknown>;
  if (first.keyword === 'additionalProperties') {
    return new Error(`${where} has a field that is unknown or cannot be set: "${String(params.additionalProperty)}"`);
  }
  if (first.keyword === 'minProperties') return new Error(`${where} has no field to set`);
  return new Error(`${where} ${first.message ?? 'is not valid'}`);
}
