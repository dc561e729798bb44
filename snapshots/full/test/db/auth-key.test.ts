/**
 * The auth subsystem's role is the server's auth code's alone (20240101000397_xms_auth_key.sql,
 * src/db/auth-key.ts). The runtime login xms_app may switch to xms_auth, so any SQL on its connection
 * can: a handler's string-built query, one `set_config('role', 'xms_auth', true)`. Without the
 * connection's auth key that role sees and writes nothing, on every table it has a right on; the key
 * and the session token never appear in a statement's text, which other sessions of the login can
 * read. Everything runs as the runtime login xms_app, through the request path a handler gets.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { authKeyHash, newAuthKey } from '../../src/db/auth-key.js';
import type { Queryable } from '../../src/db/client.js';
import { openSessionRequest, withAuthTransaction, type RequestTransaction } from '../../src/db/request.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';

const test = suite('auth key');
let t: TestDatabase;

test.before(async () => {
  t = await openTestDatabase();
});
test.after(async () => {
  await t?.close();
});

const opened: RequestTransaction[] = [];
test.after.each(async () => {
  for (const tx of opened.splice(0)) await tx.end(false).catch(() => undefined);
});

/** A member's request transaction, as a handler holds it. */
async function memberRequest(): Promise<RequestTransaction> {
  const tx = await openSessionRequest(t.db, t.f.actor('member').token!, { sessionIdleMinutes: 30 });
  assert.ok(tx, 'the member session opens');
  opened.push(tx!);
  return tx!;
}

/** The tables xms_auth has a right on, as the catalog says (a later migration's included). */
async function authTables(q: Queryable): Promise<{ name: string; select: boolean; insert: boolean }[]> {
  const r = await q.query<{ name: string; select: boolean; insert: boolean }>(`
    select format('%I.%I', n.nspname, c.relname) as name,
           has_table_privilege('xms_auth', c.oid, 'SELECT') as select,
           has_table_privilege('xms_auth', c.oid, 'INSERT') as insert
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p') and n.nspname in ('app', 'app_private')
       and (has_table_privilege('xms_auth', c.oid, 'SELECT') or has_table_privilege('xms_auth', c.oid, 'INSERT')
            or has_table_privilege('xms_auth', c.oid, 'UPDATE') or has_table_privilege('xms_auth', c.oid, 'DELETE'))
     order by 1`);
  return r.rows;
}

/** Each statement in a savepoint, so a refusal leaves the request transaction usable. */
async function attempt(q: Queryable, sql: string, params: unknown[] = []): Promise<{ rows?: number; code?: string }> {
  await q.query('savepoint attempt');
  try {
    const r = await q.query(sql, params);
    await q.query('release savepoint attempt');
    return { rows: r.rowCount };
  } catch (error) {
    await q.query('rollback to savepoint attempt');
    return { code: (error as { code?: string }).code };
  }
}

test('a handler that switches to xms_auth sees no row of any table the role has a right on', async () => {
  const tx = await memberRequest();
  const seen = await tx.run(async (q) => {
    const tables = await authTables(q);
    assert.ok(tables.some((x) => x.name === 'app_private.sessions'), 'xms_auth has its rights on the session table');
    await q.query(`select set_config('role', 'xms_auth', true)`);
    const counts: Record<string, number | string> = {};
    for (const table of tables.filter((x) => x.select)) {
      const r = await attempt(q, `select * from ${table.name}`);
      counts[table.name] = r.code ?? r.rows!;
    }
    return counts;
  });
  for (const [table, count] of Object.entries(seen)) assert.is(count, 0, `${table}: ${count}`);
});

test('a handler that switches to xms_auth cannot create a session for another user', async () => {
  const tx = await memberRequest();
  const victim = t.f.actor('admin');
  const r = await tx.run(async (q) => {
    await q.query('set local role xms_auth');
    return attempt(
      q,
      `insert into app_private.sessions (token_hash, user_id, tenant_id, db_role, expires_at, idle_expires_at)
       values (sha256('forged'), $1, $2, $3, now() + interval '1 day', now() + interval '1 day')`,
      [victim.id, victim.tenant, `xms_${victim.role}`],
    );
  });
  assert.is(r.code, '42501', JSON.stringify(r));
});

test('a guessed key, the registered hash or an empty key opens nothing; the real key does', async () => {
  const hashHex = authKeyHash(t.db.authKey!).toString('hex');
  const tx = await memberRequest();
  const results = await tx.run(async (q) => {
    await q.query('set local role xms_auth');
    const out: Record<string, number | string> = {};
    for (const [name, key] of [['random', newAuthKey()], ['hash', hashHex], ['hash bytes', `\\x${hashHex}`], ['empty', '']] as const) {
      await q.query(`select set_config('app.auth_key', $1, true)`, [key]);
      const r = await attempt(q, 'select * from app_private.sessions');
      out[name] = r.code ?? r.rows!;
    }
    return out;
  });
  assert.equal(results, { random: 0, hash: 0, 'hash bytes': 0, empty: 0 });
  await tx.end(false); // PGlite's one connection: the next transaction waits for this one
  const sessions = await withAuthTransaction(t.db, async (q) => (await q.query('select * from app_private.sessions')).rowCount);
  assert.ok(sessions > 1, 'the auth subsystem, with the key, sees every session');
});

test('after the auth subsystem acted inside a request, the handler holds neither its role nor its key', async () => {
  const tx = await memberRequest();
  const during = await tx.auth(async (q) => (await q.query('select * from app_private.sessions')).rowCount);
  assert.ok(during > 1, 'the auth subsystem sees every session');
  const after = await tx.run(async (q) => {
    const state = (await q.query<{ role: string; key: string }>(`select current_user as role, coalesce(current_setting('app.auth_key', true), '') as key`)).rows[0]!;
    await q.query('set local role xms_auth');
    const r = await attempt(q, 'select * from app_private.sessions');
    return { ...state, seen: r.code ?? r.rows };
  });
  assert.equal(after, { role: 'xms_member', key: '', seen: 0 });
});

test('a handle kept past its call cannot send a statement while the auth subsystem holds its key', async () => {
  const tx = await memberRequest();
  let kept: Queryable | undefined;
  await tx.run(async (q) => {
    kept = q;
  });
  // the auth subsystem acts (its role and key set) and is still busy when the kept handle fires
  const acting = tx.auth(async (q) => q.query('select pg_sleep(0.2)'));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const attempt = await kept!.query<{ n: string }>('select count(*) as n from app_private.sessions').then(
    (r) => `read ${r.rows[0]!.n} sessions`,
    (error: Error) => error.message,
  );
  await acting;
  assert.match(attempt, /used after its call ended/);
});

test('the session token and the auth key are in no statement text another session can read', async () => {
  if (t.kind === 'pglite') {
    console.log('  (PostgreSQL only: PGlite has one session, so there is no other session to read)');
    return;
  }
  const other = await t.connect();
  const member = t.f.actor('member');
  // what the login xms_app reads of its other sessions (`set role none`: back to the login), in this
  // test's database (other suites may run on the same server at the same time)
  const texts = (waiting: boolean) =>
    other.transaction(async (q) => {
      await q.query('set role none');
      const r = await q.query<{ query: string }>(
        `select query from pg_stat_activity
          where usename = 'xms_app' and datname = current_database() and pid <> pg_backend_pid()${waiting ? ` and wait_event_type = 'Lock'` : ''}`,
      );
      return r.rows.map((row) => row.query);
    });
  // catch the session check in the act: the owner holds the users table, the check waits on it
  let seen: string[] = [];
  const { opening } = await t.owner.transaction(async (o) => {
    await o.query('lock table app.users in access exclusive mode');
    const opening = openSessionRequest(t.db, member.token!, { sessionIdleMinutes: 30 });
    for (let i = 0; i < 200 && seen.length === 0; i++) {
      seen = await texts(true);
      if (seen.length === 0) await new Promise((r) => setTimeout(r, 25));
    }
    return { opening }; // not awaited here: it waits for this transaction's lock
  });
  const request = await opening;
  assert.ok(request, 'the member session opens once the lock is gone');
  opened.push(request!);
  assert.equal(seen, ['select app_private.enter_session($1, $2, $3) as entry'], 'the waiting session check, as the login reads it');
  // and with the auth subsystem's key handed over inside the open request
  await request!.auth(async (q) => q.query('select app_private.auth_key_held()'));
  const after = await texts(false);
  assert.ok(after.length > 0 && !after.includes('<insufficient privilege>'), `the login reads the texts: ${JSON.stringify(after)}`);
  for (const text of [...seen, ...after]) {
    assert.not.ok(text.includes(member.token!), `the token is in: ${text}`);
    assert.not.ok(text.includes(t.db.authKey!), `the auth key is in: ${text}`);
  }
});

test.run();
