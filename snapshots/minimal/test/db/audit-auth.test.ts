/**
 * Audit of the auth tables (invariant I7): credentials, sessions and reset tokens are audited like
 * every table, their secret columns (permissions.yml audit.redact) are recorded as "[redacted]", the
 * idle-expiry slide of a session writes no audit row, and every row names its actor - the auth
 * subsystem (xms_auth) names it in app.actor_id, which a request role cannot forge.
 * Writes run as xms_app switched to xms_auth or a request role; the audit log is read as the owner.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Queryable } from '../../src/db/client.js';
import { nameAuditActor, withAuthTransaction, withRequestTransaction } from '../../src/db/request.js';
import { audit } from '../../src/generated/permissions.js';
import { testData } from '../../src/generated/permissions.testdata.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';

const test = suite('audit of the auth tables');
let t: TestDatabase;

test.before(async () => {
  t = await openTestDatabase({ shared: true });
});
test.after(async () => {
  await t?.close();
});

interface AuditRow {
  id: string;
  actor_id: string | null;
  db_role: string | null;
  action: string;
  table_name: string;
  row_key: Record<string, unknown> | null;
  old_row: Record<string, unknown> | null;
  new_row: Record<string, unknown> | null;
}

async function mark(): Promise<string> {
  return (await t.owner.query<{ id: string }>('select coalesce(max(id), 0)::text as id from audit.log')).rows[0]!.id;
}

/** Audit rows written since `since` (read as the owner: request roles see only their tenant's rows). */
async function rowsSince(since: string, table?: string): Promise<AuditRow[]> {
  const r = await t.owner.query<AuditRow>(
    `select id::text, actor_id, db_role, action, table_name, row_key, old_row, new_row from audit.log
      where id > $1::bigint and ($2::text is null or table_name = $2) order by id`,
    [since, table ?? null],
  );
  return r.rows;
}

/** A new user with a membership in tenant 1 and a verified address, as the auth subsystem creates one (actor: the user). */
async function newAccount(): Promise<{ userId: string; email: string; passwordHash: string }> {
  const userId = randomUUID();
  const email = `audit-${randomBytes(4).toString('hex')}@example.test`;
  const passwordHash = `$argon2id$v=19$m=19456,t=2,p=1$${randomBytes(16).toString('base64')}`;
  await withAuthTransaction(
    t.db,
    async (tx) => {
      await tx.query('insert into app.users (id, display_name) values ($1, $2)', [userId, 'audited']);
      await tx.query(`insert into app.memberships (user_id, tenant_id, role) values ($1, $2, $3)`, [userId, t.f.tenant1, testData.roles[0]]);
      await tx.query('insert into app_private.credentials (user_id, email, password_hash, email_verified_at) values ($1, $2, $3, now())', [userId, email, passwordHash]);
    },
    { actorId: userId },
  );
  return { userId, email, passwordHash };
}

const redacted = (table: string) => audit.redact[table] ?? [];

test('permissions.yml declares the secrets of the auth tables and exempts only with a reason', () => {
  assert.ok(redacted('app_private.credentials').includes('password_hash'));
  assert.ok(redacted('app_private.sessions').includes('token_hash'));
  assert.ok(redacted('app_private.password_resets').includes('token_hash'));
  assert.ok(redacted('app_private.email_verifications').includes('token_hash'));
  for (const [table, reason] of Object.entries(audit.exempt)) assert.ok(reason.trim().length > 0, `${table} has a reason`);
});

test('sign-up as the auth subsystem: every row names the new user, the password hash is redacted', async () => {
  const since = await mark();
  const { userId, passwordHash } = await newAccount();
  const rows = await rowsSince(since);
  assert.equal(rows.map((r) => r.table_name).sort(), ['app.memberships', 'app.users', 'app_private.credentials']);
  for (const r of rows) {
    assert.is(r.actor_id, userId, `${r.table_name}: the actor is the new user`);
    assert.is(r.db_role, 'xms_auth');
  }
  const credentials = rows.find((r) => r.table_name === 'app_private.credentials')!;
  assert.is(credentials.new_row!.password_hash, '[redacted]');
  assert.not.ok(JSON.stringify(rows).includes(passwordHash), 'the hash is nowhere in the log');

  // a password change: old and new hashes both redacted
  const newHash = `$argon2id$v=19$m=19456,t=2,p=1$${randomBytes(16).toString('base64')}`;
  const before = await mark();
  await withAuthTransaction(t.db, (tx) => tx.query('update app_private.credentials set password_hash = $2 where user_id = $1', [userId, newHash]), { actorId: userId });
  const [change] = await rowsSince(before, 'app_private.credentials');
  assert.ok(change, 'the change is audited');
  assert.is(change!.old_row!.password_hash, '[redacted]');
  assert.is(change!.new_row!.password_hash, '[redacted]');
  assert.not.ok(JSON.stringify(change).includes(newHash) || JSON.stringify(change).includes(passwordHash));
});

test('sessions: creation and revocation are audited with the token hash redacted; the idle slide is not', async () => {
  const { userId } = await newAccount();
  const token = randomBytes(32).toString('base64url');
  const hash = createHash('sha256').update(token, 'utf8').digest();
  const hex = hash.toString('hex');
  const since = await mark();
  await withAuthTransaction(
    t.db,
    (tx) =>
      tx.query(
        `insert into app_private.sessions (token_hash, user_id, tenant_id, db_role, idle_expires_at, expires_at)
         values ($1, $2, $3, $4, now() + interval '30 minutes', now() + interval '12 hours')`,
        [hash, userId, t.f.tenant1, `xms_${testData.roles[0]}`],
      ),
    { actorId: userId },
  );
  // the request path's idle-expiry slide (as src/db/request.ts openSessionRequest does, once a minute)
  for (let i = 0; i < 3; i++) {
    await withAuthTransaction(t.db, (tx) =>
      tx.query(
        `update app_private.sessions set idle_expires_at = least(expires_at, now() + interval '30 minutes'), last_seen_at = now()
          where token_hash = $1 and revoked_at is null`,
        [hash],
      ),
    );
  }
  await withAuthTransaction(t.db, (tx) => tx.query('update app_private.sessions set revoked_at = now() where token_hash = $1', [hash]), { actorId: userId });
  const rows = await rowsSince(since, 'app_private.sessions');
  assert.equal(rows.map((r) => r.action), ['INSERT', 'UPDATE'], 'creation and revocation only: no row per request');
  for (const r of rows) {
    assert.is(r.actor_id, userId);
    assert.equal(r.row_key, { token_hash: '[redacted]' });
    for (const row of [r.old_row, r.new_row]) if (row) assert.is(row.token_hash, '[redacted]');
  }
  assert.ok(rows[1]!.new_row!.revoked_at, 'the revocation is what the update records');
  assert.not.ok(JSON.stringify(rows).includes(hex), 'the token hash is nowhere in the log');
});

test('reset tokens: the hash is redacted in the log', async () => {
  const { userId, email } = await newAccount();
  const hash = randomBytes(32);
  await t.owner.query(
    `insert into app_private.password_resets (token_hash, user_id, tenant_id, email) values ($1, $2, $3, $4)`,
    [hash, userId, t.f.tenant1, email],
  );
  const since = await mark();
  await withAuthTransaction(t.db, async (tx) => {
    await nameAuditActor(tx, userId);
    await tx.query('update app_private.password_resets set used_at = now() where token_hash = $1', [hash]);
  });
  const [row] = await rowsSince(since, 'app_private.password_resets');
  assert.ok(row, 'redeeming a token is audited');
  assert.is(row!.actor_id, userId);
  assert.is(row!.old_row!.token_hash, '[redacted]');
  assert.not.ok(JSON.stringify(row).includes(hash.toString('hex')));
});

test('a request role cannot name another actor (app.actor_id counts only for xms_auth)', async () => {
  const cell = testData.cells.find((c) => c.table === 'records' && c.action === 'insert' && c.scope !== 'none');
  if (!cell) return;
  const me = t.f.actor(cell.role);
  const victim = t.f.actor(cell.role, 2);
  const since = await mark();
  await withRequestTransaction(t.db, { sessionToken: me.token, dbRole: cell.role }, async (tx: Queryable) => {
    await tx.query(`select set_config('app.actor_id', $1, true)`, [victim.id]);
    await tx.query(`insert into app.records (title) values ('forged actor?')`);
  });
  const [row] = await rowsSince(since, 'app.records');
  assert.ok(row, 'the insert is audited');
  assert.is(row!.actor_id, me.id, 'the actor is the session user, not the forged one');
  assert.is(row!.db_role, `xms_${cell.role}`);
});

test.run();
