/**
 * An existing account joins a second tenant by invitation (src/auth/invitations.ts,
 * src/routes/public/invitation.ts, migration *_xms_tenant_join.sql), over real HTTP with the links
 * read from a real SMTP server in this process. Tried as an attacker would: the admin's answer is the
 * same for an address with an account as for a new one; the link alone gives nothing (it sets no
 * password, joins nothing); a wrong password, a missing or wrong second factor, an expired, revoked,
 * resent or used token, and a token for another address are refused with nothing written; two
 * accepts at once give exactly one membership. The servers log in as the runtime role xms_app; the
 * owner connection only ages a token and reads the audit log.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as OTPAuth from 'otpauth';
import { client, login, randomEmail, signUpAndLogin, startServer, strongPassword, testConfig, testDatabase, type Account, type Server } from '../helpers/http.js';
import { linkToken, mailLink, startInbox, type Inbox } from '../helpers/mail.js';

let server: Server;
/** the same database, with the default configuration: an admin must have a second factor */
let strict: Server;
let inbox: Inbox;
test.before(async () => {
  inbox = await startInbox();
  const authLimit = { perAccount: 1000, perIp: 100000, windowSeconds: 900 };
  server = await startServer(testConfig({ mail: inbox.mailConfig, authLimit }));
  strict = await startServer(testConfig({ mail: inbox.mailConfig, authLimit, mfaRequiredFor: 'admin' }));
});
test.after(async () => {
  await server.close();
  await strict.close();
  await inbox.close();
  await (await testDatabase()).close();
});

/** Invites `email` into the admin's tenant and returns the e-mailed token, with the admin's answer. */
async function invite(admin: Account, email: string, role = 'member'): Promise<{ token: string; answer: Response }> {
  const answer = await admin.client.request('POST', '/api/admin/users', { email, role });
  assert.is(answer.status, 201);
  await server.app.xms.mail.settled();
  const message = await inbox.next(email);
  assert.match(mailLink(message.text), /\/invitation#token=/);
  return { token: linkToken(message.text), answer };
}

const join = (token: string, password: string, extra: Record<string, unknown> = {}, c = client(server)) =>
  c.request('POST', '/api/auth/invitation/join', { token, password, ...extra });

async function membershipsIn(tenantId: string, userId: string): Promise<string[]> {
  const rows = await (await testDatabase()).owner.query<{ role: string }>(
    'select role from app.memberships where tenant_id = $1 and user_id = $2',
    [tenantId, userId],
  );
  return rows.rows.map((row) => row.role);
}

/** Tenant B's members: the id and status of each, by address. */
async function listed(admin: Account): Promise<Map<string, { id: string; status: string; role: string }>> {
  const body = (await (await admin.client.request('GET', '/api/admin/users')).json()) as {
    users: Array<{ id: string; email: string; status: string; role: string }>;
  };
  return new Map(body.users.map((user) => [user.email, user]));
}

/** The answer's shape: status, keys at every level, and the types of the values. */
async function shape(response: Response): Promise<string> {
  const describe = (value: unknown): unknown =>
    value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).sort().map(([key, inner]) => [key, describe(inner)])) : typeof value;
  return JSON.stringify([response.status, describe(await response.clone().json())]);
}

test('an account of tenant A joins tenant B with its own password, then picks and switches to B', async () => {
  const account = await signUpAndLogin(server, 'Alpha');
  const adminB = await signUpAndLogin(server, 'Beta');
  const fresh = await invite(adminB, randomEmail('fresh'));
  const { token, answer } = await invite(adminB, account.email);
  assert.is(await shape(answer), await shape(fresh.answer), 'the admin gets the same answer as for a new address');
  assert.not.match(await answer.clone().text(), /token|alpha|existing|account/i);
  const pendingId = (await listed(adminB)).get(account.email)!.id;
  assert.is.not(pendingId, account.userId, 'the admin sees a pending entry, not the account');

  // the link says what it is for, to its holder only
  const info = await client(server).request('POST', '/api/auth/invitation', { token });
  assert.equal(await info.json(), { email: account.email, tenantName: 'Beta', existingAccount: true });
  // the link alone sets no password and joins nothing
  assert.is((await client(server).request('POST', '/api/auth/password-reset', { token, password: strongPassword() })).status, 400);
  assert.is((await login(server, account.email, account.password)).tenantId, account.tenantId, 'the password is still the account\'s');
  const wrong = await join(token, strongPassword());
  assert.is(wrong.status, 401);
  assert.is(((await wrong.json()) as { error: string }).error, 'invalid_credentials');
  assert.equal(wrong.headers.getSetCookie(), [], 'no session');
  assert.equal(await membershipsIn(adminB.tenantId, account.userId), [], 'nothing written');

  const c = client(server);
  const joined = await join(token, account.password, {}, c);
  assert.is(joined.status, 200, await joined.clone().text());
  const body = (await joined.json()) as { user: { id: string; tenantId: string; role: string }; mfaEnrolmentRequired: boolean; tenant: { name: string } };
  assert.equal(body.user, { id: account.userId, tenantId: adminB.tenantId, role: 'member' });
  assert.equal([body.mfaEnrolmentRequired, body.tenant.name], [false, 'Beta']);
  const me = (await (await c.request('GET', '/api/me')).json()) as { user: { tenantId: string } };
  assert.is(me.user.tenantId, adminB.tenantId, 'a session in the tenant joined');
  assert.equal(await membershipsIn(adminB.tenantId, account.userId), ['member']);
  assert.equal(await membershipsIn(adminB.tenantId, pendingId), [], 'the pending entry is gone');
  const entry = (await listed(adminB)).get(account.email)!;
  assert.equal([entry.id, entry.status, entry.role], [account.userId, 'active', 'member'], 'listed as the account, active');

  // used: the link is dead
  assert.is((await join(token, account.password)).status, 400);
  assert.is((await client(server).request('POST', '/api/auth/invitation', { token })).status, 400);

  // the account now picks between its tenants at log-in, and switches from A to B
  const choose = await client(server).request('POST', '/api/auth/login', { email: account.email, password: account.password });
  assert.is(choose.status, 409);
  const names = ((await choose.json()) as { tenants: Array<{ name: string }> }).tenants.map((t) => t.name);
  assert.equal(names, ['Alpha', 'Beta']);
  const inA = client(server);
  assert.is((await inA.request('POST', '/api/auth/login', { email: account.email, password: account.password, tenantId: account.tenantId })).status, 200);
  const switched = await inA.request('POST', '/api/tenants/switch', { tenantId: adminB.tenantId });
  assert.is(switched.status, 200);
  assert.equal(((await switched.json()) as { user: { tenantId: string; role: string } }).user, { id: account.userId, tenantId: adminB.tenantId, role: 'member' });

  // audited: the account is the actor of the membership and of the spent token
  const audit = await (await testDatabase()).owner.query<{ table_name: string; action: string }>(
    `select table_name, action from audit.log where actor_id = $1 and tenant_id = $2 order by id`,
    [account.userId, adminB.tenantId],
  );
  const actions = audit.rows.map((row) => `${row.action} ${row.table_name}`);
  for (const expected of ['UPDATE app_private.password_resets', 'DELETE app.memberships', 'INSERT app.memberships']) {
    assert.ok(actions.includes(expected), `${expected} audited with the account as actor (${actions.join(', ')})`);
  }
});

test('expired, revoked, resent and used links, a link for a new address and a link for another address are refused', async () => {
  const account = await signUpAndLogin(server, 'Alpha');
  const other = await signUpAndLogin(server, 'Other');
  const adminB = await signUpAndLogin(server, 'Beta');
  const owner = (await testDatabase()).owner;

  // expired
  const expired = await invite(adminB, account.email);
  await owner.query(`update app_private.password_resets set expires_at = now() - interval '1 second', created_at = now() - interval '2 days' where email = $1 and used_at is null`, [account.email]);
  assert.is((await join(expired.token, account.password)).status, 400, 'expired');
  // resent: the old link dies, the new one works once
  const pendingId = (await listed(adminB)).get(account.email)!.id;
  assert.is((await adminB.client.request('POST', `/api/admin/users/${pendingId}/invitation`, {})).status, 200);
  await server.app.xms.mail.settled();
  const resent = linkToken((await inbox.next(account.email)).text);
  assert.is((await join(expired.token, account.password)).status, 400, 'the old link is dead after a resend');
  // revoked
  assert.is((await adminB.client.request('DELETE', `/api/admin/users/${pendingId}/invitation`)).status, 204);
  assert.is((await join(resent, account.password)).status, 400, 'revoked');
  assert.equal(await membershipsIn(adminB.tenantId, account.userId), []);

  // a link for another address: the other account's password opens nothing
  const forAccount = await invite(adminB, account.email);
  const stolen = await join(forAccount.token, other.password);
  assert.is(stolen.status, 401, 'another account\'s password');
  assert.equal(await membershipsIn(adminB.tenantId, other.userId), []);
  assert.equal(await membershipsIn(adminB.tenantId, account.userId), []);
  // a link for a new address joins no account: the invitee chooses a password instead
  const fresh = randomEmail('fresh');
  const forNew = await invite(adminB, fresh);
  const info = (await (await client(server).request('POST', '/api/auth/invitation', { token: forNew.token })).json()) as { existingAccount: boolean };
  assert.is(info.existingAccount, false);
  const noAccount = await join(forNew.token, account.password);
  assert.is(noAccount.status, 409);
  assert.is(((await noAccount.json()) as { error: string }).error, 'no_account');
  for (const bad of ['not-a-token', 'A'.repeat(43)]) {
    assert.is((await join(bad, account.password)).status, 400, bad);
  }

  // the right one still works once
  assert.is((await join(forAccount.token, account.password)).status, 200);
  assert.is((await join(forAccount.token, account.password)).status, 400, 'used');
  assert.equal(await membershipsIn(adminB.tenantId, account.userId), ['member']);
});

test('two accepts at once: exactly one membership', async () => {
  const account = await signUpAndLogin(server, 'Alpha');
  const adminB = await signUpAndLogin(server, 'Beta');
  const { token } = await invite(adminB, account.email);
  const answers = await Promise.all([join(token, account.password), join(token, account.password), join(token, account.password)]);
  assert.equal(answers.map((a) => a.status).sort(), [200, 400, 400]);
  assert.equal(await membershipsIn(adminB.tenantId, account.userId), ['member']);
});

const totpFor = (secret: string) => new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' });

test('an account with a second factor joins only with a code; a role that requires one the account lacks gives an enrol-only session', async () => {
  const account = await signUpAndLogin(server, 'Alpha');
  const start = (await (await account.client.request('POST', '/api/mfa/enrol')).json()) as { secret: string };
  assert.is((await account.client.request('POST', '/api/mfa/enrol/confirm', { code: totpFor(start.secret).generate() })).status, 200);
  const adminB = await signUpAndLogin(server, 'Beta');
  const { token } = await invite(adminB, account.email);

  const missing = await join(token, account.password);
  assert.is(missing.status, 401);
  assert.is(((await missing.json()) as { error: string }).error, 'mfa_required');
  const wrongCode = await join(token, account.password, { code: '000000' === totpFor(start.secret).generate() ? '000001' : '000000' });
  assert.is(wrongCode.status, 401);
  assert.is(((await wrongCode.json()) as { error: string }).error, 'invalid_code');
  assert.is((await join(token, strongPassword(), { code: totpFor(start.secret).generate({ timestamp: Date.now() + 30_000 }) })).status, 401, 'a code without the password');
  assert.equal(await membershipsIn(adminB.tenantId, account.userId), [], 'nothing written');
  const joined = await join(token, account.password, { code: totpFor(start.secret).generate({ timestamp: Date.now() + 30_000 }) });
  assert.is(joined.status, 200);
  assert.equal(await membershipsIn(adminB.tenantId, account.userId), ['member']);

  // invited as admin where admins must have a second factor, without one: the session can only enrol
  const plain = await signUpAndLogin(server, 'Gamma');
  const adminD = await signUpAndLogin(server, 'Delta');
  const asAdmin = await invite(adminD, plain.email, 'admin');
  const c = client(strict);
  const enrolOnly = await join(asAdmin.token, plain.password, {}, c);
  assert.is(enrolOnly.status, 200);
  assert.is(((await enrolOnly.json()) as { mfaEnrolmentRequired: boolean }).mfaEnrolmentRequired, true);
  assert.is((await c.request('GET', '/api/admin/users')).status, 403, 'enrol-only');
  assert.is((await c.request('GET', '/api/mfa')).status, 200);
});

test.run();
