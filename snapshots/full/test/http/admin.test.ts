/**
 * Admin functions (I2, I4, I7, I16) over real HTTP: allowed for an admin in their tenant, refused for
 * a member (403), refused across tenants (404: RLS hides the other tenant's users), each write
 * audited with the acting admin as actor; sessions revoked on reset, deactivation, removal, role change.
 * Invitation and reset links travel only by e-mail (a real SMTP server in this process:
 * test/helpers/mail.ts), never in an answer to the admin.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { client, login, randomEmail, signUpAndLogin, startServer, strongPassword, testConfig, testDatabase, type Account, type Server } from '../helpers/http.js';
import { linkToken, mailLink, startInbox, type Inbox } from '../helpers/mail.js';

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

interface Member {
  id: string;
  email: string | null;
  status: string;
  active: boolean;
  invitationExpiresAt: string | null;
}

async function members(admin: Account): Promise<Member[]> {
  const response = await admin.client.request('GET', '/api/admin/users');
  assert.is(response.status, 200);
  return ((await response.json()) as { users: Member[] }).users;
}

/** Creates a user through the admin API and lets them set their password with the e-mailed link. */
async function invite(admin: Account, role = 'member'): Promise<Account> {
  const email = randomEmail(role);
  const created = await admin.client.request('POST', '/api/admin/users', { email, role });
  assert.is(created.status, 201, await created.clone().text());
  assert.not.match(await created.clone().text(), /token/i, 'no link in the answer to the admin');
  const message = await inbox.next(email);
  assert.match(mailLink(message.text), /\/invitation#token=/);
  const token = linkToken(message.text);
  const password = strongPassword();
  const redeemed = await client(server).request('POST', '/api/auth/password-reset', { token, password });
  assert.is(redeemed.status, 200);
  const again = await client(server).request('POST', '/api/auth/password-reset', { token, password: strongPassword() });
  assert.is(again.status, 400, 'single use');
  return login(server, email, password);
}

async function auditRows(table: string, actor: string): Promise<number> {
  const rows = await (await testDatabase()).owner.query<{ n: number }>(
    'select count(*)::int as n from audit.log where table_name = $1 and actor_id = $2',
    [table, actor],
  );
  return rows.rows[0]!.n;
}

test('an admin creates a user in their tenant (invitation), audited with the admin as actor', async () => {
  const admin = await signUpAndLogin(server);
  const member = await invite(admin);
  assert.is(member.tenantId, admin.tenantId);
  assert.is(member.role, 'member');
  assert.ok((await auditRows('app.memberships', admin.userId)) >= 1);
  assert.ok((await auditRows('app_private.password_resets', admin.userId)) >= 1);
  const pendingEmail = randomEmail('pending');
  assert.is((await admin.client.request('POST', '/api/admin/users', { email: pendingEmail, role: 'member' })).status, 201);
  const list = await members(admin);
  const accepted = list.find((u) => u.id === member.userId)!;
  assert.equal([accepted.email, accepted.status, accepted.active, accepted.invitationExpiresAt], [member.email, 'active', true, null]);
  const pending = list.find((u) => u.email === pendingEmail)!;
  assert.is(pending.status, 'pending', 'a pending invitation is not shown as active');
  assert.is(pending.active, false);
  const hours = (Date.parse(pending.invitationExpiresAt!) - Date.now()) / 3_600_000;
  assert.ok(hours > 47 && hours <= 48, `expires in ${hours} h`);
});

test('an invitation: resend (new link, the old one dead), re-invite resends, reset on it resends, revoke', async () => {
  const admin = await signUpAndLogin(server);
  const email = randomEmail('invitee');
  assert.is((await admin.client.request('POST', '/api/admin/users', { email, role: 'member' })).status, 201);
  const first = linkToken((await inbox.next(email)).text);
  const id = (await members(admin)).find((u) => u.email === email)!.id;

  const resent = await admin.client.request('POST', `/api/admin/users/${id}/invitation`, {});
  assert.is(resent.status, 200);
  const second = linkToken((await inbox.next(email)).text);
  // re-inviting the same pending address resends too (no duplicate, no conflict)
  const again = await admin.client.request('POST', '/api/admin/users', { email: email.toUpperCase(), role: 'admin' });
  assert.is(again.status, 201, 're-inviting answers like inviting');
  assert.is(((await again.json()) as { user: { id: string } }).user.id, id, 'the same pending member');
  const third = linkToken((await inbox.next(email)).text);
  // "reset password" on a pending invitee resends the invitation instead of 404
  const reset = await admin.client.request('POST', `/api/admin/users/${id}/password-reset`, {});
  assert.is(reset.status, 200);
  assert.is(((await reset.json()) as { sent: string }).sent, 'invitation');
  const fourth = linkToken((await inbox.next(email)).text);
  const pendingRows = (await members(admin)).filter((u) => u.email === email);
  assert.equal(pendingRows.map((u) => u.status), ['pending'], 'one pending entry');

  for (const dead of [first, second, third]) {
    const response = await client(server).request('POST', '/api/auth/password-reset', { token: dead, password: strongPassword() });
    assert.is(response.status, 400, 'an earlier link is dead');
  }
  const password = strongPassword();
  assert.is((await client(server).request('POST', '/api/auth/password-reset', { token: fourth, password })).status, 200);
  const joined = await login(server, email, password);
  assert.is(joined.tenantId, admin.tenantId);
  assert.is(joined.role, 'admin', 'the role of the latest invitation');
  assert.is((await members(admin)).find((u) => u.id === id)!.status, 'active');
  assert.is((await admin.client.request('POST', `/api/admin/users/${id}/invitation`, {})).status, 409, 'accepted: nothing to resend');
  assert.is((await admin.client.request('DELETE', `/api/admin/users/${id}/invitation`)).status, 409, 'accepted: nothing to revoke');

  // revoke: the link dies and the pending member goes
  const revoked = randomEmail('revoked');
  assert.is((await admin.client.request('POST', '/api/admin/users', { email: revoked, role: 'member' })).status, 201);
  const token = linkToken((await inbox.next(revoked)).text);
  const revokedId = (await members(admin)).find((u) => u.email === revoked)!.id;
  assert.is((await admin.client.request('DELETE', `/api/admin/users/${revokedId}/invitation`)).status, 204);
  assert.not.ok((await members(admin)).some((u) => u.id === revokedId));
  assert.is((await client(server).request('POST', '/api/auth/password-reset', { token, password: strongPassword() })).status, 400, 'revoked');
});

test('an expired invitation is listed as expired, and resending revives it', async () => {
  const admin = await signUpAndLogin(server);
  const email = randomEmail('late');
  await admin.client.request('POST', '/api/admin/users', { email, role: 'member' });
  await inbox.next(email);
  await (await testDatabase()).owner.query(`update app_private.password_resets set expires_at = now() - interval '1 second' where email = $1`, [email]);
  const entry = (await members(admin)).find((u) => u.email === email)!;
  assert.is(entry.status, 'expired');
  assert.is((await admin.client.request('POST', `/api/admin/users/${entry.id}/invitation`, {})).status, 200);
  await inbox.next(email);
  assert.is((await members(admin)).find((u) => u.id === entry.id)!.status, 'pending');
});

test('an invitation to an address with an account: the admin sees what a new address gets; the link sets no password', async () => {
  const adminA = await signUpAndLogin(server, 'A');
  const adminB = await signUpAndLogin(server, 'B');
  const fresh = randomEmail('fresh');
  const answers: string[] = [];
  for (const email of [fresh, adminB.email]) {
    const response = await adminA.client.request('POST', '/api/admin/users', { email, role: 'member' });
    answers.push(await shape(response));
  }
  assert.is(answers[0], answers[1]);
  const list = await members(adminA);
  assert.equal(
    [list.find((u) => u.email === fresh)!.status, list.find((u) => u.email === adminB.email)!.status],
    ['pending', 'pending'],
    'listed alike',
  );
  assert.not.ok(list.some((u) => u.id === adminB.userId), "the other tenant's account is not listed");
  assert.match((await inbox.next(fresh)).text, /#token=/);
  const note = await inbox.next(adminB.email);
  assert.match(note.text, /already has an account/);
  // the link lets the account join with its own password (test/http/invitation-join.test.ts), never set one
  const token = linkToken(note.text);
  assert.is((await client(server).request('POST', '/api/auth/password-reset', { token, password: strongPassword() })).status, 400);
  // and however the pending entry is handled, the account stays its owner's
  const pendingId = list.find((u) => u.email === adminB.email)!.id;
  await adminA.client.request('POST', `/api/admin/users/${pendingId}/password-reset`, {});
  const resent = linkToken((await inbox.next(adminB.email)).text);
  assert.is((await client(server).request('POST', '/api/auth/password-reset', { token: resent, password: strongPassword() })).status, 400, 'a resend sets no password either');
  assert.is((await adminB.client.request('GET', '/api/me')).status, 200);
  assert.is((await login(server, adminB.email, adminB.password)).tenantId, adminB.tenantId);
});

test('invitation e-mails escape what the inviting tenant named itself', async () => {
  const admin = await signUpAndLogin(server, '<b>Evil & "Co"</b>');
  const email = randomEmail('escaped');
  await admin.client.request('POST', '/api/admin/users', { email, role: 'member' });
  const message = await inbox.next(email);
  assert.match(message.html, /&lt;b&gt;Evil &amp; &quot;Co&quot;&lt;\/b&gt;/);
  assert.not.match(message.html, /<b>Evil/);
  assert.match(message.text, /<b>Evil & "Co"<\/b>/, 'plain text as typed');
});

/** The answer's shape: status, keys at every level, and the types of the values. */
async function shape(response: Response): Promise<string> {
  const describe = (value: unknown): unknown =>
    value && typeof value === 'object'
      ? Object.fromEntries(Object.entries(value).sort().map(([key, inner]) => [key, describe(inner)]))
      : typeof value;
  return JSON.stringify([response.status, describe(await response.json())]);
}

/** Median wall times of `a` and `b`, measured alternately (a change of machine load hits both alike). */
async function medians(runs: number, a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number, number]> {
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < runs; i++) {
    for (const [k, fn] of [a, b].entries()) {
      const start = performance.now();
      await fn();
      times[k]!.push(performance.now() - start);
    }
  }
  const mid = (list: number[]) => list.sort((x, y) => x - y)[Math.floor(runs / 2)]!;
  return [mid(times[0]), mid(times[1])];
}

test('creating a user whose address has an account (any tenant, any spelling) answers as for a new address', async () => {
  const adminA = await signUpAndLogin(server, 'A');
  const adminB = await signUpAndLogin(server, 'B');
  const memberB = await invite(adminB);
  const create = (email: string) => adminA.client.request('POST', '/api/admin/users', { email, role: 'member' });
  const expected = await shape(await create(randomEmail('new')));
  const pending = randomEmail('pending');
  await create(pending);
  const fullWidth = memberB.email.toUpperCase().replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
  // [case, address sent, the normalised address answered]
  const existing: [string, string, string][] = [
    ['an admin of another tenant', adminB.email, adminB.email],
    ['a member of another tenant', memberB.email, memberB.email],
    ['that member, upper case and full-width', fullWidth, memberB.email],
    ['that member, with ℯ (U+212F) for e', memberB.email.replace('example', 'ℯxample'), memberB.email],
    ['a decomposed (NFD) accent', `zoé-${pending}`.normalize('NFD'), `zoé-${pending}`.normalize('NFC')],
    ['a member of this tenant', adminA.email, adminA.email],
    ['a pending invitation', pending, pending],
  ];
  for (const [name, email, normalised] of existing) {
    const response = await create(email);
    assert.is(await shape(response.clone()), expected, name);
    assert.is(((await response.json()) as { user: { email: string } }).user.email, normalised, name);
  }
  // timing: the same code path (no lookup of the address), so within argon2-free noise of each other.
  // Each address is new to this tenant: one with an account in another tenant against one with none
  // (creating an address already pending here resends its invitation, a cheaper path of its own that
  // tells the admin only what their list shows)
  const accounts: string[] = [];
  for (let i = 0; i < 7; i++) accounts.push((await invite(adminB)).email);
  const taken = accounts.values();
  const [freshMs, takenMs] = await medians(7, () => create(randomEmail('new')), () => create(taken.next().value!));
  // generous: within a factor of 3, or 30 ms apart (a few database round-trips on a loaded machine)
  assert.ok(Math.max(freshMs, takenMs) / Math.min(freshMs, takenMs) < 3 || Math.abs(freshMs - takenMs) < 30, `new ${freshMs.toFixed(1)} ms vs existing ${takenMs.toFixed(1)} ms`);
  assert.ok(taken.next().done, 'each timed address was created once');
  // both show up in the list the same way: pending, with the address the admin typed
  const list = await members(adminA);
  assert.ok(list.filter((u) => u.email === memberB.email).every((u) => u.status === 'pending' && u.id !== memberB.userId));
  assert.not.ok(list.some((u) => u.id === memberB.userId), 'the other tenant\'s account is not listed');
});

test('admin create uses the one e-mail normalisation: invisible characters and look-alikes are refused', async () => {
  const admin = await signUpAndLogin(server);
  for (const email of [`a\u200bb@example.test`, `a\u00adb@example.test`, 'ab@example.test.', 'pаypal@example.test']) {
    const response = await admin.client.request('POST', '/api/admin/users', { email, role: 'member' });
    assert.is(response.status, 400, JSON.stringify(email));
    assert.is(((await response.json()) as { error: string }).error, 'invalid_email');
  }
});

test('a member is refused every admin function (403), even with a valid target', async () => {
  const admin = await signUpAndLogin(server);
  const member = await invite(admin);
  const other = await invite(admin);
  const calls: [string, string, unknown?][] = [
    ['GET', '/api/admin/users'],
    ['POST', '/api/admin/users', { email: randomEmail(), role: 'admin' }],
    ['POST', `/api/admin/users/${other.userId}/password-reset`, {}],
    ['POST', `/api/admin/users/${other.userId}/deactivate`, {}],
    ['PUT', `/api/admin/users/${other.userId}/role`, { role: 'admin' }],
    ['DELETE', `/api/admin/users/${other.userId}`],
  ];
  for (const [method, path, body] of calls) {
    assert.is((await member.client.request(method, path, body)).status, 403, `${method} ${path}`);
  }
  assert.is((await other.client.request('GET', '/api/me')).status, 200, 'the target is untouched');
});

test('an admin cannot touch another tenant (404) and nothing changes there', async () => {
  const adminA = await signUpAndLogin(server, 'A');
  const adminB = await signUpAndLogin(server, 'B');
  const memberB = await invite(adminB);
  const target = memberB.userId;
  assert.is((await adminA.client.request('POST', `/api/admin/users/${target}/password-reset`, {})).status, 404);
  assert.is((await adminA.client.request('POST', `/api/admin/users/${target}/deactivate`, {})).status, 404);
  assert.is((await adminA.client.request('PUT', `/api/admin/users/${target}/role`, { role: 'admin' })).status, 404);
  assert.is((await adminA.client.request('DELETE', `/api/admin/users/${target}`)).status, 404);
  assert.is((await adminA.client.request('POST', `/api/admin/users/${adminB.userId}/deactivate`, {})).status, 404);
  const me = (await (await memberB.client.request('GET', '/api/me')).json()) as { user: { role: string } };
  assert.is(me.user.role, 'member', 'still a member of B, session alive');
  const listA = (await (await adminA.client.request('GET', '/api/admin/users')).json()) as { users: { id: string }[] };
  assert.not.ok(listA.users.some((u) => u.id === target));
});

test('reset password: single-use expiring link by e-mail, sessions revoked, audited', async () => {
  const admin = await signUpAndLogin(server);
  const member = await invite(admin);
  const response = await admin.client.request('POST', `/api/admin/users/${member.userId}/password-reset`, {});
  assert.is(response.status, 200);
  assert.not.match(await response.clone().text(), /token/i, 'no link in the answer to the admin');
  assert.is(((await response.json()) as { sent: string }).sent, 'reset');
  assert.is((await member.client.request('GET', '/api/me')).status, 401, 'sessions revoked');
  const password = strongPassword();
  const token = linkToken((await inbox.next(member.email)).text);
  assert.is((await client(server).request('POST', '/api/auth/password-reset', { token, password })).status, 200);
  assert.is((await client(server).request('POST', '/api/auth/password-reset', { token, password })).status, 400, 'single use');
  await login(server, member.email, password);
  const failed = await client(server).request('POST', '/api/auth/login', { email: member.email, password: member.password });
  assert.is(failed.status, 401, 'the old password is gone');
  await (await testDatabase()).owner.query(`update app_private.password_resets set expires_at = now() - interval '1 second' where user_id = $1`, [member.userId]);
  assert.is((await admin.client.request('POST', `/api/admin/users/${member.userId}/password-reset`, {})).status, 200);
  const nextToken = linkToken((await inbox.next(member.email)).text);
  await (await testDatabase()).owner.query(`update app_private.password_resets set expires_at = now() - interval '1 second' where user_id = $1`, [member.userId]);
  assert.is((await client(server).request('POST', '/api/auth/password-reset', { token: nextToken, password: strongPassword() })).status, 400, 'expired');
  assert.ok((await auditRows('app_private.password_resets', admin.userId)) >= 2);
});

test('change role: sessions revoked, the new role applies at the next log-in, audited', async () => {
  const admin = await signUpAndLogin(server);
  const member = await invite(admin);
  const before = await auditRows('app.memberships', admin.userId);
  assert.is((await admin.client.request('PUT', `/api/admin/users/${member.userId}/role`, { role: 'superuser' })).status, 400, 'not a role of permissions.yml');
  assert.is((await member.client.request('GET', '/api/me')).status, 200, 'a refused change revokes nothing');
  assert.is((await admin.client.request('PUT', `/api/admin/users/${member.userId}/role`, { role: 'admin' })).status, 200);
  assert.is((await member.client.request('GET', '/api/me')).status, 401, 'old-role session revoked');
  const promoted = await login(server, member.email, member.password);
  assert.is(promoted.role, 'admin');
  assert.is.not(promoted.client.cookie, member.client.cookie);
  assert.is((await promoted.client.request('GET', '/api/admin/users')).status, 200);
  assert.ok((await auditRows('app.memberships', admin.userId)) > before);
});

test('deactivate and delete: sessions revoked, log-in refused, audited', async () => {
  const admin = await signUpAndLogin(server);
  const first = await invite(admin);
  const second = await invite(admin);
  const before = await auditRows('app.memberships', admin.userId);
  assert.is((await admin.client.request('POST', `/api/admin/users/${first.userId}/deactivate`, {})).status, 200);
  assert.is((await first.client.request('GET', '/api/me')).status, 401);
  assert.is((await client(server).request('POST', '/api/auth/login', { email: first.email, password: first.password })).status, 401);
  assert.is((await admin.client.request('DELETE', `/api/admin/users/${second.userId}`)).status, 204);
  assert.is((await second.client.request('GET', '/api/me')).status, 401);
  assert.is((await client(server).request('POST', '/api/auth/login', { email: second.email, password: second.password })).status, 401);
  assert.ok((await auditRows('app.memberships', admin.userId)) >= before + 2);
  assert.is((await admin.client.request('DELETE', `/api/admin/users/${admin.userId}`)).status, 400, 'not oneself');
});

test('the audit log: an admin sees only their own tenant, newest first; a member is refused', async () => {
  const admin = await signUpAndLogin(server);
  const other = await signUpAndLogin(server);
  const member = await invite(admin);
  const response = await admin.client.request('GET', '/api/admin/audit?limit=500');
  assert.is(response.status, 200);
  const { entries } = (await response.json()) as { entries: { id: string; actorId: string | null; table: string }[] };
  assert.ok(entries.some((entry) => entry.actorId === admin.userId && entry.table === 'app.memberships'), 'the invitation is in the log');
  assert.not.ok(entries.some((entry) => entry.actorId === other.userId), 'nothing of another tenant');
  const ids = entries.map((entry) => Number(entry.id));
  assert.equal(ids, [...ids].sort((a, b) => b - a), 'newest first');
  assert.is((await member.client.request('GET', '/api/admin/audit')).status, 403);
  assert.is((await admin.client.request('GET', '/api/admin/audit?limit=100000')).status, 400, 'the page size is bounded');
});

test.run();
