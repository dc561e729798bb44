/**
 * The UI in development (`npm run dev`, src/server/dev-server.ts): Vite's dev server in middleware
 * mode inside the Fastify server. One port for the UI and the API, hot reload over a websocket on
 * that same server, and the production CSP (src/security/headers.ts) with the least Vite's dev
 * client needs, on the dev HTML page only:
 *
 *   script-src, style-src  + 'nonce-<random per page load>': React Refresh's preamble is an inline
 *                          module script, and Vite injects <style> tags for CSS (its client reads the
 *                          nonce from <meta property="csp-nonce">). Never 'unsafe-inline'/'unsafe-eval'.
 *   connect-src            + ws://<host>: the hot-reload websocket
 *
 * Production (`npm run build`, `npm start`) never loads this module (vite is a dev dependency); the
 * built UI is served with the unchanged CSP (test/ui/build.test.ts, test/ui/serve.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { DevUi } from '../routes/public/ui.js';
import { CSP_DIRECTIVES } from '../security/headers.js';

/** Vite writes this into every tag it emits; each page load gets its own nonce in its place. */
const NONCE_PLACEHOLDER = 'xms-dev-csp-nonce';
const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

/** The production CSP plus a nonce for scripts and styles and the hot-reload websocket (see above). */
export function devContentSecurityPolicy(nonce: string, host: string): string {
  const directives: Record<string, string[]> = {
    ...CSP_DIRECTIVES,
    'script-src': [...(CSP_DIRECTIVES['script-src'] ?? []), `'nonce-${nonce}'`],
    'style-src': [...(CSP_DIRECTIVES['style-src'] ?? []), `'nonce-${nonce}'`],
    'connect-src': [...(CSP_DIRECTIVES['connect-src'] ?? []), `ws://${host}`],
  };
  return Object.entries(directives)
    .map(([name, values]) => `${name} ${values.join(' ')}`)
    .join(';');
}

/** Starts Vite on `server` (the Fastify server: the websocket shares its port). */
export async function createDevUi(server: Server): Promise<DevUi> {
  const { createServer } = await import('vite');
  const vite = await createServer({
    configFile: fileURLToPath(new URL('vite.config.ts', `file://${WEB_DIR}`)),
    appType: 'custom',
    server: { middlewareMode: true, ws: { server } },
    html: { cspNonce: NONCE_PLACEHOLDER },
  });
  return {
    async page(url, host) {
      const template = await readFile(`${WEB_DIR}index.html`, 'utf8');
      const html = await vite.transformIndexHtml(url, template);
      const nonce = randomBytes(16).toString('base64');
      return { html: html.replaceAll(NONCE_PLACEHOLDER, nonce), csp: devContentSecurityPolicy(nonce, host) };
    },
    handle: (req, res, next) => vite.middlewares(req, res, next),
    close: () => vite.close(),
  };
}
