/**
 * "Forgot password" over real HTTP, with a real SMTP server in this process (test/helpers/mail.ts):
 * the same answer, at once, whether or not the address has an account (the lookup runs after the
 * answer); the e-mailed link is single-use, short-lived and stored only as its SHA-256; the new
 * password meets the same policy as sign-up; every session of the user ends; limited per IP and per
 * address; audited with the user as the actor, the token redacted. The servers log in as xms_app.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tokenHash } from '../../src/security/tokens.js';
import {
  client, fakeIp, login, randomEmail, signUpAndLogin, startMailedServers, strongPassword, testDatabase, type MailedServers, type Server,
} from '../helpers/http.js';
import { linkToken, mailLink, type Inbox } from '../helpers/mail.js';

const PER_ACCOUNT = 3;
const PER_IP = 8;
let mailed: MailedServers;
let inbox: Inbox;
let server: Server;
let limited: Server;

test.before(async () => {
  mailed = await startMailedServers({ perAccount: PER_ACCOUNT, perIp: PER_IP });
  ({ inbox, server, limited } = mailed);
});
test.after(() => mailed.close());

const forgot = (email: string, s: Server = server, headers: Record<string, string> = {}) =>
  client(s).request('POST', '/api/auth/password-forgot', { email }, headers);


/**
 * Holds every transaction the routes open through the auth subsystem (asAuth, asAuthTx) until
 * release(); counts them. The rate limiter's own statements are not held.
 */
function holdAuthSubsystem(s: Server) {
  const db = s.app.xms.db;
  const original = { asAuth: db.asAuth, asAuthTx: db.asAuthTx };
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let calls = 0;
  db.asAuth = (async (...args: Parameters<typeof db.asAuth>) => {
    calls++;
    await gate;
    return original.asAuth(...args);
  }) as typeof db.asAuth;
  db.asAuthTx = (async (...args: Parameters<typeof db.asAuthTx>) => {
    calls++;
    await gate;
    return original.asAuthTx(...args);
  }) as typeof db.asAuthTx;
  return {
    calls: () => calls,
    async release() {
      release();
      await s.app.xms.mail.settled();
      Object.assign(db, original);
    },
  };
}

test('the answer is the same, and comes before any lookup, whether or not the address has an account', async () => {
  const account = await signUpAndLogin(server);
  const unknown = randomEmail('nobody');
  const answers: string[] = [];
  const work: number[] = [];
  for (const email of [account.email, unknown, account.email.toUpperCase()]) {
    const held = holdAuthSubsystem(server);
    // the lookup is held: a route that waited for it would not answer
    const response = await Promise.race([
      forgot(email),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the answer waited for the account lookup')), 5000)),
    ]);
    answers.push(JSON.stringify([response.status, await response.json()]));
    await held.release();
    work.push(held.calls());
  }
  assert.is(answers[0], answers[1], 'status and body');
  assert.is(answers[0], answers[2]);
  assert.match(answers[0]!, /^\[202,/);
  assert.equal(work, [1, 1, 1], 'the same work in the background: one lookup transaction each');
  // only the registered mailbox receives something
  const message = await inbox.next(account.email);
  assert.is(inbox.messages.filter((m) => m.to === account.email && /^Reset/.test(m.subject)).length, 2, 'two requests for the account, two links');
  assert.is(inbox.count(unknown), 0);
  assert.match(message.subject, /Reset your Test app password/);
  assert.match(message.from, /no-reply@example\.test/);
  assert.match(message.html, /<a href="http:\/\/127\.0\.0\.1:\d+\/reset-password#token=/);
  assert.match(mailLink(message.text), new RegExp(`^${server.url}/reset-password#token=`), 'the link points at the app itself');
});

test('a malformed address is answered like an unknown one; nothing is sent', async () => {
  const before = inbox.messages.length;
  const known = await forgot(randomEmail('nobody'));
  const malformed = await forgot('not an address');
  assert.is(JSON.stringify([malformed.status, await malformed.json()]), JSON.stringify([known.status, await known.json()]));
  await server.app.xms.mail.settled();
  assert.is(inbox.messages.length, before);
});

test('the e-mailed link: stored as SHA-256 only, 30 minutes, single use; the policy applies; every session ends', async () => {
  const account = await signUpAndLogin(server);
  const other = await login(server, account.email, account.password);
  assert.is((await forgot(account.email)).status, 202);
  const token = linkToken((await inbox.next(account.email)).text);
  const owner = (await testDatabase()).owner;
  const stored = await owner.query<{ token_hash: Buffer | Uint8Array; minutes: number; purpose: string; created_by: string | null }>(
    `select token_hash, extract(epoch from expires_at - created_at)::int / 60 as minutes, purpose, created_by
       from app_private.password_resets where user_id = $1`,
    [account.userId],
  );
  assert.is(stored.rows.length, 1);
  assert.is(Buffer.from(stored.rows[0]!.token_hash).toString('hex'), tokenHash(token).toString('hex'), 'SHA-256 of the token, not the token');
  assert.is(stored.rows[0]!.minutes, 30);
  assert.is(stored.rows[0]!.purpose, 'reset');
  assert.is(stored.rows[0]!.created_by, null);
  assert.is((await account.client.request('GET', '/api/me')).status, 200, 'asking for a link ends nothing');

  // a weak password is refused and the link still works (the page can be reloaded and retried)
  const weak = await client(server).request('POST', '/api/auth/password-reset', { token, password: 'passwordpassword1' });
  assert.is(weak.status, 400);
  assert.is(((await weak.json()) as { error: string }).error, 'weak_password');
  const password = strongPassword();
  assert.is((await client(server).request('POST', '/api/auth/password-reset', { token, password })).status, 200);
  assert.is((await client(server).request('POST', '/api/auth/password-reset', { token, password: strongPassword() })).status, 400, 'single use');
  assert.is((await account.client.request('GET', '/api/me')).status, 401, 'every session ended');
  assert.is((await other.client.request('GET', '/api/me')).status, 401);
  assert.is((await client(server).request('POST', '/api/auth/login', { email: account.email, password: account.password })).status, 401, 'old password gone');
  await login(server, account.email, password);

  // an expired link is dead
  assert.is((await forgot(account.email)).status, 202);
  const late = linkToken((await inbox.next(account.email)).text);
  await owner.query(`update app_private.password_resets set expires_at = now() - interval '1 second' where user_id = $1 and used_at is null`, [account.userId]);
  assert.is((await client(server).request('POST', '/api/auth/password-reset', { token: late, password: strongPassword() })).status, 400, 'expired');
});

test('audited: the user is the actor, the token is redacted', async () => {
  const account = await signUpAndLogin(server);
  await forgot(account.email);
  const token = linkToken((await inbox.next(account.email)).text);
  assert.is((await client(server).request('POST', '/api/auth/password-reset', { token, password: strongPassword() })).status, 200);
  const rows = await (await testDatabase()).owner.query<{ action: string; actor_id: string; new_row: Record<string, unknown> }>(
    `select action, actor_id, new_row from audit.log where table_name = 'app_private.password_resets' and new_row->>'user_id' = $1 order by id`,
    [account.userId],
  );
  assert.equal(rows.rows.map((row) => row.action.toLowerCase().slice(0, 6)), ['insert', 'update']);
  for (const row of rows.rows) {
    assert.is(row.actor_id, account.userId);
    assert.is(row.new_row.token_hash, '[redacted]');
  }
});

test('a deactivated member gets no link (they could not log in anyway)', async () => {
  const admin = await signUpAndLogin(server);
  const owner = (await testDatabase()).owner;
  await owner.query('update app.memberships set deactivated_at = now() where user_id = $1', [admin.userId]);
  assert.is((await forgot(admin.email)).status, 202);
  await server.app.xms.mail.settled();
  assert.is(inbox.messages.filter((m) => m.to === admin.email && /^Reset/.test(m.subject)).length, 0);
});

test('the auth subsystem cannot store a long-lived or creator-naming reset token (the database refuses)', async () => {
  const account = await signUpAndLogin(server);
  for (const [what, sql] of [
    ['two hours', `now() + interval '2 hours', null`],
    ['a creator', `now() + interval '10 minutes', $2`],
  ] as const) {
    try {
      await server.app.xms.db.asAuth((tx) =>
        tx.query(
          `insert into app_private.password_resets (token_hash, user_id, tenant_id, email, purpose, expires_at, created_by)
           values ($1, $2, $3, $4, 'reset', ${sql})`,
          [tokenHash(randomBytes(32).toString('base64url')), account.userId, account.tenantId, account.email],
        ),
      );
      assert.unreachable(what);
    } catch (error) {
      assert.match(String((error as Error).message), /row-level security/, what);
    }
  }
});

test('limited per address and per IP (429 with Retry-After), every request counting', async () => {
  await (await testDatabase()).owner.query('delete from app_private.auth_rate_limits');
  const email = randomEmail('target');
  const statuses: number[] = [];
  for (let i = 0; i <= PER_ACCOUNT; i++) statuses.push((await forgot(email, limited, { 'x-forwarded-for': fakeIp() })).status);
  assert.equal(statuses, [...Array(PER_ACCOUNT).fill(202), 429], 'per address, from many IPs');
  const last = await forgot(email.toUpperCase(), limited, { 'x-forwarded-for': fakeIp() });
  assert.is(last.status, 429, 'the normalised address is the key');
  assert.ok(Number(last.headers.get('retry-after')) > 0);
  const ip = fakeIp();
  const fromOneIp: number[] = [];
  for (let i = 0; i <= PER_IP; i++) fromOneIp.push((await forgot(randomEmail('many'), limited, { 'x-forwarded-for': ip })).status);
  assert.equal(fromOneIp, [...Array(PER_IP).fill(202), 429], 'per IP, many addresses');
});

test.run();
