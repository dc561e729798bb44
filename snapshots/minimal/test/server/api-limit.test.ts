// The general API limit per client IP (src/server/app.ts): every request counts, 404s and requests
// without a session included, except the liveness probe, which a load balancer polls.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTestApp, type TestApp } from '../helpers/app.js';

const LIMIT = 3;
let t: TestApp;
test.before(async () => {
  t = await startTestApp({ env: { API_LIMIT_PER_MINUTE: String(LIMIT) } });
});
test.after(async () => {
  await t?.close();
});

test('the N+1-th request from one IP gets 429 with Retry-After; /health is neither counted nor refused', async () => {
  for (let i = 0; i < 5; i++) assert.is((await t.call(null, 'GET', '/health')).statusCode, 200, 'probes are not counted');
  assert.is((await t.call(null, 'GET', '/api/me')).statusCode, 401);
  assert.is((await t.call(null, 'GET', '/nowhere')).statusCode, 404);
  assert.is((await t.call(null, 'POST', '/api/auth/logout')).statusCode, 401);
  const limited = await t.call(null, 'GET', '/api/me');
  assert.is(limited.statusCode, 429);
  assert.ok(Number(limited.headers['retry-after']) >= 1);
  assert.is((await t.call(null, 'GET', '/nowhere')).statusCode, 429, 'a 404 counts too');
  assert.is((await t.call(null, 'GET', '/health')).statusCode, 200, 'the probe still answers');
});

test.run();
