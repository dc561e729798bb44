/**
 * Cross-tenant isolation: a user of tenant 1 reads, inserts, updates and deletes nothing of tenant 2,
 * in every table, even with the exact ids of tenant 2's rows - for every role whose scope is not
 * `all`. Also: identity cannot be re-asserted mid-transaction (settings, bogus or foreign tokens).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { testData } from '../../src/generated/permissions.testdata.js';
import { insertRowSql, openTestDatabase, probe, uuidFor, type TestDatabase } from '../helpers/db.js';

const test = suite('tenancy');
let t: TestDatabase;

test.before(async () => {
  t = await openTestDatabase();
});
test.after(async () => {
  await t?.close();
});

const scope = (role: string, table: string, action: string) =>
  testData.cells.find((c) => c.role === role && c.table === table && c.action === action)?.scope ?? 'none';

for (const role of testData.roles) {
  for (const table of testData.tables) {
    if (!table.tenantColumn && table.kind !== 'users') continue;
    test(`${role} cannot reach tenant 2 in ${table.name}`, async () => {
      const me = t.f.actor(role, 1);
      const them = t.f.actor(role, 2);
      // the exact key of a tenant-2 row (the fixtures use deterministic ids)
      const foreignWhere =
        table.kind === 'tenants'
          ? `id = '${t.f.tenant2}'`
          : table.kind === 'users'
            ? `id = '${them.id}'`
            : table.primaryKey.length === 1 && table.columnTypes[table.primaryKey[0]!] === 'uuid' && table.name !== 'memberships'
              ? `${table.primaryKey[0]} = '${uuidFor(`${table.name}:${table.ownerColumn ? them.id : null}:${t.f.tenant2}`)}'`
              : `${table.tenantColumn} = '${t.f.tenant2}'`;
      const problems: string[] = [];
      for (const action of ['select', 'update', 'delete'] as const) {
        if (scope(role, table.name, action) === 'all') continue;
        const col = table.tenantColumn ?? 'id';
        const sql =
          action === 'select'
            ? `select 1 from ${table.qualified} where ${foreignWhere}`
            : action === 'update'
              ? `update ${table.qualified} set ${col} = ${col} where ${foreignWhere}`
              : `delete from ${table.qualified} where ${foreignWhere}`;
        const r = await probe(t.db, me, async (tx) => (await tx.query(sql)).rowCount);
        if (r.ok && r.value !== 0) problems.push(`${action} reached ${r.value} row(s) of tenant 2`);
        if (!r.ok && r.code !== '42501') problems.push(`${action}: unexpected ${r.code} ${r.error}`);
      }
      if (scope(role, table.name, 'insert') !== 'all' && table.kind !== 'users') {
        const sql =
          table.kind === 'tenants'
            ? `insert into app.tenants (id, name) values ('${uuidFor('tenant:new')}', 'x')`
            : insertRowSql(table, table.name === 'memberships' ? t.f.loner.id : me.id, t.f.tenant2, t.f, false);
        const r = await probe(t.db, me, async (tx) => (await tx.query(sql)).rowCount);
        if (r.ok) problems.push('insert into tenant 2 succeeded');
        else if (r.code !== '42501') problems.push(`insert: unexpected ${r.code} ${r.error}`);
      }
      // moving a visible row of tenant 1 into tenant 2 is refused too
      if (table.tenantColumn && table.kind === 'tenant-owned' && scope(role, table.name, 'update') !== 'none' && scope(role, table.name, 'update') !== 'all') {
        const owner = table.ownerColumn ? `${table.ownerColumn} = '${me.id}' and ` : '';
        const sql = `update ${table.qualified} set ${table.tenantColumn} = '${t.f.tenant2}' where ${owner}${table.tenantColumn} = '${t.f.tenant1}'`;
        const r = await probe(t.db, me, async (tx) => (await tx.query(sql)).rowCount);
        if (r.ok) problems.push(`moving a row to tenant 2 succeeded (${r.value} row(s))`);
        else if (r.code !== '42501') problems.push(`move: unexpected ${r.code} ${r.error}`);
      }
      assert.equal(problems, [], problems.join('\n'));
    });
  }
}

const role = testData.roles.find((r) => scope(r, 'records', 'select') === 'tenant') ?? testData.roles[0]!;

test('writing app.tenant_id / app.user_id mid-transaction changes nothing', async () => {
  const me = t.f.actor(role, 1);
  const r = await probe(t.db, me, async (tx) => {
    await tx.query(`select set_config('app.tenant_id', $1, true), set_config('app.user_id', $2, true)`, [t.f.tenant2, t.f.actor(role, 2).id]);
    await tx.query(`select set_config('request.jwt.claims', $1, true)`, [JSON.stringify({ sub: t.f.actor(role, 2).id, app_metadata: { tenant_id: t.f.tenant2 } })]);
    const who = await tx.query<{ u: string; t: string }>(`select app.current_user_id() as u, app.current_tenant_id() as t`);
    return who.rows[0];
  });
  assert.ok(r.ok, r.error);
  assert.equal(r.value, { u: me.id, t: t.f.tenant1 });
});

test('a bogus token mid-transaction leaves no identity at all', async () => {
  const r = await probe(t.db, t.f.actor(role, 1), async (tx) => {
    await tx.query(`select set_config('app.session_token', 'guessed-token', true)`);
    const who = await tx.query<{ u: string | null; t: string | null }>(`select app.current_user_id() as u, app.current_tenant_id() as t`);
    const rows = await tx.query(`select 1 from ${'app.tenants'}`);
    return { ...who.rows[0], visible: rows.rowCount };
  });
  assert.ok(r.ok, r.error);
  assert.equal(r.value, { u: null, t: null, visible: 0 });
});

test("GET /api/me's reader returns the caller's own display name, and nothing once the token is not a session", async () => {
  const me = t.f.actor(role, 1);
  const r = await probe(t.db, me, async (tx) => {
    const own = (await tx.query<{ n: string | null }>('select app.current_user_display_name() as n')).rows[0]!.n;
    await tx.query(`select set_config('app.session_token', 'guessed-token', true)`);
    const guessed = (await tx.query<{ n: string | null }>('select app.current_user_display_name() as n')).rows[0]!.n;
    return { own, guessed };
  });
  assert.ok(r.ok, r.error);
  // the fixtures name each user by its key
  assert.equal(r.value, { own: `${role}@1`, guessed: null });
});

test("another live session's token works only for its own role", async () => {
  const other = testData.roles.find((x) => x !== role);
  if (!other) return;
  // a token of tenant 2 under a different request role: the session's db_role must be current_user
  const r = await probe(t.db, t.f.actor(role, 1), async (tx) => {
    await tx.query(`select set_config('app.session_token', $1, true)`, [t.f.actor(other, 2).token]);
    return (await tx.query<{ t: string | null }>(`select app.current_tenant_id() as t`)).rows[0]!.t;
  });
  assert.ok(r.ok, r.error);
  assert.is(r.value, null);
});

test('the request role cannot leave its role or become another login', async () => {
  const me = t.f.actor(role, 1);
  for (const sql of ['set role xms_owner', 'set role postgres', 'set session authorization postgres', 'set session_replication_role = replica']) {
    const r = await probe(t.db, me, (tx) => tx.query(sql));
    assert.ok(!r.ok && r.code === '42501', `${sql}: ${r.ok ? 'allowed' : r.code}`);
  }
  // back to the login role itself: NOINHERIT, it has no table privilege at all
  const r = await probe(t.db, me, async (tx) => {
    await tx.query('reset role');
    return tx.query('select 1 from app.records');
  });
  assert.ok(!r.ok && r.code === '42501', `reset role then read: ${r.ok ? 'allowed' : r.code}`);
});

test.run();
