import type { FastifyPluginAsync } from 'fastify';

/**
 * The web UI's public routes. None without the `ui` feature, which replaces this file with the plugin
 * that serves the built SPA (GET /, GET /reset-password, GET /assets/*).
 */
/** The `ui` feature's options (none apply without it). */
export type UiOptions = Record<string, never>;

export const uiRoutes: FastifyPluginAsync<UiOptions> = async () => {};
