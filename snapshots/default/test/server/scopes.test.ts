/** I1 by structure: the server refuses to start when a route escapes the scopes or the public list. */
import Fastify from 'fastify';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Database } from '../../src/db/client.js';
import { buildApp } from '../../src/server/app.js';
import { installRouteRegistry, RouteScopeError, tagScope } from '../../src/server/scopes.js';
import { testConfig } from '../helpers/http.js';

// No query runs before a request arrives: the app can be built over a database that is never used.
const unusedDb = {} as Database;

test('the app as shipped starts, and every route has a scope', async () => {
  const app = await buildApp(testConfig(), { db: unusedDb });
  await app.ready();
  const routes = app.xmsRoutes();
  assert.ok(routes.length > 0);
  for (const route of routes) assert.ok(route.scope, `${route.method} ${route.url}`);
  await app.close();
});

test('a route added outside the protected scope refuses to start', async () => {
  const app = await buildApp(testConfig(), { db: unusedDb });
  app.get('/api/oops', async () => ({ leaked: true }));
  try {
    await app.ready();
    assert.unreachable('started');
  } catch (error) {
    assert.instance(error, RouteScopeError);
    assert.match((error as Error).message, /GET \/api\/oops is outside the protected scope/);
  }
});

test('a route in the public scope that is not on the public list refuses to start', async () => {
  const app = Fastify();
  installRouteRegistry(app);
  await app.register(async (scope) => {
    tagScope(scope, 'public');
    scope.get('/api/export', async () => []);
  });
  try {
    await app.ready();
    assert.unreachable('started');
  } catch (error) {
    assert.instance(error, RouteScopeError);
    assert.match((error as Error).message, /not listed in src\/server\/public-routes.ts/);
  }
});

test.run();
