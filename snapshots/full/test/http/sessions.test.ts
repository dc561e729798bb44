/**
 * The sessions page's API over real HTTP: a user sees their own live sessions (browser, last seen,
 * the current one marked) and ends one or all of the others; another user's session cannot be named
 * or ended; the handle is not the stored hash; audited with the user as actor. GET /api/me answers
 * with the session's own user, as the session check of each request reads it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { client, login, signUpAndLogin, startServer, testDatabase, type Server } from '../helpers/http.js';

let server: Server;
test.before(async () => {
  server = await startServer();
});
test.after(async () => {
  await server.close();
  await (await testDatabase()).close();
});

interface Listed {
  id: string;
  current: boolean;
  userAgent: string | null;
  lastSeenAt: string;
}

async function list(c: ReturnType<typeof client>): Promise<Listed[]> {
  const response = await c.request('GET', '/api/sessions');
  assert.is(response.status, 200);
  return ((await response.json()) as { sessions: Listed[] }).sessions;
}

test('a user lists their live sessions and ends one of the others, never someone else\'s', async () => {
  const alice = await signUpAndLogin(server);
  const phone = client(server);
  const phoneResponse = await phone.request('POST', '/api/auth/login', { email: alice.email, password: alice.password }, { 'user-agent': 'Phone browser\t1.0' });
  assert.is(phoneResponse.status, 200);
  const sessions = await list(alice.client);
  assert.is(sessions.length, 2);
  assert.is(sessions.filter((s) => s.current).length, 1);
  const other = sessions.find((s) => !s.current)!;
  assert.is(other.userAgent, 'Phone browser1.0', 'printable characters only');
  assert.ok(!Number.isNaN(Date.parse(other.lastSeenAt)));
  const hashes = await (await testDatabase()).owner.query<{ h: string }>(`select encode(token_hash, 'hex') as h from app_private.sessions`);
  assert.not.ok(hashes.rows.some((row) => sessions.some((s) => s.id === row.h)), 'the handle is not the stored hash');

  // bob cannot end alice's session, nor see it
  const bob = await signUpAndLogin(server);
  assert.is((await bob.client.request('DELETE', `/api/sessions/${other.id}`)).status, 404);
  assert.not.ok((await list(bob.client)).some((s) => s.id === other.id));
  assert.is((await phone.request('GET', '/api/me')).status, 200, 'still alive');

  const current = sessions.find((s) => s.current)!;
  assert.is((await alice.client.request('DELETE', `/api/sessions/${current.id}`)).status, 400, 'the current one: log out instead');
  assert.is((await alice.client.request('DELETE', `/api/sessions/${other.id}`)).status, 204);
  assert.is((await phone.request('GET', '/api/me')).status, 401, 'ended');
  assert.is((await alice.client.request('GET', '/api/me')).status, 200, 'the current one lives on');
  const audited = await (await testDatabase()).owner.query<{ n: number }>(
    `select count(*)::int as n from audit.log where table_name = 'app_private.sessions' and actor_id = $1 and old_row->>'revoked_at' is null and new_row->>'revoked_at' is not null`,
    [alice.userId],
  );
  assert.ok(audited.rows[0]!.n >= 1, 'audited with the user as actor');
});

test('end every other session at once', async () => {
  const alice = await signUpAndLogin(server);
  const second = await login(server, alice.email, alice.password);
  const third = await login(server, alice.email, alice.password);
  const bob = await signUpAndLogin(server);
  const response = await alice.client.request('POST', '/api/sessions/revoke-others', {});
  assert.is(response.status, 200);
  assert.is(((await response.json()) as { ended: number }).ended, 2);
  assert.is((await second.client.request('GET', '/api/me')).status, 401);
  assert.is((await third.client.request('GET', '/api/me')).status, 401);
  assert.is((await alice.client.request('GET', '/api/me')).status, 200);
  assert.is((await bob.client.request('GET', '/api/me')).status, 200, 'nobody else is touched');
  assert.equal((await list(alice.client)).map((s) => s.current), [true]);
});

test('the sessions API needs a session', async () => {
  assert.is((await client(server).request('GET', '/api/sessions')).status, 401);
  assert.is((await client(server).request('POST', '/api/sessions/revoke-others', {})).status, 401);
});


test("GET /api/me answers with the session's own user, read afresh on every request", async () => {
  const alice = await signUpAndLogin(server);
  const bob = await signUpAndLogin(server);
  const owner = (await testDatabase()).owner;
  const rename = (userId: string, name: string) => owner.query('update app.users set display_name = $2 where id = $1', [userId, name]);
  const me = async (c: ReturnType<typeof client>) => {
    const response = await c.request('GET', '/api/me');
    assert.is(response.status, 200);
    return ((await response.json()) as { user: { id: string; email: string; displayName: string | null } }).user;
  };
  await rename(alice.userId, 'Alice Adams');
  await rename(bob.userId, 'Bob Brown');
  const [a, b] = [await me(alice.client), await me(bob.client)];
  assert.equal([a.id, a.email, a.displayName], [alice.userId, alice.email, 'Alice Adams']);
  assert.equal([b.id, b.email, b.displayName], [bob.userId, bob.email, 'Bob Brown']);
  // the name comes with the session check of each request: a change shows on the next one
  await rename(alice.userId, 'Alice Baker');
  assert.is((await me(alice.client)).displayName, 'Alice Baker');
  await rename(alice.userId, '');
  assert.is((await me(alice.client)).displayName, '');
  assert.is((await me(bob.client)).displayName, 'Bob Brown');
});

test.run();
