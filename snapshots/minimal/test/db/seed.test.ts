// supabase/seed.sql, the local development data: it applies after the migrations (twice: idempotent),
// its accounts log in with the password it documents, and what they see is still bounded by RLS.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ORIGIN, startTestApp, type TestApp } from '../helpers/app.js';

const SEED = readFileSync('supabase/seed.sql', 'utf8');
const PASSWORD = /member@example\.test\s+\/ (.+?)\s+\(role member\)/.exec(SEED)?.[1];

let t: TestApp;
test.before(async () => {
  t = await startTestApp({ setupSql: `${SEED}\n${SEED}` });
});
test.after(() => t.close());

test('the seeded member logs in with the documented password and sees the local tenant\'s records', async () => {
  assert.ok(PASSWORD, 'seed.sql documents the password');
  const login = await t.call(null, 'POST', '/api/auth/login', { email: 'member@example.test', password: PASSWORD });
  assert.is(login.statusCode, 200, login.body);
  const setCookie = ([] as string[]).concat(login.headers['set-cookie'] ?? []);
  const cookie = setCookie[0]?.split(';')[0];
  assert.ok(cookie, 'a session cookie');
  const records = await t.app.inject({ method: 'GET', url: '/api/records', headers: { cookie, origin: ORIGIN, host: new URL(ORIGIN).host } });
  assert.is(records.statusCode, 200, records.body);
  const titles = (records.json() as { rows: Array<{ title: string }> }).rows.map((row) => row.title).sort();
  assert.equal(titles, ['Member notes', 'Second note', 'Welcome'], 'the three seeded records, once each, and no other tenant\'s');
});

test('a wrong password is refused for a seeded account', async () => {
  const login = await t.call(null, 'POST', '/api/auth/login', { email: 'admin@example.test', password: 'not the seeded password at all' });
  assert.is(login.statusCode, 401);
});

test.run();
