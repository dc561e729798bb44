// The general API limit per client IP (src/server/app.ts): every request counts, 404s, requests
// without a session and the liveness probe included.
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

test('the N+1-th request from one IP gets 429 with Retry-After, whatever it asks for', async () => {
  assert.is((await t.call(null, 'GET', '/health')).statusCode, 200);
  assert.is((await t.call(null, 'GET', '/nowhere')).statusCode, 404);
  assert.is((await t.call(null, 'POST', '/api/auth/logout')).statusCode, 401);
  const limited = await t.call(null, 'GET', '/api/me');
  assert.is(limited.statusCode, 429);
  assert.ok(Number(limited.headers['retry-after']) >= 1);
  assert.is((await t.call(null, 'GET', '/nowhere')).statusCode, 429, 'a 404 is refused too');
  assert.is((await t.call(null, 'GET', '/health')).statusCode, 429, 'the probe is counted and refused like any request');
});

test.run();
