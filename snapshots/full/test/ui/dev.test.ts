/**
 * The UI routes in development (`npm run dev`: src/routes/public/ui.ts with the `dev` option,
 * src/server/dev-ui.ts). Vite itself is replaced by a stand-in here (the generator's end-to-end test
 * runs the real `npm run dev`); what is checked is the server's side:
 *   - the dev page's CSP is the production one plus a nonce (scripts, styles) and the hot-reload
 *     websocket: never 'unsafe-inline' or 'unsafe-eval'; every other response keeps the production CSP;
 *   - Vite's modules are answered with the production security headers;
 *   - the route list is the same as in production, and unknown /api paths still get a JSON 404.
 */
import type { FastifyInstance } from 'fastify';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UI_PUBLIC_ROUTES, type DevUi } from '../../src/routes/public/ui.js';
import { SECURITY_HEADERS } from '../../src/security/headers.js';
import { buildApp } from '../../src/server/app.js';
import { devContentSecurityPolicy } from '../../src/server/dev-ui.js';
import { testConfig, testDatabase } from '../helpers/http.js';

const PRODUCTION_CSP = SECURITY_HEADERS['Content-Security-Policy']!;
let app: FastifyInstance;
let url: string;
const nonces: string[] = [];

const standIn: DevUi = {
  async page(_url, host) {
    const nonce = `n${nonces.length}AAAAAAAAAAAAAAAA`;
    nonces.push(nonce);
    return { html: `<script type="module" nonce="${nonce}" src="/@vite/client"></script>`, csp: devContentSecurityPolicy(nonce, host) };
  },
  handle(req, res, next) {
    if (req.url !== '/@vite/client') return next();
    res.setHeader('content-type', 'text/javascript');
    res.end('export {};\n');
  },
  async close() {},
};

test.before(async () => {
  const db = await (await testDatabase()).open();
  app = await buildApp(testConfig(), { db, ui: { dev: async () => standIn } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});

test.after(async () => {
  await app?.close();
  await (await testDatabase()).close();
});

test('the dev CSP adds a nonce and the websocket to the production policy, nothing else', () => {
  const csp = devContentSecurityPolicy('abc123', '127.0.0.1:3000');
  assert.not.match(csp, /unsafe-inline|unsafe-eval|\*/);
  assert.match(csp, /(^|;)script-src 'self' 'nonce-abc123'(;|$)/);
  assert.match(csp, /(^|;)style-src 'self' 'nonce-abc123'(;|$)/);
  assert.match(csp, /(^|;)connect-src 'self' ws:\/\/127\.0\.0\.1:3000(;|$)/);
  // the rest is the production policy, directive by directive
  const strip = (policy: string) =>
    policy
      .replace(/ 'nonce-[^']+'/g, '')
      .replace(/ ws:\/\/\S+?(?=;|$)/, '')
      .split(';');
  assert.equal(strip(csp), PRODUCTION_CSP.split(';'));
  assert.not.match(PRODUCTION_CSP, /nonce|ws:/);
});

test('the dev page carries its own nonce in its CSP; other responses keep the production CSP', async () => {
  const first = await fetch(`${url}/`);
  const html = await first.text();
  assert.is(first.status, 200);
  const csp = first.headers.get('content-security-policy') ?? '';
  const nonce = nonces.at(-1)!;
  assert.ok(html.includes(`nonce="${nonce}"`));
  assert.match(csp, `'nonce-${nonce}'`);
  assert.not.match(csp, /unsafe-inline|unsafe-eval/);
  assert.is(first.headers.get('x-frame-options'), 'DENY');
  const second = await fetch(`${url}/reset-password`);
  await second.arrayBuffer();
  assert.is.not(second.headers.get('content-security-policy'), csp, 'a new nonce per page');

  const health = await fetch(`${url}/health`);
  await health.arrayBuffer();
  assert.is(health.headers.get('content-security-policy'), PRODUCTION_CSP);
});

test("Vite's modules get the production security headers; unknown paths are 404s", async () => {
  const client = await fetch(`${url}/@vite/client`);
  assert.is(await client.text(), 'export {};\n');
  assert.is(client.headers.get('content-security-policy'), PRODUCTION_CSP);
  assert.is(client.headers.get('x-content-type-options'), 'nosniff');
  assert.ok(client.headers.get('x-request-id'));
  for (const path of ['/nothing-here', '/api/nothing-here']) {
    const response = await fetch(`${url}${path}`);
    await response.arrayBuffer();
    assert.is(response.status, 404, path);
  }
  const api = await fetch(`${url}/api/nothing-here`);
  assert.match(api.headers.get('content-type') ?? '', /json/);
  await api.arrayBuffer();
});

test('the same public routes as in production', () => {
  const ui = app
    .xmsRoutes()
    .filter((r) => r.method === 'GET' && UI_PUBLIC_ROUTES.includes(`GET ${r.url}`))
    .map((r) => `GET ${r.url}`)
    .sort();
  assert.equal(ui, [...UI_PUBLIC_ROUTES].sort());
});

test.run();
