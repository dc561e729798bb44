import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildApp } from '../../src/server/app.js';
import { loadConfig } from '../../src/config.js';

test('GET /health answers ok', async () => {
  const app = await buildApp(loadConfig({ NODE_ENV: 'test' }));
  const response = await app.inject({ method: 'GET', url: '/health' });
  assert.is(response.statusCode, 200);
  assert.equal(response.json(), { status: 'ok' });
  await app.close();
});

test.run();
