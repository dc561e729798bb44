/**
 * Audit (invariant I7): every write the matrix allows leaves exactly one audit row per row, with the
 * right actor, tenant, action, old and new values; the log is append-only for every request role,
 * which can neither disable RLS nor a trigger. The audit rows are read back in the same transaction
 * by a role the matrix lets read audit_log (through xms_app, never as superuser).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Queryable } from '../../src/db/client.js';
import { testData } from '../../src/generated/permissions.testdata.js';
import { openTestDatabase, probe, type FixtureUser, type TestDatabase } from '../helpers/db.js';
import { inserts, positions, reaches, updateSql } from '../helpers/db-matrix.js';

const test = suite('audit');
let t: TestDatabase;

test.before(async () => {
  t = await openTestDatabase();
});
test.after(async () => {
  await t?.close();
});

interface AuditRow {
  actor_id: string | null;
  tenant_id: string | null;
  action: string;
  table_name: string;
  row_key: Record<string, unknown> | null;
  old_row: Record<string, unknown> | null;
  new_row: Record<string, unknown> | null;
}

const auditor = testData.cells.find((c) => c.table === 'audit_log' && c.action === 'select' && c.scope !== 'none' && c.scope !== 'own');

/** Reads this transaction's audit rows as the auditor of tenant 1 (switching role and session). */
async function auditRows(tx: Queryable, auditorUser: FixtureUser): Promise<AuditRow[]> {
  await tx.query(`set local role "xms_${auditorUser.role}"`);
  await tx.query(`select set_config('app.session_token', $1, true)`, [auditorUser.token]);
  const r = await tx.query<AuditRow>(
    `select actor_id, tenant_id, action, table_name, row_key, old_row, new_row
       from audit.log where txid = txid_current() order by id`,
  );
  return r.rows;
}

const writes = testData.cells.filter((c) => c.action !== 'select' && c.scope !== 'none');

for (const cell of writes) {
  const table = testData.tables.find((x) => x.name === cell.table)!;
  test(`${cell.role} ${cell.action} ${cell.table} writes one audit row`, async () => {
    if (!auditor) {
      console.log('  (skipped: no matrix role may read audit_log with scope tenant or all)');
      return;
    }
    const me = t.f.actor(cell.role);
    const auditorUser = t.f.actor(auditor.role);
    let sql: string | undefined;
    if (cell.action === 'insert') {
      sql = inserts(table, t.f, me).find((p) => reaches(table, cell.scope, p.position) && p.position !== 'foreign')?.sql;
    } else {
      const where = positions(table, t.f, me).find((p) => reaches(table, cell.scope, p.position) && p.position !== 'foreign')?.where;
      if (where) sql = cell.action === 'update' ? updateSql(table, where) : `delete from ${table.qualified} where ${where}`;
    }
    if (!sql) return; // only a tenant-2 row is reachable: covered by the matrix test
    const r = await probe(t.db, me, async (tx) => {
      const affected = (await tx.query(sql!)).rowCount;
      // cascades may audit other tables too: look at this table's rows
      const rows = (await auditRows(tx, auditorUser)).filter((a) => a.table_name === table.qualified);
      return { affected, rows };
    });
    if (!r.ok && r.code === '23503') return; // a foreign key refused the delete: nothing written
    assert.ok(r.ok, `${sql}: ${r.code} ${r.error}`);
    const { affected, rows } = r.value!;
    assert.is(affected, 1, 'the write touches exactly one fixture row');
    assert.is(rows.length, 1, `one audit row for one written row (got ${rows.length})`);
    const a = rows[0]!;
    assert.is(a.action, cell.action.toUpperCase());
    assert.is(a.actor_id, me.id, 'actor is the session user');
    assert.is(a.tenant_id, t.f.tenant1, 'tenant is the row tenant');
    if (cell.action === 'insert') {
      assert.is(a.old_row, null);
      assert.ok(a.new_row, 'new row recorded');
    } else if (cell.action === 'update') {
      assert.ok(a.old_row && a.new_row, 'old and new rows recorded');
      assert.equal(a.row_key, Object.fromEntries(table.primaryKey.map((k) => [k, a.new_row![k]])));
    } else {
      assert.ok(a.old_row, 'old row recorded');
      assert.is(a.new_row, null);
    }
  });
}

test('an update of several rows is audited row by row with old and new values', async () => {
  const records = testData.tables.find((x) => x.name === 'records');
  const cell = testData.cells.find((c) => c.table === 'records' && c.action === 'update' && c.scope === 'tenant');
  if (!records || !cell || !auditor) return;
  const me = t.f.actor(cell.role);
  const r = await probe(t.db, me, async (tx) => {
    const n = (await tx.query(`update app.records set title = title || ' (edited)' where tenant_id = $1`, [t.f.tenant1])).rowCount;
    const rows = (await auditRows(tx, t.f.actor(auditor.role))).filter((a) => a.table_name === 'app.records');
    return { n, rows };
  });
  assert.ok(r.ok, r.error);
  assert.ok(r.value!.n > 1);
  assert.is(r.value!.rows.length, r.value!.n);
  for (const a of r.value!.rows) {
    assert.is(a.new_row!.title, `${a.old_row!.title} (edited)`);
    assert.is(a.row_key!.id, a.old_row!.id);
  }
});

test('the audit trigger keeps one generic plan, which pairs a one-row and then a many-row update alike', async () => {
  // 20240101000398_xms_audit_generic_plan.sql: without the setting, bulk statements on a connection
  // make the trigger plan its log INSERT again for every later write there. The plan it keeps is built
  // on its first run (here a one-row update) and must serve a many-row update as well.
  const records = testData.tables.find((x) => x.name === 'records');
  const cell = testData.cells.find((c) => c.table === 'records' && c.action === 'update' && c.scope === 'tenant');
  if (!records || !cell || !auditor) return;
  const me = t.f.actor(cell.role);
  const r = await probe(t.db, me, async (tx) => {
    const config = (await tx.query<{ config: string[] | null }>(`select proconfig as config from pg_catalog.pg_proc where oid = 'audit.log_changes()'::regprocedure`)).rows[0]!.config;
    const one = (await tx.query(`update app.records set title = title || ' (one)' where id = (select id from app.records where tenant_id = $1 order by id limit 1)`, [t.f.tenant1])).rowCount;
    const many = (await tx.query(`update app.records set title = title || ' (all)' where tenant_id = $1`, [t.f.tenant1])).rowCount;
    const rows = (await auditRows(tx, t.f.actor(auditor.role))).filter((a) => a.table_name === 'app.records');
    return { config, one, many, rows };
  });
  assert.ok(r.ok, r.error);
  const { config, one, many, rows } = r.value!;
  assert.ok(config?.includes('plan_cache_mode=force_generic_plan'), `audit.log_changes() settings: ${config?.join(', ')}`);
  assert.is(one, 1);
  assert.ok(many! > 1, 'the tenant has several records');
  assert.is(rows.length, one! + many!, 'one audit row per updated row');
  for (const a of rows.slice(1)) {
    assert.is(a.new_row!.title, `${a.old_row!.title} (all)`, 'old and new rows paired by key');
    assert.is(a.row_key!.id, a.new_row!.id);
  }
});

test('audit.log has one index, the one the audit view reads (tenant, newest id first)', async () => {
  // every index is paid by each audited row: none over the jsonb row key, none nobody reads (the ids
  // come from the identity sequence alone: no primary key index)
  const me = t.f.actor(testData.roles[0]!);
  const r = await probe(t.db, me, async (tx) =>
    (await tx.query<{ def: string }>(
      `select regexp_replace(indexdef, '^.* USING ', '') as def from pg_indexes
        where schemaname = 'audit' and tablename = 'log' order by 1`,
    )).rows.map((x) => x.def),
  );
  assert.ok(r.ok, r.error);
  assert.equal(r.value, ['btree (tenant_id, id)']);
});

for (const role of testData.roles) {
  test(`${role} cannot alter the audit log, RLS or triggers`, async () => {
    const me = t.f.actor(role);
    const attempts = [
      `update audit.log set action = 'DELETE'`,
      `delete from audit.log`,
      `truncate audit.log`,
      `insert into audit.log (action, table_name) values ('INSERT', 'app.records')`,
      `alter table audit.log disable row level security`,
      `drop table audit.log`,
      ...testData.tables
        .filter((x) => x.kind !== 'audit_log')
        .flatMap((x) => [
          `alter table ${x.qualified} disable row level security`,
          `alter table ${x.qualified} no force row level security`,
          `alter table ${x.qualified} disable trigger xms_audit_delete`,
          `alter table ${x.qualified} disable trigger all`,
          // a policy that exists (no IF EXISTS: dropping a missing one would prove nothing)
          ...testData.cells
            .filter((cell) => cell.table === x.name && cell.scope !== 'none')
            .slice(0, 1)
            .map((cell) => `drop policy xms_${x.name}_${cell.action}_${cell.role} on ${x.qualified}`),
        ]),
      `select audit.log_changes()`,
      `select audit.enable_tracking('app.records')`,
      `set session_replication_role = replica`,
    ];
    const allowed: string[] = [];
    for (const sql of attempts) {
      const r = await probe(t.db, me, (tx) => tx.query(sql));
      if (r.ok || r.code !== '42501') allowed.push(`${sql} -> ${r.ok ? 'allowed' : `${r.code} ${r.error}`}`);
    }
    assert.equal(allowed, [], allowed.join('\n'));
  });
}

test.run();
