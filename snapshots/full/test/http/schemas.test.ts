// The routes' TypeBox schemas (src/server/schemas.ts): what they refuse, and the OpenAPI document
// built from them, which exists in development only (src/server/openapi.ts). The server is built as
// `npm run dev` builds it: each schema compiled on its route's first request (src/server/dev-schemas.ts),
// so these tests also prove that this refuses and answers exactly as compiling at start-up does.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lazySchemaCompilers } from '../../src/server/dev-schemas.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

/** development logs every request: not in the test output */
const quiet = { write: () => undefined };

let dev: TestApp;
test.before(async () => {
  dev = await startTestApp({ env: { NODE_ENV: 'development' }, logStream: quiet, schemaCompilers: lazySchemaCompilers() });
});
test.after(async () => {
  await dev?.close();
});

interface OpenApiOperation {
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown>; additionalProperties?: unknown; required?: string[] } }> };
  parameters?: Array<{ in: string; name: string }>;
  responses?: Record<string, unknown>;
}
type OpenApi = { openapi: string; paths: Record<string, Record<string, OpenApiOperation>> };

test('a body of the wrong type: 400 naming the field', async () => {
  const member = await dev.user({ role: 'member' });
  const res = await dev.call(member, 'POST', '/api/tenants/switch', { tenantId: { id: member.tenantId } });
  assert.is(res.statusCode, 400, res.body);
  assert.equal(res.json(), { error: 'invalid_request', message: 'body.tenantId must be string' });
  const row = await dev.call(member, 'POST', '/api/records', { title: ['not', 'text'], body: 'b' });
  assert.is(row.statusCode, 400, row.body);
  assert.match(row.json().message, /^body\.title /);
  const login = await dev.call(null, 'POST', '/api/auth/login', { email: 'a@example.test' });
  assert.is(login.statusCode, 400, login.body);
  assert.match(login.json().message, /must have required property 'password'/);
});

test('an extra field is refused by name, never dropped', async () => {
  const res = await dev.call(null, 'POST', '/api/auth/login', { email: 'a@example.test', password: 'x', role: 'admin' });
  assert.is(res.statusCode, 400, res.body);
  assert.equal(res.json(), { error: 'invalid_request', message: 'body has a field that is unknown or cannot be set: "role"' });
  const member = await dev.user({ role: 'member' });
  const row = await dev.call(member, 'POST', '/api/records', { title: 't', body: 'b', tenant_id: member.tenantId });
  assert.is(row.statusCode, 400, row.body);
  assert.match(row.json().message, /"tenant_id"/);
});

test('development: GET /api/openapi.json lists every API route with its schemas, without a session', async () => {
  const res = await dev.call(null, 'GET', '/api/openapi.json');
  assert.is(res.statusCode, 200, res.body);
  const doc = res.json() as OpenApi;
  assert.is(doc.openapi, '3.1.0');
  const api = dev.app
    .xmsRoutes()
    .filter((r) => r.url.startsWith('/api/') && r.method !== 'HEAD' && r.url !== '/api/openapi.json');
  assert.ok(api.length >= 10);
  for (const route of api) {
    const path = route.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    assert.ok(doc.paths[path]?.[route.method.toLowerCase()], `${route.method} ${route.url} is in the document`);
  }
  assert.ok(doc.paths['/api/me']?.get?.responses?.['200'], 'GET /api/me documents its answer');
  // a table's routes, with the schema of the row a client writes
  const create = doc.paths['/api/records']?.post?.requestBody?.content['application/json']?.schema;
  assert.ok(create, 'POST /api/records has its body');
  assert.is(create.additionalProperties, false);
  assert.ok(create.properties && 'title' in create.properties);
  assert.ok(doc.paths['/api/records/{id}']?.patch?.parameters?.some((p) => p.in === 'path' && p.name === 'id'));
  assert.not.ok(doc.paths['/api/openapi.json'], 'the document does not list itself');
});

test('production and tests: there is no OpenAPI route (404)', async () => {
  const production = await startTestApp({
    env: { NODE_ENV: 'production', APP_ORIGIN: 'https://app.example.test', DATABASE_URL: 'postgres://xms_app@db.invalid/app', SMTP_URL: 'smtp://127.0.0.1:9' },
    logStream: quiet,
  });
  try {
    assert.is(production.config.env, 'production');
    assert.is((await production.call(null, 'GET', '/api/openapi.json')).statusCode, 404);
    assert.not.ok(production.app.xmsRoutes().some((r) => r.url === '/api/openapi.json'));
  } finally {
    await production.close();
  }
  const testing = await startTestApp();
  try {
    assert.is((await testing.call(null, 'GET', '/api/openapi.json')).statusCode, 404);
  } finally {
    await testing.close();
  }
});

test.run();
