import type { FastifyPluginAsync } from 'fastify';

/** Liveness probe for load balancers: public, says nothing about the app's data. */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  // not counted by the general API limit (src/server/app.ts): load balancers poll it
  app.get('/health', { config: { apiLimit: false } }, async () => ({ status: 'ok' }));
};
