import type { FastifyPluginAsync } from 'fastify';

/** Liveness probe for load balancers: public, says nothing about the app's data. */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get('/health', async () => ({ status: 'ok' }));
};
