import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

/**
 * The `ui` feature's public routes (this file replaces the base no-op of the same name): serves the
 * built SPA (web/ -> dist/web/, `npm run build:ui`) from the app's one PUBLIC scope,
 * under the same security headers as every other response (the strict CSP: script-src 'self',
 * style-src 'self'; the root onSend hook sets them).
 *
 * Public, and nothing else (these exact lines are in src/server/public-routes.ts):
 *   GET /                 index.html (no data in it: the SPA asks /api/me, which needs a session)
 *   GET /reset-password   index.html (the e-mailed reset link: /reset-password#token=...)
 *   GET /invitation       index.html (the e-mailed invitation link: /invitation#token=...)
 *   GET /assets/*         the hashed, immutable build output (@fastify/static, no listing, no dotfiles)
 * Every /api route stays where it was: protected unless declared public in that one list.
 */
export const UI_PUBLIC_ROUTES: readonly string[] = ['GET /', 'GET /reset-password', 'GET /invitation', 'GET /assets/*'];

export interface UiOptions {
  /** the built SPA (default: UI_DIR, else dist/web under the working directory) */
  dir?: string;
}

const NOT_BUILT = 'The UI is not built: run `npm run build:ui` (or `npm run build`).\n';

export const uiRoutes: FastifyPluginAsync<UiOptions> = async (app, options) => {
  const dir = resolve(options.dir ?? process.env.UI_DIR ?? join(process.cwd(), 'dist', 'web'));
  const indexFile = join(dir, 'index.html');
  const assetsDir = join(dir, 'assets');

  async function sendIndex(reply: FastifyReply): Promise<FastifyReply> {
    let html: Buffer;
    try {
      // read per request: small, and a rebuilt UI is served without a restart
      html = await readFile(indexFile);
    } catch {
      return reply.code(503).type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
    }
    // the HTML names the current hashed assets: always revalidated
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html);
  }

  app.get('/', async (_request, reply) => sendIndex(reply));
  app.get('/reset-password', async (_request, reply) => sendIndex(reply));
  app.get('/invitation', async (_request, reply) => sendIndex(reply));

  if (existsSync(assetsDir)) {
    await app.register(fastifyStatic, {
      root: assetsDir,
      prefix: '/assets/',
      wildcard: true,
      index: false,
      list: false,
      dotfiles: 'deny',
      decorateReply: false,
      // file names carry a content hash
      immutable: true,
      maxAge: 365 * 24 * 60 * 60 * 1000,
    });
  } else {
    app.get('/assets/*', async (_request, reply) =>
      reply.code(404).type('text/plain; charset=utf-8').send(NOT_BUILT),
    );
  }
};
