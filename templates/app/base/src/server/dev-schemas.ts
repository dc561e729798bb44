/**
 * Route schemas compiled on first use, for `npm run dev` only (src/server/dev-server.ts).
 *
 * Fastify compiles every route's input validator (Ajv) and response serializer
 * (fast-json-stringify) while the server starts: a large share of a restart, for routes a change
 * may never reach. Here each is compiled by Fastify's own compilers, with the same options, on the
 * route's first request: every input is still validated by the same schema before its handler runs.
 * Production and the tests compile at start-up (src/server/app.ts), so a schema that does not
 * compile still fails there, not in a request.
 */
import ajvCompiler, { type ValidatorFactory } from '@fastify/ajv-compiler';
import serializerCompiler, { type SerializerFactory } from '@fastify/fast-json-stringify-compiler';

type Validate = ReturnType<ReturnType<ValidatorFactory>>;

export function lazySchemaCompilers(): { buildValidator: ValidatorFactory; buildSerializer: SerializerFactory } {
  const validators = ajvCompiler();
  const serializers = serializerCompiler();
  return {
    buildValidator: (schemas, options) => {
      const compile = validators(schemas, options);
      return (route) => {
        let validate: Validate | undefined;
        // Fastify reads a failed validation's errors from the function it was given
        const lazy = ((data: unknown) => {
          validate ??= compile(route);
          const valid = validate(data);
          lazy.errors = validate.errors;
          return valid;
        }) as Validate;
        return lazy;
      };
    },
    buildSerializer: (schemas, options) => {
      const compile = serializers(schemas, options);
      return (route) => {
        let serialize: ((data: unknown) => string) | undefined;
        return (data) => (serialize ??= compile(route))(data);
      };
    },
  };
}
