/**
 * The audit trail of the whole account flow over real HTTP (invariant I7): sign-up, log-in, requests
 * that resume the session, an invitation, its redemption, an admin's password reset and its
 * redemption, "forgot password" and its e-mailed link, log-out. Every audit row it writes names its actor, none holds a password hash or a
 * token hash, and resuming a session on a request writes no audit row.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { client, login, signUpAndLogin, startServer, strongPassword, testConfig, testDatabase, type Server } from '../helpers/http.js';
import { linkToken, startInbox, type Inbox } from '../helpers/mail.js';

let server: Server;
let inbox: Inbox;
test.before(async () => {
  inbox = await startInbox();
  server = await startServer(testConfig({ mail: inbox.mailConfig }));
});
test.after(async () => {
  await server.close();
  await inbox.close();
  await (await testDatabase()).close();
});

interface AuditRow {
  id: string;
  actor_id: string | null;
  action: string;
  table_name: string;
  old_row: unknown;
  new_row: unknown;
  row_key: unknown;
}

test('every audit row of the account flow names its actor and holds no secret', async () => {
  const owner = (await testDatabase()).owner;
  const since = (await owner.query<{ id: string }>('select coalesce(max(id), 0)::text as id from audit.log')).rows[0]!.id;

  const admin = await signUpAndLogin(server);
  for (let i = 0; i < 3; i++) assert.is((await admin.client.request('GET', '/api/me')).status, 200);

  // invitation: the admin creates the user, the invited user sets a password with the link
  const email = `invited-${Date.now()}@example.test`;
  const created = await admin.client.request('POST', '/api/admin/users', { email, role: 'member' });
  assert.is(created.status, 201);
  const { user } = (await created.json()) as { user: { id: string } };
  const password = strongPassword();
  const redeemed = await client(server).request('POST', '/api/auth/password-reset', { token: linkToken((await inbox.next(email)).text), password });
  assert.is(redeemed.status, 200);
  const member = await login(server, email, password);
  assert.is((await member.client.request('GET', '/api/me')).status, 200);

  // an admin's password reset (revokes the member's sessions), redeemed by the member
  const reset = await admin.client.request('POST', `/api/admin/users/${user.id}/password-reset`, {});
  assert.is(reset.status, 200);
  const newPassword = strongPassword();
  assert.is((await client(server).request('POST', '/api/auth/password-reset', { token: linkToken((await inbox.next(email)).text), password: newPassword })).status, 200);
  const again = await login(server, email, newPassword);
  assert.is((await again.client.request('POST', '/api/auth/logout')).status, 204);

  // forgot password: the link goes by e-mail; redeeming it ends every session of the user
  assert.is((await client(server).request('POST', '/api/auth/password-forgot', { email: admin.email })).status, 202);
  const adminPassword = strongPassword();
  const forgotToken = linkToken((await inbox.next(admin.email)).text);
  assert.is((await client(server).request('POST', '/api/auth/password-reset', { token: forgotToken, password: adminPassword })).status, 200);

  // log-in again (the previous session is revoked: no fixation), then log out
  const second = await login(server, admin.email, adminPassword, admin.client);
  assert.is((await second.client.request('POST', '/api/auth/logout')).status, 204);

  const rows = (
    await owner.query<AuditRow>(
      'select id::text, actor_id, action, table_name, old_row, new_row, row_key from audit.log where id > $1::bigint order by id',
      [since],
    )
  ).rows;
  const tables = new Set(rows.map((r) => r.table_name));
  for (const table of ['app.tenants', 'app.users', 'app.memberships', 'app_private.credentials', 'app_private.sessions', 'app_private.password_resets']) {
    assert.ok(tables.has(table), `the flow is audited on ${table}`);
  }
  const anonymous = rows.filter((r) => !r.actor_id);
  assert.equal(anonymous.map((r) => `${r.action} ${r.table_name}`), [], 'every audit row names its actor');

  // no secret value: every password hash and token hash the flow stored
  const secrets = (
    await owner.query<{ secret: string }>(
      `select password_hash as secret from app_private.credentials
       union all select encode(token_hash, 'hex') from app_private.sessions
       union all select encode(token_hash, 'hex') from app_private.password_resets`,
    )
  ).rows.map((r) => r.secret);
  assert.ok(secrets.length > 0);
  const logged = JSON.stringify(rows);
  for (const secret of secrets) assert.not.ok(logged.includes(secret), 'no password or token hash in the audit log');

  // the request path writes no audit row: the sessions' rows are creations and revocations only
  const sessionUpdates = rows.filter((r) => r.table_name === 'app_private.sessions' && r.action === 'UPDATE');
  for (const r of sessionUpdates) assert.ok((r.new_row as { revoked_at: string | null }).revoked_at, 'a session update in the log is a revocation');
  assert.ok(rows.filter((r) => r.table_name === 'app_private.sessions' && r.action === 'INSERT').length >= 2);
});

test.run();
