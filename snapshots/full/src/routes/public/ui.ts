import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { SECURITY_HEADERS } from '../../security/headers.js';

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
 *   GET /verify-email     index.html (the e-mailed address confirmation: /verify-email#token=...)
 *   GET /assets/*         the hashed, immutable build output (@fastify/static, no listing, no dotfiles)
 * Every /api route stays where it was: protected unless declared public in that one list.
 * Any other page address a browser asks for gets status 404 with the SPA, which shows "page not found".
 *
 * In development (`npm run dev`, option `dev`), the same routes serve web/ through Vite with hot
 * reload (src/server/dev-ui.ts): the page gets the CSP with a per-request nonce, and Vite's modules
 * (/src/..., /@vite/client, dependencies) are answered from the not-found handler, so the route list
 * is the same in both modes.
 */
export const UI_PUBLIC_ROUTES: readonly string[] = ['GET /', 'GET /reset-password', 'GET /invitation', 'GET /verify-email', 'GET /assets/*'];

/** The UI in development (src/server/dev-ui.ts, loaded by `npm run dev` only). */
export interface DevUi {
  /** index.html through Vite's transforms, with a fresh nonce, and the CSP that allows that nonce */
  page(url: string, host: string): Promise<{ html: string; csp: string }>;
  /** Vite's middleware stack (modules, the Vite client, dependencies); calls next() for anything else */
  handle(req: IncomingMessage, res: ServerResponse, next: () => void): void;
  close(): Promise<void>;
}

export interface UiOptions {
  /** the built SPA (default: UI_DIR, else dist/web under the working directory) */
  dir?: string;
  /** development only: start Vite on the server and serve web/ through it */
  dev?: (server: Server) => Promise<DevUi>;
}

const NOT_BUILT = 'The UI is not built: run `npm run build:ui` (or `npm run build`).\n';

export const uiRoutes: FastifyPluginAsync<UiOptions> = async (app, options) => {
  // Vite starts in the background: the API is ready first, the page waits for Vite
  if (options.dev) return devUiRoutes(app, options.dev(app.server));
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
  app.get('/verify-email', async (_request, reply) => sendIndex(reply));
  // A page address that is none of the above (a mistyped or stale link): status 404, and for a
  // browser the SPA, which shows its "page not found" page. API and asset paths keep a JSON 404.
  app.setNotFoundHandler(async (request, reply) => {
    const page = (request.method === 'GET' || request.method === 'HEAD') && !/^\/(api|assets)(\/|$)/.test(request.url);
    if (page && /\btext\/html\b/.test(request.headers.accept ?? '')) {
      await sendIndex(reply.code(404));
      return reply;
    }
    return reply.code(404).send({ error: 'not_found', message: `Route ${request.method}:${request.url.split('?')[0]} not found` });
  });

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

const devUiRoutes = async (app: Parameters<FastifyPluginAsync>[0], starting: Promise<DevUi>): Promise<void> => {
  starting.catch((error: unknown) => app.log.error({ err: error }, 'vite failed to start: the UI is not served'));
  app.addHook('onClose', async () => (await starting.catch(() => undefined))?.close());
  const devCsp = new WeakMap<object, string>();
  const sendPage = async (url: string, host: string, reply: FastifyReply) => {
    const { html, csp } = await (await starting).page(url, host);
    devCsp.set(reply, csp);
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
  };
  // runs after the root hook that sets the production headers: only the page's CSP changes
  app.addHook('onSend', (_request, reply, payload, done) => {
    const csp = devCsp.get(reply);
    if (csp) reply.header('content-security-policy', csp);
    done(null, payload);
  });
  // the same pages as in production (a test compares both lists with UI_PUBLIC_ROUTES)
  app.get('/', async (request, reply) => sendPage(request.url, request.host, reply));
  app.get('/reset-password', async (request, reply) => sendPage(request.url, request.host, reply));
  app.get('/invitation', async (request, reply) => sendPage(request.url, request.host, reply));
  app.get('/verify-email', async (request, reply) => sendPage(request.url, request.host, reply));
  // Vite serves modules from web/, not a build: nothing under /assets in development
  app.get('/assets/*', async (_request, reply) => reply.code(404).type('text/plain; charset=utf-8').send('Not found\n'));
  app.setNotFoundHandler((request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return reply.code(404).send({ error: 'not_found' });
    if (request.url.startsWith('/api/')) return reply.code(404).send({ error: 'not_found' });
    // Vite answers on the raw response: the production headers are set on it first
    reply.hijack();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.raw.setHeader(name, value);
    reply.raw.setHeader('x-request-id', request.id);
    const notFound = () => {
      reply.raw.statusCode = 404;
      reply.raw.setHeader('content-type', 'text/plain; charset=utf-8');
      reply.raw.end('Not found\n');
    };
    starting.then((ui) => ui.handle(request.raw, reply.raw, notFound), notFound);
  });
};
