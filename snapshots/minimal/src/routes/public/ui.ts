import type { FastifyPluginAsync } from 'fastify';

/**
 * The web UI's public routes. None without the `ui` feature, which replaces this file with the plugin
 * that serves the built SPA (GET /, GET /reset-password, GET /assets/*).
 */
export const uiRoutes: FastifyPluginAsync = async () => {};
