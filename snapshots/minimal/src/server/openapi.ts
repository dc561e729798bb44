import type { FastifyInstance } from 'fastify';

/**
 * The OpenAPI document of the API, in development only (`npm run dev`): every route with the TypeBox
 * schemas of its body, params, querystring and answers, at GET /api/openapi.json
 * (src/routes/public/openapi.ts). @fastify/swagger is a development dependency, loaded here on demand:
 * a production server neither installs nor serves it, and the route does not exist there (404).
 *
 * Registered on the root instance before any route, since it collects the routes as they are added.
 */
export async function registerOpenApi(app: FastifyInstance, title: string): Promise<void> {
  const { default: swagger } = await import('@fastify/swagger');
  await app.register(swagger, {
    openapi: {
      // 3.1: JSON Schema as the routes declare it (a nullable column is `type: ['string', 'null']`)
      openapi: '3.1.0',
      info: { title, version: '0.1.0', description: 'Every route needs a session cookie unless src/server/public-routes.ts lists it.' },
    },
  });
}
