import Fastify, { type FastifyInstance } from 'fastify';
import type { AppConfig } from '../config.js';
import { healthRoutes } from '../routes/public/health.js';

export async function buildApp(config: AppConfig): Promise<FastifyInstance> {
  const app = Fastify({ logger: config.env === 'development' });
  await app.register(healthRoutes);
  return app;
}
