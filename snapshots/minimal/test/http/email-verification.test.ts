/**
 * E-mail verification over real HTTP, reading the messages a real SMTP server in this process received
 * (test/helpers/mail.ts): sign-up leads to "check your e-mail", and the account gets no session until
 * its link is followed (the database refuses the session row, even for a write that skips the
 * application); the link is single-use, expires, is stored as its SHA-256 only; a new link kills the
 * old one and is rate-limited; an address change takes effect only once the new address is verified,
 * and the old address is told. The servers log in as xms_app; the database checks run as the runtime
 * role (xms_app entering xms_auth), never as the owner.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requestDb } from '../../src/server/db.js';
import { tokenHash } from '../../src/security/tokens.js';
import {
  client, fakeIp, login, randomEmail, signUpAndLogin, startMailedServers, strongPassword, testDatabase, type MailedServers, type Server,
} from '../helpers/http.js';
import { linkToken, mailLink, type Inbox } from '../helpers/mail.js';

let mailed: MailedServers;
let inbox: Inbox;
let server: Server;
let limited: Server;
const PER_ACCOUNT = 3;
const PER_IP = 20;

test.before(async () => {
  mailed = await startMailedServers({ perAccount: PER_ACCOUNT, perIp: PER_IP });
  ({ inbox, server, limited } = mailed);
});
test.after(() => mailed.close());

const post = (path: string, body: unknown, s: Server = server, headers: Record<string, string> = {}) => client(s).request('POST', path, body, headers);

async function signUp(email = randomEmail('new'), password = strongPassword()) {
  const response = await post('/api/auth/signup', { email, password, tenantName: 'Verified Co' });
  assert.is(response.status, 202);
  const body = (await response.json()) as { status: string; message: string };
  return { email, password, body };
}

async function userId(email: string): Promise<string> {
  const rows = await (await testDatabase()).owner.query<{ user_id: string }>('select user_id from app_private.credentials where email = $1', [email]);
  return rows.rows[0]!.user_id;
}

test('sign-up: "check your e-mail"; no session until the e-mailed link is followed; then the app', async () => {
  const { email, password, body } = await signUp();
  assert.is(body.status, 'verify_email');
  assert.match(body.message, /Check your e-mail/);

  const early = await post('/api/auth/login', { email, password });
  assert.is(early.status, 403, 'the right password, an unverified address: no session');
  assert.is(((await early.json()) as { error: string }).error, 'email_not_verified');
  assert.equal(early.headers.getSetCookie(), [], 'no cookie');

  const message = await inbox.next(email);
  assert.match(message.subject, /Confirm your e-mail address for Test app/);
  assert.match(mailLink(message.text), new RegExp(`^${server.url}/verify-email#token=`));
  assert.match(message.html, /<a href="http:\/\/127\.0\.0\.1:\d+\/verify-email#token=/);
  const token = linkToken(message.text);

  const owner = (await testDatabase()).owner;
  const stored = await owner.query<{ token_hash: Uint8Array; hours: number; purpose: string }>(
    `select token_hash, extract(epoch from expires_at - created_at)::int / 3600 as hours, purpose
       from app_private.email_verifications where user_id = $1`,
    [await userId(email)],
  );
  assert.is(stored.rows.length, 1);
  assert.is(Buffer.from(stored.rows[0]!.token_hash).toString('hex'), tokenHash(token).toString('hex'), 'SHA-256 of the token, not the token');
  assert.is(stored.rows[0]!.hours, 24);
  assert.is(stored.rows[0]!.purpose, 'signup');

  const verified = await post('/api/auth/verify-email', { token });
  assert.is(verified.status, 200);
  assert.equal(await verified.json(), { status: 'verified', email, purpose: 'signup' });
  assert.equal(verified.headers.getSetCookie(), [], 'the link alone opens no session (it proves the mailbox, not the password)');
  assert.is((await post('/api/auth/verify-email', { token })).status, 400, 'single use');

  const account = await login(server, email, password);
  const me = await account.client.request('GET', '/api/me');
  assert.is(me.status, 200);
  assert.is(((await me.json()) as { user: { email: string } }).user.email, email);
});

test('an expired link, a malformed one and a made-up one are refused with one answer', async () => {
  const { email, password } = await signUp();
  const token = linkToken((await inbox.next(email)).text);
  await (await testDatabase()).owner.query(
    `update app_private.email_verifications set expires_at = now() - interval '1 second' where user_id = $1`,
    [await userId(email)],
  );
  const answers = [];
  for (const t of [token, 'short', randomBytes(32).toString('base64url')]) {
    const response = await post('/api/auth/verify-email', { token: t });
    answers.push(JSON.stringify([response.status, await response.json()]));
  }
  assert.is(new Set(answers).size, 1, answers.join('\n'));
  assert.match(answers[0]!, /^\[400,/);
  assert.is((await post('/api/auth/login', { email, password })).status, 403, 'still unverified');
});

test('resend: the same answer for any address; a new link kills the old one; a verified or unknown address gets nothing', async () => {
  const { email, password } = await signUp();
  const first = linkToken((await inbox.next(email)).text);
  const verifiedAccount = await signUpAndLogin(server);
  const unknown = randomEmail('nobody');
  const links = (to: string) => inbox.messages.filter((m) => m.to === to && /^Confirm/.test(m.subject)).length;
  const verifiedBefore = links(verifiedAccount.email);
  const answers = [];
  for (const address of [email, verifiedAccount.email, unknown, 'not an address']) {
    const response = await post('/api/auth/verify-email/resend', { email: address });
    answers.push(JSON.stringify([response.status, await response.json()]));
  }
  assert.is(new Set(answers).size, 1, answers.join('\n'));
  assert.match(answers[0]!, /^\[202,/);
  const second = linkToken((await inbox.next(email)).text);
  await server.app.xms.mail.settled();
  assert.is(inbox.count(unknown), 0);
  assert.is(links(verifiedAccount.email), verifiedBefore, 'a verified address gets no link');
  assert.is((await post('/api/auth/verify-email', { token: first })).status, 400, 'the older link died');
  assert.is((await post('/api/auth/verify-email', { token: second })).status, 200);
  await login(server, email, password);
});

test('signing up again with a registered address: the same answer; an unverified one gets a new link, a verified one nothing', async () => {
  const pending = await signUp();
  await inbox.next(pending.email);
  const again = await signUp(pending.email);
  assert.equal(again.body, pending.body);
  await inbox.next(pending.email); // a fresh link for the account waiting for one
  const done = await signUpAndLogin(server);
  const before = inbox.count(done.email);
  assert.equal((await signUp(done.email)).body, pending.body);
  await server.app.xms.mail.settled();
  assert.is(inbox.count(done.email), before);
  // the second sign-up changed nothing: the first password still works once verified
  assert.is((await post('/api/auth/login', { email: done.email, password: done.password })).status, 200);
});

test('resend and the link are rate-limited per address (and the link per IP before any lookup)', async () => {
  const { email } = await signUp();
  await inbox.next(email);
  const statuses = [];
  for (let i = 0; i < PER_ACCOUNT + 2; i++) {
    statuses.push((await post('/api/auth/verify-email/resend', { email }, limited, { 'x-forwarded-for': fakeIp() })).status);
  }
  assert.equal(statuses, [...Array<number>(PER_ACCOUNT).fill(202), 429, 429]);
  const ip = fakeIp();
  const guesses = [];
  for (let i = 0; i <= PER_IP; i++) {
    const response = await post('/api/auth/verify-email', { token: randomBytes(32).toString('base64url') }, limited, { 'x-forwarded-for': ip });
    guesses.push(response.status);
    if (response.status === 429) {
      assert.ok(Number(response.headers.get('retry-after')) > 0, 'Retry-After');
      break;
    }
  }
  assert.equal(guesses, [...Array<number>(PER_IP).fill(400), 429], 'guessing links from one IP is cut off');
});

test('the database: no session row for an unverified account, whoever writes it; a verified address stays verified', async () => {
  const { email } = await signUp();
  const id = await userId(email);
  // the runtime role, as the auth subsystem (the only request role that may write sessions)
  // (closed with the test database)
  const db = requestDb(await (await testDatabase()).open());
  const tenant = await db.asAuth((tx) => tx.query<{ tenant_id: string }>('select tenant_id from app.memberships where user_id = $1', [id]));
  try {
    await db.asAuth((tx) =>
      tx.query(
        `insert into app_private.sessions (token_hash, user_id, tenant_id, db_role, idle_expires_at, expires_at)
         values ($1, $2, $3, 'xms_admin', now() + interval '1 hour', now() + interval '2 hours')`,
        [tokenHash(randomBytes(32).toString('base64url')), id, tenant[0]!.tenant_id],
      ),
    );
    assert.unreachable('a session for an unverified account was stored');
  } catch (error) {
    assert.is((error as { code?: string }).code, '28000');
  }
  // nor can a live session of a verified account be moved onto it
  const other = await signUpAndLogin(server);
  try {
    await db.asAuth((tx) => tx.query('update app_private.sessions set user_id = $1 where user_id = $2', [id, other.userId]));
    assert.unreachable('a session was moved onto an unverified account');
  } catch (error) {
    assert.is((error as { code?: string }).code, '28000');
  }
  assert.is((await other.client.request('GET', '/api/me')).status, 200, 'the other session is untouched');
  // a verified address cannot be made unverified, nor replaced without verification
  for (const sql of [
    'update app_private.credentials set email_verified_at = null where user_id = $1',
    `update app_private.credentials set email = 'swapped-' || email where user_id = $1`,
  ]) {
    try {
      await db.asAuth((tx) => tx.query(sql, [other.userId]));
      assert.unreachable(sql);
    } catch (error) {
      assert.is((error as { code?: string }).code, '23514', sql);
    }
  }
});

test('a session row smuggled past the trigger (by the owner) still opens no request', async () => {
  const { email } = await signUp();
  const id = await userId(email);
  const owner = (await testDatabase()).owner;
  const token = randomBytes(32).toString('base64url');
  await owner.exec('alter table app_private.sessions disable trigger sessions_refuse_unverified');
  try {
    await owner.query(
      `insert into app_private.sessions (token_hash, user_id, tenant_id, db_role, idle_expires_at, expires_at)
       select $1, m.user_id, m.tenant_id, 'xms_' || m.role, now() + interval '1 hour', now() + interval '2 hours'
         from app.memberships m where m.user_id = $2`,
      [tokenHash(token), id],
    );
  } finally {
    await owner.exec('alter table app_private.sessions enable trigger sessions_refuse_unverified');
  }
  const name = server.app.xms.config.cookieSecure ? '__Host-session' : 'session';
  for (const path of ['/api/me', '/api/records']) {
    const response = await fetch(`${server.url}${path}`, { headers: { cookie: `${name}=${token}` } });
    assert.is(response.status, 401, path);
  }
});

test('address change: the password confirms it; the old address is told; the new one counts only once verified', async () => {
  const account = await signUpAndLogin(server);
  const newEmail = randomEmail('moved');
  const change = (body: unknown) => account.client.request('POST', '/api/account/email', body);

  const wrong = await change({ email: newEmail, password: strongPassword() });
  assert.is(wrong.status, 403);
  assert.is((await change({ email: account.email, password: account.password })).status, 400, 'the same address');
  await server.app.xms.mail.settled();
  assert.is(inbox.count(newEmail), 0, 'nothing sent for a refused change');

  const accepted = await change({ email: newEmail.toUpperCase(), password: account.password });
  assert.is(accepted.status, 202);
  const notice = await inbox.next(account.email);
  assert.match(notice.subject, /about to change/);
  assert.ok(notice.text.includes(newEmail), 'the old address is told which address was asked for');
  assert.not.match(notice.text, /#token=/, 'the notice carries no link that changes anything');
  const message = await inbox.next(newEmail);
  assert.match(message.subject, /Confirm your new e-mail address/);
  const token = linkToken(message.text);

  // not yet: the old address is the account's
  const me = async () => ((await (await account.client.request('GET', '/api/me')).json()) as { user: { email: string } }).user.email;
  assert.is(await me(), account.email);
  assert.is((await post('/api/auth/login', { email: newEmail, password: account.password })).status, 401);
  assert.is((await post('/api/auth/login', { email: account.email, password: account.password })).status, 200);

  const verified = await post('/api/auth/verify-email', { token });
  assert.is(verified.status, 200);
  assert.equal(await verified.json(), { status: 'verified', email: newEmail, purpose: 'change' });
  assert.is((await post('/api/auth/verify-email', { token })).status, 400, 'single use');
  assert.is(await me(), newEmail, 'the session goes on, with the new address');
  assert.is((await post('/api/auth/login', { email: account.email, password: account.password })).status, 401, 'the old address is gone');
  await login(server, newEmail, account.password);

  // audited with the user as the actor, the token never copied
  const rows = await (await testDatabase()).owner.query<{ actor_id: string; new_row: Record<string, unknown> | null; old_row: Record<string, unknown> | null }>(
    `select actor_id, new_row, old_row from audit.log where table_name = 'app_private.email_verifications' and coalesce(new_row, old_row)->>'user_id' = $1`,
    [account.userId],
  );
  assert.ok(rows.rows.length >= 2);
  for (const row of rows.rows) {
    assert.is(row.actor_id, account.userId);
    for (const r of [row.new_row, row.old_row]) if (r) assert.is(r.token_hash, '[redacted]');
  }
  const all = JSON.stringify((await (await testDatabase()).owner.query(`select row_key, old_row, new_row from audit.log where actor_id = $1`, [account.userId])).rows);
  assert.not.ok(all.includes(token), 'no token anywhere in the audit log');
  assert.not.ok(all.includes(tokenHash(token).toString('hex')), 'nor its hash');
});

test('address change to an address another account holds: the same answer, no link, nothing changes; an expired change link is refused', async () => {
  const account = await signUpAndLogin(server);
  const other = await signUpAndLogin(server);
  const before = inbox.count(other.email);
  const response = await account.client.request('POST', '/api/account/email', { email: other.email, password: account.password });
  assert.is(response.status, 202);
  await inbox.next(account.email); // told, as for any change
  await server.app.xms.mail.settled();
  assert.is(inbox.count(other.email), before, 'the other account learns nothing');

  const newEmail = randomEmail('late');
  await account.client.request('POST', '/api/account/email', { email: newEmail, password: account.password });
  const token = linkToken((await inbox.next(newEmail)).text);
  await (await testDatabase()).owner.query(`update app_private.email_verifications set expires_at = now() - interval '1 second' where email = $1`, [newEmail]);
  assert.is((await post('/api/auth/verify-email', { token })).status, 400);
  assert.is((await post('/api/auth/login', { email: account.email, password: account.password })).status, 200, 'the address stayed');
});

test('a password reset ends a pending address change; the change is rate-limited per account', async () => {
  const account = await signUpAndLogin(server);
  const newEmail = randomEmail('pending');
  await account.client.request('POST', '/api/account/email', { email: newEmail, password: account.password });
  const token = linkToken((await inbox.next(newEmail)).text);
  await inbox.next(account.email);
  await post('/api/auth/password-forgot', { email: account.email });
  const reset = linkToken((await inbox.next(account.email)).text);
  assert.is((await post('/api/auth/password-reset', { token: reset, password: strongPassword() })).status, 200);
  assert.is((await post('/api/auth/verify-email', { token })).status, 400, 'the change link died with the reset');

  // the stolen session of `victim`, on the server with small limits (one store: the same database)
  const victim = await signUpAndLogin(server);
  const thief = client(limited);
  thief.cookie = victim.client.cookie;
  const statuses = [];
  for (let i = 0; i < PER_ACCOUNT + 1; i++) {
    statuses.push((await thief.request('POST', '/api/account/email', { email: randomEmail(), password: strongPassword() }, { 'x-forwarded-for': fakeIp() })).status);
  }
  assert.equal(statuses, [...Array<number>(PER_ACCOUNT).fill(403), 429], 'password guesses through the change form are cut off');
});

test.run();
