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
 * `npm run dev:ui` (the Vite dev server, hot reload) injects inline scripts and <style> tags: it is
 * NOT under the CSP. It proxies /api to the Fastify server (`npm run dev`, which serves the built SPA
 * under the real CSP at http://127.0.0.1:3000).
 */
const apiTarget = process.env.XMS_API_URL ?? 'http://127.0.0.1:3000';

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
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
    proxy: {
      // Host is passed through unchanged, so the server's CSRF hook sees Origin == its own origin
      '/api': { target: apiTarget },
    },
  },
});
