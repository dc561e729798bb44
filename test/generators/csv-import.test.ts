// xms add csv-import: into an app without the feature (module, ledger, dependencies, matrix) and for
// generated tables (natural key or content hash); idempotence; refusals; --dry-run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { add, assertRefused, assertSnapshot, assertUnchanged, findFile, fingerprint, scaffold, type TempApp } from './helpers.js';

let app: TempApp;
let full: TempApp;
test.before(async () => {
  app = await scaffold(['admin']);
  full = await scaffold(['admin', 'csv-import']);
  await add(app.dir, 'table', ['products', '--columns', 'sku:text:unique,qty:int,notes:text?']);
  await add(app.dir, 'table', ['notes', '--columns', 'title:text,body:text?,pinned:boolean']);
});
test.after(() => {
  app?.cleanup();
  full?.cleanup();
});

test('--dry-run writes nothing', async () => {
  const before = fingerprint(app.dir);
  const lines = await add(app.dir, 'csv-import', ['products', '--key', 'sku', '--dry-run']);
  assert.match(lines[0]!, /would change \d+ files \(dry run, nothing written\)/);
  assertUnchanged(before, app.dir, 'dry run');
});

test('natural key: the module, the ledger, dependencies, the matrix entry, the table spec and its test', async () => {
  await add(app.dir, 'csv-import', ['products', '--key', 'sku']);
  for (const path of ['src/imports/csv-import.ts', 'src/imports/export.ts', 'src/imports/validate.ts', 'src/routes/api/imports.ts', 'test/helpers/app.ts']) {
    assert.ok(existsSync(join(app.dir, path)), path);
  }
  assert.match(readFileSync(join(app.dir, 'src/routes/api/imports.ts'), 'utf8'), /app\.post\('\/imports\/:table'/, 'the base stub is replaced');
  findFile(app.dir, /\d{14}_xms_imports\.sql$/);
  assertSnapshot('csv-import', app.dir, findFile(app.dir, /_xms_import_products\.sql$/));
  assertSnapshot('csv-import', app.dir, 'src/imports/tables/products.ts');
  assertSnapshot('csv-import', app.dir, 'test/imports/products.test.ts');
  assert.match(readFileSync(join(app.dir, 'src/imports/tables/index.ts'), 'utf8'), /import \{ products \} from '\.\/products\.js';[\s\S]*  products,\n  \/\/ xms:import-tables/);
  const pkg = JSON.parse(readFileSync(join(app.dir, 'package.json'), 'utf8'));
  assert.ok(pkg.dependencies['@fastify/multipart'] && pkg.dependencies['csv-parse']);
  const matrix = parse(readFileSync(join(app.dir, 'permissions.yml'), 'utf8'));
  assert.equal(matrix.tables.imports, { admin: { select: 'tenant', insert: 'tenant' }, member: { select: 'tenant', insert: 'own' } });
  assert.match(readFileSync(join(app.dir, 'src/generated/permissions.ts'), 'utf8'), /imports: \{ select: 'tenant', insert: 'tenant'/);
});

test('content hash (no --key): a generated content_hash column, unique per tenant', async () => {
  await add(app.dir, 'csv-import', ['notes']);
  const path = findFile(app.dir, /_xms_import_notes\.sql$/);
  assertSnapshot('csv-import', app.dir, path);
  const sql = readFileSync(join(app.dir, path), 'utf8');
  assert.ok(sql.includes('create or replace function app.notes_content_hash(title text, body text, pinned boolean)'));
  assert.ok(sql.includes("pg_catalog.convert_to(pg_catalog.jsonb_build_array($1, $2, $3)::text, 'UTF8')"));
  assert.ok(sql.includes('generated always as (app.notes_content_hash(title, body, pinned)) stored;'));
  assert.not.match(sql, /trigger/);
  assert.ok(sql.includes('create unique index if not exists notes_tenant_id_content_hash_key on app.notes (tenant_id, content_hash);'));
  assert.match(readFileSync(join(app.dir, 'src/imports/tables/notes.ts'), 'utf8'), /key: null,\n  owner: 'owner_id',/);
});

test('second runs change nothing', async () => {
  const before = fingerprint(app.dir);
  assert.equal(await add(app.dir, 'csv-import', ['products', '--key', 'sku']), ['csv-import: nothing to change (already applied).']);
  assert.equal(await add(app.dir, 'csv-import', ['notes']), ['csv-import: nothing to change (already applied).']);
  assert.equal(await add(app.dir, 'csv-import', ['records']), ['csv-import: nothing to change (already applied).']);
  assertUnchanged(before, app.dir, 'second runs');
});

test('an app scaffolded with the feature needs nothing for records', async () => {
  const before = fingerprint(full.dir);
  assert.equal(await add(full.dir, 'csv-import', ['records']), ['csv-import: nothing to change (already applied).']);
  assertUnchanged(before, full.dir, 'records on the full preset');
});

test('the ledger entry names every role of the matrix (a team matrix with its own roles stays valid)', async () => {
  const team = await scaffold(['admin']);
  try {
    const path = join(team.dir, 'permissions.yml');
    writeFileSync(path, readFileSync(path, 'utf8').replace(/^roles:\n/m, 'roles:\n  viewer: Reads the tenant\'s records\n'));
    await add(team.dir, 'csv-import', ['records']);
    const matrix = parse(readFileSync(path, 'utf8'));
    assert.equal(matrix.tables.imports.viewer, { select: 'tenant', insert: 'own' });
    assert.equal(matrix.tables.imports.admin, { select: 'tenant', insert: 'tenant' });
  } finally {
    team.cleanup();
  }
});

test('bad input: one line, nothing written', async () => {
  await assertRefused(app.dir, 'csv-import', ['products'], /already imports by natural key \(sku\); refusing to change it to content hash/);
  await assertRefused(app.dir, 'csv-import', ['nope'], /--table: no table app\.nope/);
  await assertRefused(app.dir, 'csv-import', ['Products'], /--table: invalid table name "Products"/);
  await assertRefused(full.dir, 'csv-import', ['records', '--key', 'title'], /--key: app\.records already imports/);
  await assertRefused(full.dir, 'csv-import', ['imports'], /the import ledger itself/);
  await add(full.dir, 'table', ['items', '--columns', 'code:text,label:text?']);
  await assertRefused(full.dir, 'csv-import', ['items', '--key', 'missing'], /--key: app\.items has no column "missing"/);
  await assertRefused(full.dir, 'csv-import', ['items', '--key', 'label'], /--key: items\.label is nullable/);
  await assertRefused(full.dir, 'csv-import', ['items', '--key', 'select'], /--key: invalid key column "select": it is an SQL keyword/);
  await assertRefused(full.dir, 'csv-import', ['items', '--key', 'code,code'], /--key: a column is named twice/);
  await assertRefused(full.dir, 'csv-import', ['tenants'], /needs the columns id, tenant_id and created_at/);
});

test.run();
