/**
 * Every cell of permissions.yml, for every role: the allowed rows are reachable, the others are
 * not, and a denied action fails. Data-driven from src/generated/permissions.testdata.ts, so a new
 * table or role is covered as soon as the matrix is compiled. Runs as xms_app + request roles.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Queryable } from '../../src/db/client.js';
import { testData, type Cell, type TableModel } from '../../src/generated/permissions.testdata.js';
import type { Scope } from '../../src/generated/permissions.js';
import { insertRowSql, openTestDatabase, probe, type Fixtures, type FixtureUser, type TestDatabase } from '../helpers/db.js';

const test = suite('permission matrix');
let t: TestDatabase;

test.before(async () => {
  t = await openTestDatabase();
});
test.after(async () => {
  await t?.close();
});

type Position = 'own' | 'peer' | 'foreign';

/** Which positions a scope reaches. */
function reaches(table: TableModel, scope: Scope, position: Position): boolean {
  if (scope === 'all') return true;
  if (scope === 'none') return false;
  if (scope === 'tenant') return position !== 'foreign';
  return position === 'own';
}

/** The positions a table has, with the SQL filter selecting that fixture row. */
function positions(table: TableModel, f: Fixtures, actor: FixtureUser): { position: Position; where: string }[] {
  const foreignUser = f.actor(actor.role!, 2);
  const q = (v: string) => `'${v}'`;
  if (table.kind === 'tenants') {
    return [
      { position: 'peer', where: `id = ${q(f.tenant1)}` },
      { position: 'foreign', where: `id = ${q(f.tenant2)}` },
    ];
  }
  if (table.kind === 'users') {
    return [
      { position: 'own', where: `id = ${q(actor.id)}` },
      { position: 'peer', where: `id = ${q(f.peer.id)}` },
      { position: 'foreign', where: `id = ${q(foreignUser.id)}` },
    ];
  }
  const at = (owner: FixtureUser, tenant: string) =>
    [table.ownerColumn ? `${table.ownerColumn} = ${q(owner.id)}` : null, table.tenantColumn ? `${table.tenantColumn} = ${q(tenant)}` : null]
      .filter(Boolean)
      .join(' and ') || 'true';
  if (!table.ownerColumn) {
    return table.tenantColumn
      ? [
          { position: 'peer', where: at(actor, f.tenant1) },
          { position: 'foreign', where: at(actor, f.tenant2) },
        ]
      : [{ position: 'foreign', where: 'true' }];
  }
  return [
    { position: 'own', where: at(actor, f.tenant1) },
    { position: 'peer', where: at(f.peer, f.tenant1) },
    { position: 'foreign', where: at(foreignUser, f.tenant2) },
  ];
}

/** New rows to insert per position (skipping positions whose row cannot be new). */
function inserts(table: TableModel, f: Fixtures, actor: FixtureUser): { position: Position; sql: string }[] {
  const foreignUser = f.actor(actor.role!, 2);
  if (table.kind === 'tenants') return [{ position: 'foreign', sql: `insert into app.tenants (name) values ('new tenant')` }];
  if (table.kind === 'users') return [{ position: 'foreign', sql: `insert into app.users (display_name) values ('new user')` }];
  if (table.name === 'memberships') {
    // the loner belongs nowhere yet: a new membership of tenant 1 / tenant 2
    return [
      { position: 'peer', sql: insertRowSql(table, f.loner.id, f.tenant1, f, false) },
      { position: 'foreign', sql: insertRowSql(table, f.loner.id, f.tenant2, f, false) },
    ];
  }
  if (!table.ownerColumn && !table.tenantColumn) return [{ position: 'foreign', sql: insertRowSql(table, null, null, f, false) }];
  if (!table.ownerColumn) {
    return [
      { position: 'peer', sql: insertRowSql(table, null, f.tenant1, f, false) },
      { position: 'foreign', sql: insertRowSql(table, null, f.tenant2, f, false) },
    ];
  }
  return [
    { position: 'own', sql: insertRowSql(table, actor.id, f.tenant1, f, false) },
    { position: 'peer', sql: insertRowSql(table, f.peer.id, f.tenant1, f, false) },
    { position: 'foreign', sql: insertRowSql(table, foreignUser.id, f.tenant2, f, false) },
  ];
}

function updateSql(table: TableModel, where: string): string {
  const col = table.tenantColumn ?? table.ownerColumn ?? table.primaryKey[0]!;
  return `update ${table.qualified} set ${col} = ${col} where ${where}`;
}

async function count(tx: Queryable, sql: string): Promise<number> {
  return (await tx.query(sql)).rowCount;
}

const tables = new Map(testData.tables.map((x) => [x.name, x]));

function checkCell(cell: Cell) {
  test(`${cell.role} ${cell.action} ${cell.table}: ${cell.scope}`, async () => {
    const table = tables.get(cell.table)!;
    const actor = t.f.actor(cell.role);
    const problems: string[] = [];

    if (cell.scope === 'none') {
      const sql =
        cell.action === 'select'
          ? `select 1 from ${table.qualified} limit 1`
          : cell.action === 'insert'
            ? (inserts(table, t.f, actor)[0]?.sql ?? '')
            : cell.action === 'update'
              ? updateSql(table, 'true')
              : `delete from ${table.qualified}`;
      const r = await probe(t.db, actor, (tx) => count(tx, sql));
      assert.ok(!r.ok && r.code === '42501', `expected permission denied, got ${r.ok ? `${r.value} row(s)` : `${r.code} ${r.error}`}`);
      return;
    }

    if (cell.action === 'insert') {
      for (const { position, sql } of inserts(table, t.f, actor)) {
        const r = await probe(t.db, actor, (tx) => count(tx, sql));
        const want = reaches(table, cell.scope, position);
        if (want && !(r.ok && r.value === 1)) problems.push(`insert ${position}: expected success, got ${r.code} ${r.error}`);
        if (!want && !(!r.ok && r.code === '42501')) problems.push(`insert ${position}: expected an RLS violation, got ${r.ok ? 'success' : `${r.code} ${r.error}`}`);
      }
    } else {
      for (const { position, where } of positions(table, t.f, actor)) {
        const sql =
          cell.action === 'select'
            ? `select 1 from ${table.qualified} where ${where}`
            : cell.action === 'update'
              ? updateSql(table, where)
              : `delete from ${table.qualified} where ${where}`;
        const r = await probe(t.db, actor, (tx) => count(tx, sql));
        const want = reaches(table, cell.scope, position);
        // a delete the policy allows may still be refused by a foreign key: RLS let it through
        const fkBlocked = !r.ok && r.code === '23503';
        if (want && !((r.ok && r.value! >= 1) || (cell.action === 'delete' && fkBlocked))) {
          problems.push(`${cell.action} ${position}: expected the row, got ${r.ok ? `${r.value} row(s)` : `${r.code} ${r.error}`}`);
        }
        if (!want && !(r.ok && r.value === 0)) {
          problems.push(`${cell.action} ${position}: expected no row, got ${r.ok ? `${r.value} row(s)` : `${r.code} ${r.error}`}`);
        }
      }
    }
    assert.equal(problems, [], problems.join('\n'));
  });
}

for (const cell of testData.cells) checkCell(cell);

test('anonymous requests reach no table', async () => {
  for (const table of testData.tables) {
    const r = await probe(t.db, null, (tx) => count(tx, `select 1 from ${table.qualified} limit 1`));
    assert.ok(!r.ok && r.code === '42501', `${table.qualified}: anon got ${r.ok ? 'rows' : r.code}`);
  }
});

test.run();
