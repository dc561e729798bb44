/**
 * The request path's one transaction (src/db/request.ts, openSessionRequest): the session check
 * enters the session's role and identity in the same transaction the handler then uses; a request
 * writes the session row only when the idle expiry is due to slide; the transaction commits or rolls
 * back as a whole; the auth subsystem joins it as xms_auth and hands the role back. Everything runs as
 * the runtime login xms_app; the owner connection only sets up and inspects. checkSessionOnly, the
 * check of a route that reads nothing but its session, is the same check in a transaction that
 * commits at once.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkSessionOnly, NestedRequestTransactionError, openSessionRequest, type RequestTransaction } from '../../src/db/request.js';
import { requestWithDb } from '../../src/server/app.js';
import type { Database, TransactionOptions } from '../../src/db/client.js';
import { openTestDatabase, type FixtureUser, type TestDatabase } from '../helpers/db.js';

const test = suite('request transaction');
let t: TestDatabase;

test.before(async () => {
  t = await openTestDatabase({ shared: true });
});
test.after(async () => {
  await t?.close();
});

const IDLE_MINUTES = 30;
// every transaction a test opens is ended afterwards, so a failing test never blocks the next one
const opened: RequestTransaction[] = [];
test.after.each(async () => {
  for (const tx of opened.splice(0)) await tx.end(false).catch(() => undefined);
});
const open = async (user: FixtureUser) => {
  const tx = await openSessionRequest(t.db, user.token!, { sessionIdleMinutes: IDLE_MINUTES });
  if (tx) opened.push(tx);
  return tx;
};
/** Tokens outside the token alphabet or length: none may reach the database. */
const MALFORMED_TOKENS = [`x'); select pg_sleep(1); --aaaaaaaaaaaaaaaaaaaaaaaaa`, 'a'.repeat(42), 'a'.repeat(44), `${'a'.repeat(42)}\u00e9`, ''];
const hash = (user: FixtureUser) => `sha256(convert_to('${user.token}', 'UTF8'))`;

/** Writes a session row the membership rule (20240101000403) refuses, to show the session check's own defence. */
async function withoutMembershipRule<T>(write: () => Promise<T>): Promise<T> {
  await t.owner.exec('alter table app_private.sessions disable trigger sessions_require_membership');
  try {
    return await write();
  } finally {
    await t.owner.exec('alter table app_private.sessions enable trigger sessions_require_membership');
  }
}

async function mustOpen(user: FixtureUser): Promise<RequestTransaction> {
  const tx = await open(user);
  assert.ok(tx, `the session of ${user.key} should open`);
  return tx!;
}

/** A transaction can still be opened afterwards (a leaked one would block PGlite's one connection). */
async function nothingHeld(): Promise<void> {
  const probe = t.db.transaction(async (tx) => (await tx.query<{ one: number }>('select 1 as one')).rows[0]!.one);
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('a transaction was left open')), 5000).unref());
  assert.is(await Promise.race([probe, timeout]), 1);
}

test('enters the session role and identity in the transaction the handler uses', async () => {
  const member = t.f.actor('member');
  const tx = await mustOpen(member);
  const row = await tx.run(async (q) =>
    (await q.query<{ role: string; user_id: string; tenant_id: string }>(
      'select current_user as role, app.current_user_id() as user_id, app.current_tenant_id() as tenant_id',
    )).rows[0]!,
  );
  await tx.end(true);
  assert.equal(row, { role: 'xms_member', user_id: member.id, tenant_id: member.tenant });
  assert.is(tx.session.db_role, 'xms_member');
});

test('before the handler, one round trip: BEGIN and the session check, its token a bind value only', async () => {
  const sent: string[] = [];
  const begins: (string | undefined)[] = [];
  const firsts: (TransactionOptions['first'] | undefined)[] = [];
  // the same database, recording what the request path sends inside its transaction
  const recording: Database = {
    ...t.db,
    transaction: (fn, options) => {
      begins.push(options?.enter);
      firsts.push(options?.first);
      return t.db.transaction(
        (tx, entered) => fn({ query: (sql, params) => (sent.push(sql), tx.query(sql, params)), exec: (sql) => (sent.push(sql), tx.exec(sql)) }, entered),
        options,
      );
    },
  };
  const member = t.f.actor('member');
  const tx = await openSessionRequest(recording, member.token!, { sessionIdleMinutes: IDLE_MINUTES });
  assert.ok(tx, 'the session opens');
  const me = await tx!.run(async (q) => (await q.query<{ me: string }>('select app.current_user_id() as me')).rows[0]!.me);
  await tx!.end(true);
  assert.is(me, member.id);
  // with BEGIN: the session check, which enters the session's role, its token a bind value; no
  // role before it (the runtime login calls the check itself)
  assert.equal(begins, [undefined]);
  assert.equal(firsts, [{ text: 'select app_private.enter_session($1, $2, $3) as entry', values: [member.token, IDLE_MINUTES, 60] }]);
  // then only the handler's statement; the token is in no statement's text (pg_stat_activity shows
  // the text to every session of the login)
  assert.equal(sent, ['select app.current_user_id() as me']);
  for (const text of [firsts[0]!.text, ...sent]) assert.not.ok(text.includes(member.token!), text);
});

test('a token outside the token alphabet never reaches the database', async () => {
  const begins: (string | undefined)[] = [];
  const recording: Database = { ...t.db, transaction: (fn, options) => (begins.push(options?.enter), t.db.transaction(fn, options)) };
  for (const token of MALFORMED_TOKENS) {
    assert.is(await openSessionRequest(recording, token, { sessionIdleMinutes: IDLE_MINUTES }), undefined, token);
  }
  assert.equal(begins, []);
});

test('no live session: nothing is entered and nothing stays open', async () => {
  const admin = t.f.actor('admin', 2);
  assert.is(await openSessionRequest(t.db, 'not-a-live-token-0000000000000000000000000', { sessionIdleMinutes: IDLE_MINUTES }), undefined);
  await t.owner.query(`update app_private.sessions set idle_expires_at = now() - interval '1 second' where token_hash = ${hash(admin)}`);
  assert.is(await open(admin), undefined, 'idle-expired');
  await t.owner.query(`update app_private.sessions set idle_expires_at = now() + interval '1 hour', revoked_at = now() where token_hash = ${hash(admin)}`);
  assert.is(await open(admin), undefined, 'revoked');
  await t.owner.query(`update app_private.sessions set revoked_at = null where token_hash = ${hash(admin)}`);
  assert.ok(await open(admin).then(async (tx) => (await tx?.end(true), tx)), 'live again');
  // a session row naming a role the runtime login was not granted is refused, not an error (such a
  // row cannot be written: it has no membership, so the trigger that requires one is off for it)
  await withoutMembershipRule(() => t.owner.query(`update app_private.sessions set db_role = 'xms_owner' where token_hash = ${hash(admin)}`));
  assert.is(await open(admin), undefined, 'foreign role');
  await withoutMembershipRule(() => t.owner.query(`update app_private.sessions set db_role = 'xms_admin' where token_hash = ${hash(admin)}`));
  await nothingHeld();
});

test('writes the session row only when the idle expiry is due to slide (at most once a minute)', async () => {
  const member = t.f.actor('member', 2);
  const state = async () =>
    (await t.owner.query<{ last_seen_at: Date; idle_expires_at: Date; xmin: string }>(
      `select last_seen_at, idle_expires_at, xmin::text from app_private.sessions where token_hash = ${hash(member)}`,
    )).rows[0]!;
  await t.owner.query(`update app_private.sessions set last_seen_at = now() where token_hash = ${hash(member)}`);
  const before = await state();
  for (let i = 0; i < 3; i++) await (await mustOpen(member)).end(true);
  assert.is((await state()).xmin, before.xmin, 'no request within the minute wrote the row');

  await t.owner.query(
    `update app_private.sessions set last_seen_at = now() - interval '2 minutes', idle_expires_at = now() + interval '1 minute'
      where token_hash = ${hash(member)}`,
  );
  await (await mustOpen(member)).end(true);
  const slid = await state();
  assert.ok(slid.idle_expires_at.getTime() > Date.now() + (IDLE_MINUTES - 1) * 60_000, 'idle expiry slid');
  assert.ok(slid.last_seen_at.getTime() > Date.now() - 60_000, 'last seen now');
});

test('commits or rolls back everything the request did, with one audit row per committed change', async () => {
  const admin = t.f.actor('admin');
  const insert = (tx: RequestTransaction, title: string) =>
    tx.run((q) => q.query(`insert into app.records (title) values ($1)`, [title]));
  const count = async (title: string) =>
    Number((await t.owner.query<{ n: string }>('select count(*) as n from app.records where title = $1', [title])).rows[0]!.n);

  const rolledBack = await mustOpen(admin);
  await insert(rolledBack, 'request-tx rolled back');
  await rolledBack.end(false);
  assert.is(await count('request-tx rolled back'), 0);

  const committed = await mustOpen(admin);
  await insert(committed, 'request-tx committed 1');
  await insert(committed, 'request-tx committed 2');
  await committed.end(true);
  assert.is((await count('request-tx committed 1')) + (await count('request-tx committed 2')), 2);
  const audit = await t.owner.query<{ actor_id: string }>(
    `select actor_id from audit.log where table_name = 'app.records' and action = 'INSERT' and new_row ->> 'title' like 'request-tx committed _'`,
  );
  assert.equal(audit.rows.map((r) => r.actor_id), [admin.id, admin.id]);
});

test('a failed call rolls the whole request back and later calls say why', async () => {
  const admin = t.f.actor('admin');
  const tx = await mustOpen(admin);
  await tx.run((q) => q.query(`insert into app.records (title) values ('request-tx before failure')`));
  await tx.run((q) => q.query('select 1/0')).then(
    () => assert.unreachable('division by zero should fail'),
    () => undefined,
  );
  await tx.run((q) => q.query('select 1')).then(
    () => assert.unreachable('a call after a failure should be refused'),
    (error: Error) => assert.match(error.message, /earlier database call/),
  );
  await tx.end(true); // asked to commit, but a call failed: rolled back
  const n = await t.owner.query<{ n: string }>(`select count(*) as n from app.records where title = 'request-tx before failure'`);
  assert.is(Number(n.rows[0]!.n), 0);
  await nothingHeld();
});

test('the auth subsystem joins the transaction as xms_auth and hands the role back; its failure is contained', async () => {
  const member = t.f.actor('member');
  const tx = await mustOpen(member);
  const inAuth = await tx.auth(async (q) => (await q.query<{ role: string }>('select current_user as role')).rows[0]!.role);
  assert.is(inAuth, 'xms_auth');
  const after = await tx.run(async (q) => (await q.query<{ role: string; me: string }>('select current_user as role, app.current_user_id() as me')).rows[0]!);
  assert.equal(after, { role: 'xms_member', me: member.id });
  await tx.auth((q) => q.query('select 1/0')).then(
    () => assert.unreachable('should fail'),
    () => undefined,
  );
  const still = await tx.run(async (q) => (await q.query<{ role: string }>('select current_user as role')).rows[0]!.role);
  assert.is(still, 'xms_member', 'a failed auth call leaves the request role in place and the transaction usable');
  await tx.end(true);
});

/** On PostgreSQL: no connection of the runtime login is left inside a transaction (PGlite: nothingHeld). */
async function noTransactionLeftOpen(): Promise<void> {
  // first: the probe of nothingHeld() could take the pooled connection and end what it left open
  if (t.kind === 'postgres') {
    const open = await t.owner.query<{ n: string }>(
      `select count(*) as n from pg_stat_activity where usename = 'xms_app' and datname = current_database() and state like 'idle in transaction%'`,
    );
    assert.is(Number(open.rows[0]!.n), 0, 'a connection of xms_app is idle in a transaction');
  }
  await nothingHeld();
}

test('session only: the same session as the request transaction enters, with no transaction left open', async () => {
  for (const user of [t.f.actor('member'), t.f.actor('admin')]) {
    const tx = await mustOpen(user);
    await tx.end(true);
    const row = await checkSessionOnly(t.db, user.token!, { sessionIdleMinutes: IDLE_MINUTES });
    assert.equal(row, tx.session, user.key);
  }
  await noTransactionLeftOpen();
});

test('session only: the session check as one statement, outside any transaction block, its token a bind value only', async () => {
  const calls: [string, unknown[] | undefined][] = [];
  const recording: Database = {
    ...t.db,
    transaction: () => Promise.reject(new Error('a session-only check opened a request transaction')),
    query: (sql, params) => (calls.push([sql, params]), t.db.query(sql, params)),
    exec: () => Promise.reject(new Error('a session-only check sent a statement without parameters')),
  };
  const member = t.f.actor('member');
  assert.ok(await checkSessionOnly(recording, member.token!, { sessionIdleMinutes: IDLE_MINUTES }));
  assert.equal(calls, [['select pg_catalog.row_to_json(app_private.check_session($1, $2, $3)) as entry', [member.token, IDLE_MINUTES, 60]]]);
  assert.not.ok(calls[0]![0].includes(member.token!));
  // a token outside the token alphabet never reaches the database
  for (const token of MALFORMED_TOKENS) {
    assert.is(await checkSessionOnly(recording, token, { sessionIdleMinutes: IDLE_MINUTES }), undefined, token);
  }
  assert.is(calls.length, 1);
});

test('session only: no live session is no session (revoked, idle-expired, another role)', async () => {
  const admin = t.f.actor('admin', 2);
  const check = () => checkSessionOnly(t.db, admin.token!, { sessionIdleMinutes: IDLE_MINUTES });
  assert.is(await checkSessionOnly(t.db, 'not-a-live-token-0000000000000000000000000', { sessionIdleMinutes: IDLE_MINUTES }), undefined);
  try {
    await t.owner.query(`update app_private.sessions set revoked_at = now() where token_hash = ${hash(admin)}`);
    assert.is(await check(), undefined, 'revoked');
    await t.owner.query(`update app_private.sessions set revoked_at = null, idle_expires_at = now() - interval '1 second' where token_hash = ${hash(admin)}`);
    assert.is(await check(), undefined, 'idle-expired');
    await withoutMembershipRule(() =>
      t.owner.query(`update app_private.sessions set idle_expires_at = now() + interval '1 hour', db_role = 'xms_owner' where token_hash = ${hash(admin)}`),
    );
    assert.is(await check(), undefined, 'a role the runtime login was not granted');
    // a role that is not the membership's cannot be written (20240101000403): the check relies on it
    const other = await t.owner.query(`update app_private.sessions set db_role = 'xms_member' where token_hash = ${hash(admin)}`).then(
      () => 'written',
      (error: Error) => error.message,
    );
    assert.match(other, /no live membership/, 'a role that is not the membership\'s');
  } finally {
    await withoutMembershipRule(() =>
      t.owner.query(`update app_private.sessions set revoked_at = null, idle_expires_at = now() + interval '1 hour', db_role = 'xms_admin' where token_hash = ${hash(admin)}`),
    );
  }
  assert.is((await check())?.db_role, 'xms_admin', 'live again');
  await noTransactionLeftOpen();
});

test('session only: the idle expiry slides when due, and the slide is committed', async () => {
  const member = t.f.actor('member', 2);
  await t.owner.query(
    `update app_private.sessions set last_seen_at = now() - interval '2 minutes', idle_expires_at = now() + interval '1 minute'
      where token_hash = ${hash(member)}`,
  );
  assert.ok(await checkSessionOnly(t.db, member.token!, { sessionIdleMinutes: IDLE_MINUTES }));
  // read by another connection: committed
  const slid = (await t.owner.query<{ idle_expires_at: Date; last_seen_at: Date }>(
    `select idle_expires_at, last_seen_at from app_private.sessions where token_hash = ${hash(member)}`,
  )).rows[0]!;
  assert.ok(slid.idle_expires_at.getTime() > Date.now() + (IDLE_MINUTES - 1) * 60_000, 'idle expiry slid');
  assert.ok(slid.last_seen_at.getTime() > Date.now() - 60_000, 'last seen now');
  await noTransactionLeftOpen();
});

test('a session check that fails leaves no transaction open and no slide written, and its connection serves the next one', async () => {
  const member = t.f.actor('member');
  const lastSeen = async () => (await t.owner.query<{ at: string }>(`select last_seen_at::text as at from app_private.sessions where token_hash = ${hash(member)}`)).rows[0]!.at;
  await t.owner.query(`update app_private.sessions set last_seen_at = now() - interval '2 minutes' where token_hash = ${hash(member)}`);
  const before = await lastSeen();
  // the check's statement, its slide due, failing after the check ran (a user id is no integer):
  // the statement's own transaction rolls back, the slide with it
  await t.db.query('select (s).user_id::text::integer as x from app_private.check_session($1, $2, $3) s', [member.token, IDLE_MINUTES, 60]).then(
    () => assert.unreachable('the cast should fail'),
    (error: Error) => assert.match(error.message, /invalid input syntax for type integer/),
  );
  await noTransactionLeftOpen();
  assert.is(await lastSeen(), before, 'the slide was rolled back');
  // the next ones run on the pool's connections as usual (PGlite: its only one), the first sliding
  for (let i = 0; i < 3; i++) assert.ok(await checkSessionOnly(t.db, member.token!, { sessionIdleMinutes: IDLE_MINUTES }));
  assert.is.not(await lastSeen(), before, 'the slide was due');
  await noTransactionLeftOpen();
});

test('a route declared sessionOnly has no request transaction: request.withDb() refuses and says why', async () => {
  const request = (sessionOnly: boolean) =>
    ({ xmsTransaction: null, method: 'GET', routeOptions: { url: '/api/me', config: { sessionOnly } } }) as unknown as ThisParameterType<typeof requestWithDb>;
  const query = () => Promise.resolve('reached the database');
  await requestWithDb.call(request(true), query).then(
    () => assert.unreachable('a sessionOnly route reached the database'),
    (error: Error) => assert.match(error.message, /GET \/api\/me is declared sessionOnly/),
  );
  await requestWithDb.call(request(false), query).then(
    () => assert.unreachable('reached the database without a session'),
    (error: Error) => assert.match(error.message, /no session/),
  );
});

test('a call made inside another call of the same request is refused instead of waiting forever', async () => {
  const tx = await mustOpen(t.f.actor('member'));
  await tx.run(() => tx.run((q) => q.query('select 1'))).then(
    () => assert.unreachable('nested call should be refused'),
    (error: unknown) => assert.instance(error, NestedRequestTransactionError),
  );
  await tx.end(false);
  await nothingHeld();
});

test.run();
