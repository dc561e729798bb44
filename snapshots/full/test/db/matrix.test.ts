/**
 * Every cell of permissions.yml, for every role: the allowed rows are reachable, the others are
 * not, and a denied action fails. Data-driven from src/generated/permissions.testdata.ts, so a new
 * table or role is covered as soon as the matrix is compiled. Runs as xms_app + request roles.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Queryable } from '../../src/db/client.js';
import { testData, type Cell } from '../../src/generated/permissions.testdata.js';
import { openTestDatabase, probe, type TestDatabase } from '../helpers/db.js';
import { inserts, positions, reaches, updateSql } from '../helpers/db-matrix.js';

const test = suite('permission matrix');
let t: TestDatabase;

test.before(async () => {
  t = await openTestDatabase();
});
test.after(async () => {
  await t?.close();
});

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
