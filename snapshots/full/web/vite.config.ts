import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * The SPA's build (`npm run build:ui`, part of `npm run build`): web/ -> dist/web/, served by the
 * Fastify server (src/routes/public/ui.ts) under the app's strict CSP.
 *
 * Production builds contain no inline script or style (test/ui/build.test.ts checks the output):
 *   - modulePreload polyfill off (it is not needed by evergreen browsers, and keeps the HTML minimal);
 *   - assetsInlineLimit 0: every asset is a file under /assets, never a data: URL inlined in JS or CSS;
 *   - CSS is imported from main.tsx and emitted as one external stylesheet.
 *
 * `npm run dev` runs Vite in middleware mode inside the Fastify server (src/server/dev-ui.ts): one
 * port, hot reload, the same CSP with a per-request nonce for the few inline tags Vite's dev client
 * needs. Vite serves only web/ and the dependencies (server.fs.allow): never src/ or the app's files.
 */

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: false,
  plugins: [react()],
  // nothing from the environment reaches the bundle except VITE_-prefixed variables; this app
  // defines none, and test/ui/build.test.ts scans the output for secrets and DATABASE_URL
  envPrefix: 'VITE_',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    fs: {
      strict: true,
      allow: [fileURLToPath(new URL('.', import.meta.url)), fileURLToPath(new URL('../node_modules', import.meta.url))],
    },
  },
});
