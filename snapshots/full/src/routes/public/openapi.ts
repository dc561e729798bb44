import type { FastifyPluginAsync } from 'fastify';
import type {} from '@fastify/swagger'; // app.swagger()

/**
 * GET /api/openapi.json: the API's OpenAPI document (src/server/openapi.ts). Registered only when the
 * server runs in development; it is on src/server/public-routes.ts for that case, and absent otherwise.
 */
export const openApiRoutes: FastifyPluginAsync = async (app) => {
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
};
