import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, testDatabase, type Server } from '../helpers/http.js';

let server: Server;
test.before(async () => {
  server = await startServer();
});
test.after(async () => {
  await server.close();
  await (await testDatabase()).close();
});

test('GET /health answers ok over HTTP, without a session', async () => {
  const response = await fetch(`${server.url}/health`);
  assert.is(response.status, 200);
  assert.equal(await response.json(), { status: 'ok' });
});

test.run();
