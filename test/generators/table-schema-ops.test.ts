// xms add table knows the schema of the migration it writes without loading the SQL parser
// (generators/table: tableMigrationOps). Proven here against the parser itself: the built-in
// template, rendered for every column type, nullable or not, unique or not, reads exactly as the
// generator says. And the knowledge is bound to the text: an edited migration is parsed again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableMigrationOps } from '../../generators/table/index.js';
import { COLUMN_TYPES, parseColumns } from '../../generators/kit/spec.js';
import { tableContext } from '../../generators/kit/table-api.js';
import { renderTemplate } from '../../generators/kit/templates.js';
import { parseSchemaOps, readSchemaFromFiles, rememberSchemaOps } from '../../lib/matrix/schema.js';

const render = (table: string, spec: string) => renderTemplate('table', 'migration.sql.hbs', tableContext(table, parseColumns(spec)));

test('every column type, nullable and unique: the generator reads its migration as the parser does', async () => {
  const specs: string[] = [];
  for (const type of Object.keys(COLUMN_TYPES)) {
    specs.push(`a_${type}:${type}`, `b_${type}:${type}?`, `c_${type}:${type}:unique`, `d_${type}:${type}:unique?`);
  }
  specs.push(specs.join(','), 'label:text', 'note:text?,qty:int,sku:text:unique,price:numeric?,due:date,at:timestamptz?,ok:boolean,ref:uuid:unique,big:bigint?');
  for (const spec of specs) {
    const sql = render('widgets', spec);
    assert.equal(tableMigrationOps('widgets', parseColumns(spec)), await parseSchemaOps(sql), spec);
  }
  // type aliases are normalised before rendering
  assert.equal(tableMigrationOps('t2', parseColumns('n:integer,b:bool,d:decimal?')), await parseSchemaOps(render('t2', 'n:integer,b:bool,d:decimal?')));
});

test('known operations are bound to their text: an edited migration is parsed again, in this process and from the cache', async () => {
  const root = mkdtempSync(join(tmpdir(), 'xms-known-ops-'));
  try {
    const cacheDir = join(root, 'cache');
    const sql = render('gadgets', 'label:text');
    rememberSchemaOps(sql, tableMigrationOps('gadgets', parseColumns('label:text')), cacheDir);
    assert.is(readdirSync(cacheDir).length, 1, 'the known operations are kept in the cache folder');
    const columns = async (text: string) =>
      (await readSchemaFromFiles([{ file: 'm.sql', sql: text }], { cacheDir })).tables.find((t) => t.name === 'gadgets')?.columns.map((c) => `${c.name}${c.notNull ? '!' : ''}`);
    assert.equal(await columns(sql), ['id!', 'tenant_id!', 'owner_id!', 'label!', 'created_at!', 'updated_at!']);
    // the user edits the file before applying it: the label becomes nullable and a column is added
    const edited = sql.replace('label       text not null', 'label       text').replace('  created_at', '  extra int,\n  created_at');
    assert.is.not(edited, sql);
    assert.equal(await columns(edited), ['id!', 'tenant_id!', 'owner_id!', 'label', 'extra', 'created_at!', 'updated_at!']);
    assert.is(readdirSync(cacheDir).length, 2, 'the edited text has its own entry');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('xms add table in an app with node_modules keeps its migration and the new permissions migration in the cache, and never loads the parser', async () => {
  const { scaffold } = await import('./helpers.js');
  const { XMS_BIN } = await import('../helpers/cli.js');
  const { runRecordingModules } = await import('../helpers/loaded-modules.js');
  const app = await scaffold(['admin']);
  try {
    mkdirSync(join(app.dir, 'node_modules'));
    for (const name of ['gizmos', 'doohickeys']) {
      const r = runRecordingModules(XMS_BIN, ['add', 'table', name, '--columns', 'label:text,qty:int?', '--cwd', app.dir]);
      assert.is(r.status, 0, r.stderr);
      assert.ok(r.loaded.some((path) => path.includes('/generators/table/')), 'the recorder works: the table generator ran');
      assert.not.ok(r.loaded.some((path) => path.includes('/libpg-query/')), `xms add table ${name} loaded the SQL parser`);
    }
  } finally {
    app.cleanup();
  }
});

test.run();
