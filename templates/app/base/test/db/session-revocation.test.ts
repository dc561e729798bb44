/**
 * A session lives only as long as its membership (supabase/migrations/20240101000403): a membership
 * deactivated, removed or given another role revokes its sessions in the same transaction, and no live
 * session row can be written for a membership that is not live with the session's role. The session
 * check (app_private.check_session) relies on both and no longer reads the membership.
 *
 * Memberships change as an admin's request role (or the owner, as a migration would); sessions are
 * written as the auth subsystem (xms_auth); whether a session is live is asked as the server asks it,
 * as the runtime login (checkSessionOnly). On PostgreSQL the race between a log-in and a deactivation
 * runs on two connections in both orders; PGlite has one connection, so there the same two orders run
 * one after the other.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Database } from '../../src/db/client.js';
import { checkSessionOnly, withAuthTransaction, withRequestTransaction } from '../../src/db/request.js';
import { testData } from '../../src/generated/permissions.testdata.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';

const test = suite('sessions end with their membership');
let t: TestDatabase;

test.before(async () => {
  t = await openTestDatabase({ shared: true });
});
test.after(async () => {
  await t?.close();
});

const member = testData.roles.find((r) => r !== 'admin') ?? testData.roles[0]!;
const otherRole = testData.roles.find((r) => r !== member)!;

/** A new verified account with a live membership (role `role`) in tenant 1, made as the auth subsystem. */
async function newMember(role = member): Promise<string> {
  const userId = randomUUID();
  await withAuthTransaction(
    t.db,
    async (tx) => {
      await tx.query('insert into app.users (id, display_name) values ($1, $2)', [userId, 'revocation']);
      await tx.query('insert into app.memberships (user_id, tenant_id, role) values ($1, $2, $3)', [userId, t.f.tenant1, role]);
      await tx.query('insert into app_private.credentials (user_id, email, password_hash, email_verified_at) values ($1, $2, $3, now())', [
        userId,
        `revocation-${randomBytes(4).toString('hex')}@example.test`,
        '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g',
      ]);
    },
    { actorId: userId },
  );
  return userId;
}

const insertSession = `insert into app_private.sessions (token_hash, user_id, tenant_id, db_role, idle_expires_at, expires_at)
  values (sha256(convert_to($1, 'UTF8')), $2, $3, $4, now() + interval '30 minutes', now() + interval '12 hours')`;

/** A session written as the log-in writes one (createSession), on `db`: its token. */
async function newSession(userId: string, role = member, db: Database = t.db): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await withAuthTransaction(db, (tx) => tx.query(insertSession, [token, userId, t.f.tenant1, `xms_${role}`]), { actorId: userId });
  return token;
}

const live = async (token: string): Promise<boolean> => (await checkSessionOnly(t.db, token, { sessionIdleMinutes: 30 })) !== undefined;

/** As tenant 1's admin, through RLS, as the admin pages do. */
function asAdmin(sql: string, params: unknown[]): Promise<unknown> {
  const admin = t.f.actor('admin', 1);
  return withRequestTransaction(t.db, { sessionToken: admin.token, dbRole: 'admin' }, (tx) => tx.query(sql, params));
}

const revokedAt = async (token: string): Promise<Date | null> =>
  (await t.owner.query<{ revoked_at: Date | null }>('select revoked_at from app_private.sessions where token_hash = sha256(convert_to($1, \'UTF8\'))', [token]))
    .rows[0]!.revoked_at;

test('the roles to change between exist', () => {
  assert.ok(otherRole && otherRole !== member, 'the matrix has at least two roles');
});

test("an admin deactivating a membership revokes its sessions at once, and only that membership's", async () => {
  const userId = await newMember();
  const [a, b] = [await newSession(userId), await newSession(userId)];
  const bystander = await newSession(await newMember());
  assert.ok((await live(a)) && (await live(b)) && (await live(bystander)));
  await asAdmin('update app.memberships set deactivated_at = now() where user_id = $1 and tenant_id = $2', [userId, t.f.tenant1]);
  assert.not.ok(await live(a), 'revoked');
  assert.not.ok(await live(b), 'every session of the membership');
  assert.ok(await revokedAt(a), 'written as revoked, not only refused');
  assert.ok(await live(bystander), "another member's session stays");
  // a membership made live again does not bring its old sessions back
  await asAdmin('update app.memberships set deactivated_at = null where user_id = $1 and tenant_id = $2', [userId, t.f.tenant1]);
  assert.not.ok(await live(a), 'still revoked after the reactivation');
  assert.ok(await live(await newSession(userId)), 'a new log-in works again');
});

test('a role change or a removal revokes the sessions; an update that changes neither does not', async () => {
  const userId = await newMember();
  const token = await newSession(userId);
  await t.owner.query('update app.memberships set created_at = created_at where user_id = $1', [userId]);
  assert.ok(await live(token), 'an update that keeps the member, tenant, role and live state');
  await asAdmin('update app.memberships set role = $2 where user_id = $1 and tenant_id = $3', [userId, otherRole, t.f.tenant1]);
  assert.not.ok(await live(token), 'the role changed: a session of the old role is revoked');
  const again = await newSession(userId, otherRole);
  assert.ok(await live(again), 'a session of the new role');
  await asAdmin('delete from app.memberships where user_id = $1 and tenant_id = $2', [userId, t.f.tenant1]);
  assert.not.ok(await live(again), 'the membership removed');
});

test('no live session is written for a membership that is not live with its role', async () => {
  const userId = await newMember();
  const refused = async (what: string, write: () => Promise<unknown>) => {
    try {
      await write();
    } catch (error) {
      assert.match(String((error as Error).message), /no live membership|no tenant/, what);
      return;
    }
    assert.unreachable(`${what}: written`);
  };
  await refused('another role than the membership', () => newSession(userId, otherRole));
  await refused('a user without a membership in the tenant', async () => {
    const stranger = randomUUID();
    await t.owner.query('insert into app.users (id) values ($1)', [stranger]);
    await newSession(stranger);
  });
  await refused('no tenant', () =>
    withAuthTransaction(t.db, (tx) =>
      tx.query(insertSession.replace('$3', 'null::uuid').replace('$4', '$3'), [randomBytes(32).toString('base64url'), userId, `xms_${member}`]),
    ),
  );
  const token = await newSession(userId);
  await asAdmin('update app.memberships set deactivated_at = now() where user_id = $1 and tenant_id = $2', [userId, t.f.tenant1]);
  await refused('a deactivated membership', () => newSession(userId));
  // a revoked session cannot be made live again, by the auth subsystem or the owner
  const hash = createHash('sha256').update(token, 'utf8').digest();
  await refused('un-revoked by the auth subsystem', () =>
    withAuthTransaction(t.db, (tx) => tx.query('update app_private.sessions set revoked_at = null where token_hash = $1', [hash])),
  );
  await refused('un-revoked by the owner', () => t.owner.query('update app_private.sessions set revoked_at = null where token_hash = $1', [hash]));
  await refused('moved to a user whose membership is not live', async () => {
    const other = await newMember();
    await t.owner.query('update app.memberships set deactivated_at = now() where user_id = $1', [other]);
    const moved = createHash('sha256').update(await newSession(await newMember()), 'utf8').digest();
    await withAuthTransaction(t.db, (tx) => tx.query('update app_private.sessions set user_id = $2 where token_hash = $1', [moved, other]));
  });
  assert.not.ok(await live(token));
});

test('a log-in racing a deactivation: whichever commits first, no live session is left', async () => {
  // 1: the log-in has written its session (and holds the pair's lock) when the deactivation commits:
  //    the deactivation's revocation waits for the log-in's commit, then revokes its session
  // 2: the deactivation has revoked (SET CONSTRAINTS ... IMMEDIATE: its deferred revocation runs now,
  //    holding the lock) when the log-in writes: the log-in waits, then sees the deactivation, refused
  // 3: the deactivation has changed the row but not committed when the log-in commits (it still sees a
  //    live membership); the deactivation then commits and revokes the new session
  const other = t.kind === 'postgres' ? await t.connect() : t.db; // t.close() closes it
  for (const order of [1, 2, 3] as const) {
    const userId = await newMember();
    const token = randomBytes(32).toString('base64url');
    const logIn = (db: Database, hold?: Promise<void>) =>
      withAuthTransaction(db, async (tx) => {
        await tx.query(insertSession, [token, userId, t.f.tenant1, `xms_${member}`]);
        await hold;
      });
    const deactivate = (db: Database, hold?: Promise<void>) =>
      withRequestTransaction(db, { sessionToken: t.f.actor('admin', 1).token, dbRole: 'admin' }, async (tx) => {
        await tx.query('update app.memberships set deactivated_at = now() where user_id = $1 and tenant_id = $2', [userId, t.f.tenant1]);
        if (order === 2) await tx.query('set constraints app.memberships_revoke_sessions immediate');
        await hold;
      });
    const outcome = (p: Promise<unknown>) => p.then(() => 'committed', (error: Error) => error.message);
    if (t.kind === 'postgres') {
      let release!: () => void;
      const hold = new Promise<void>((r) => (release = r));
      let first: Promise<unknown> | undefined;
      try {
        if (order === 3) {
          first = deactivate(t.db, hold);
          await waitFor(async () => (await t.owner.query('select 1 from app.memberships where user_id = $1 and xmax <> 0', [userId])).rows.length > 0);
          assert.is(await outcome(logIn(other)), 'committed', 'the log-in sees the membership live until the deactivation commits');
        } else {
          first = order === 1 ? logIn(t.db, hold) : deactivate(t.db, hold);
          // the first holds the pair's lock in its open transaction; the second waits for it
          await waitFor(() => advisoryLocks('granted'));
          const second = outcome(order === 1 ? deactivate(other) : logIn(other));
          await waitFor(() => advisoryLocks('not granted'));
          release();
          await first;
          if (order === 1) assert.is(await second, 'committed', 'the deactivation commits once the log-in has');
          else assert.match(await second, /no live membership/, 'the log-in after the deactivation is refused');
        }
      } finally {
        // a failed step must not leave the first transaction open (the file would never end)
        release();
        await first?.catch(() => undefined);
      }
    } else if (order === 2) {
      await deactivate(t.db);
      assert.match(await outcome(logIn(t.db)), /no live membership/);
    } else {
      await logIn(t.db);
      await deactivate(t.db);
    }
    assert.not.ok(await live(token), `order ${order}: no live session for the deactivated membership`);
  }
});

test('an admin who removes their own membership keeps their identity until the commit, and is the audit actor', async () => {
  const adminId = await newMember('admin');
  const token = await newSession(adminId, 'admin');
  const seen = await withRequestTransaction(t.db, { sessionToken: token, dbRole: 'admin' }, async (tx) => {
    await tx.query('delete from app.memberships where user_id = $1 and tenant_id = $2', [adminId, t.f.tenant1]);
    // still this admin for the rest of the transaction: RLS and the audit log see them
    return (await tx.query('select 1 from app.memberships where tenant_id = $1', [t.f.tenant1])).rows.length;
  });
  assert.ok(seen > 0, 'the transaction kept its identity after the delete');
  assert.not.ok(await live(token), 'the session is revoked once the removal committed');
  const actors = await t.owner.query<{ table_name: string; action: string; actor_id: string | null }>(
    `select table_name, action, actor_id from audit.log
      where (table_name = 'app.memberships' and old_row ->> 'user_id' = $1)
         or (table_name = 'app_private.sessions' and action = 'UPDATE' and old_row ->> 'user_id' = $1)
      order by id`,
    [adminId],
  );
  assert.equal(
    actors.rows.map((r) => `${r.table_name} ${r.action} ${r.actor_id === adminId ? 'by the admin' : r.actor_id}`),
    ['app.memberships DELETE by the admin', 'app_private.sessions UPDATE by the admin'],
  );
});

test('a membership changed in a REPEATABLE READ transaction is refused (it could miss a session committed after its snapshot)', async () => {
  const userId = await newMember();
  const token = await newSession(userId);
  // as the owner: the isolation level is set first in the transaction
  const changed = await t.owner
    .transaction((tx) => tx.query('update app.memberships set deactivated_at = now() where user_id = $1', [userId]), {
      enter: 'set transaction isolation level repeatable read',
    })
    .then(
      () => 'committed',
      (error: Error) => error.message,
    );
  assert.match(changed, /READ COMMITTED/);
  assert.ok(await live(token), 'nothing changed');
});

/** Whether an advisory lock of this test's database is held (granted) or waited for (not granted). */
async function advisoryLocks(state: 'granted' | 'not granted'): Promise<boolean> {
  const r = await t.owner.query(
    `select 1 from pg_locks l join pg_database d on d.oid = l.database
      where l.locktype = 'advisory' and d.datname = current_database() and ${state === 'granted' ? 'l.granted' : 'not l.granted'}`,
  );
  return r.rows.length > 0;
}

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the lock');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test.run();
