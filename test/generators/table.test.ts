// xms add table: what it writes, idempotence, refusals (one line, nothing written), --dry-run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { add, assertRefused, assertSnapshot, assertUnchanged, findFile, fingerprint, scaffold, type TempApp } from './helpers.js';
import { typeboxSchema } from '../../generators/kit/table-api.js';
import { COLUMN_TYPES } from '../../generators/kit/spec.js';

let app: TempApp;
test.before(async () => {
  app = await scaffold(['admin']);
});
test.after(() => app?.cleanup());

const COLUMNS = 'sku:text:unique,qty:int,notes:text?,price:numeric,active:boolean,due:date?';

test('each column type becomes the TypeBox schema of its JSON schema (same keywords); a nullable one a type list with null', () => {
  assert.is(typeboxSchema(COLUMN_TYPES.text!.json, false), 'Type.String({ maxLength: 10000 })');
  assert.is(typeboxSchema(COLUMN_TYPES.int!.json, false), 'Type.Integer({ minimum: -2147483648, maximum: 2147483647 })');
  assert.is(typeboxSchema(COLUMN_TYPES.boolean!.json, false), 'Type.Boolean()');
  assert.is(typeboxSchema(COLUMN_TYPES.numeric!.json, true), "Nullable(Type.String({ pattern: '^-?[0-9]{1,30}(\\\\.[0-9]{1,30})?$' }))");
  assert.is(typeboxSchema(COLUMN_TYPES.uuid!.json, true), "Nullable(Type.String({ format: 'uuid' }))");
  for (const [name, type] of Object.entries(COLUMN_TYPES)) {
    assert.match(typeboxSchema(type.json, false), /^Type\.(String|Integer|Boolean)\(/, name);
  }
});

test('--dry-run lists the changes and writes nothing', async () => {
  const before = fingerprint(app.dir);
  const lines = await add(app.dir, 'table', ['products', '--columns', COLUMNS, '--dry-run']);
  assert.match(lines[0]!, new RegExp(`would change ${lines.length - 1} files \\(dry run, nothing written\\)`));
  assert.ok(lines.length - 1 >= 4, lines.join('\n'));
  assert.ok(lines.some((l) => /create supabase\/migrations\/\d{14}_xms_table_products\.sql/.test(l)));
  assert.ok(lines.some((l) => l.includes('update permissions.yml')));
  assertUnchanged(before, app.dir, 'dry run');
});

test('writes the migration, routes, tests, the route registration and the matrix entry; recompiles the matrix', async () => {
  const lines = await add(app.dir, 'table', ['products', '--columns', COLUMNS]);
  assert.ok(lines.some((l) => /compiled supabase\/migrations\/\d{14}_xms_permissions\.sql/.test(l)), lines.join('\n'));
  const migration = findFile(app.dir, /_xms_table_products\.sql$/);
  assertSnapshot('table', app.dir, migration);
  assertSnapshot('table', app.dir, 'src/routes/api/products.ts');
  assertSnapshot('table', app.dir, 'test/tables/products.test.ts');
  const sql = readFileSync(join(app.dir, migration), 'utf8');
  for (const expected of [
    'tenant_id   uuid not null default app.current_tenant_id() references app.tenants (id) on delete cascade',
    'owner_id    uuid not null default app.current_user_id() references app.users (id)',
    'alter table app.products enable row level security;',
    'alter table app.products force row level security;',
    "select audit.enable_tracking('app.products');",
    'create index if not exists products_tenant_id_owner_id_idx on app.products (tenant_id, owner_id);',
    'create unique index if not exists products_tenant_id_sku_key on app.products (tenant_id, sku);',
  ]) assert.ok(sql.includes(expected), `migration has: ${expected}`);
  const index = readFileSync(join(app.dir, 'src/routes/api/index.ts'), 'utf8');
  assert.match(index, /import \{ productsRoutes \} from '\.\/products\.js';\n\/\/ xms:api-imports/);
  assert.match(index, /await app\.register\(productsRoutes\);\n\s*\/\/ xms:api-routes/);
  const matrix = parse(readFileSync(join(app.dir, 'permissions.yml'), 'utf8'));
  assert.equal(matrix.tables.products, { admin: 'tenant' });
  const guard = readFileSync(join(app.dir, 'src/generated/permissions.ts'), 'utf8');
  assert.match(guard, /products: \{ select: 'tenant', insert: 'tenant', update: 'tenant', delete: 'tenant' \}/);
  assert.match(guard, /products: \{ select: 'none', insert: 'none', update: 'none', delete: 'none' \}/);
  const testData = readFileSync(join(app.dir, 'src/generated/permissions.testdata.ts'), 'utf8');
  assert.match(testData, /"qualified": "app\.products"/, 'the data-driven matrix tests cover the new table');
});

test('the second run changes nothing and says so', async () => {
  const before = fingerprint(app.dir);
  const lines = await add(app.dir, 'table', ['products', '--columns', COLUMNS]);
  assert.equal(lines, ['table: nothing to change (already applied).']);
  assertUnchanged(before, app.dir, 'second run');
});

test('an edited matrix entry, edited routes and an older migration survive a second run', async () => {
  const path = join(app.dir, 'permissions.yml');
  const edited = readFileSync(path, 'utf8').replace('  products:\n    admin: tenant', '  products:\n    admin: tenant\n    member: { select: tenant }');
  writeFileSync(path, edited);
  // an applied migration written by an older template, and hand-edited routes
  const migration = join(app.dir, findFile(app.dir, /_xms_table_products\.sql$/));
  writeFileSync(migration, `${readFileSync(migration, 'utf8')}-- written by an older version\n`);
  const routes = join(app.dir, 'src/routes/api/products.ts');
  writeFileSync(routes, `${readFileSync(routes, 'utf8')}// edited by hand\n`);
  const before = fingerprint(app.dir);
  assert.equal(await add(app.dir, 'table', ['products', '--columns', COLUMNS]), ['table: nothing to change (already applied).']);
  assertUnchanged(before, app.dir, 'second run after edits');
});

test('the same table with other columns is refused', async () => {
  await assertRefused(app.dir, 'table', ['products', '--columns', 'sku:text'], /already generated with columns "sku:text:unique,qty:int/);
});

test('bad input: one line, nothing written', async () => {
  await assertRefused(app.dir, 'table', ['select', '--columns', 'a:text'], /--name: invalid table name "select": it is an SQL keyword/);
  await assertRefused(app.dir, 'table', ['Bad-Name', '--columns', 'a:text'], /--name: invalid table name "Bad-Name"/);
  await assertRefused(app.dir, 'table', ['orders', '--columns', 'from:text'], /--columns: invalid column name "from": it is an SQL keyword/);
  await assertRefused(app.dir, 'table', ['orders', '--columns', 'total:money'], /--columns: unknown type "money" for column "total"/);
  await assertRefused(app.dir, 'table', ['orders', '--columns', 'total'], /--columns: column "total" has no type/);
  await assertRefused(app.dir, 'table', ['orders', '--columns', 'a:text,a:int'], /declared twice/);
  await assertRefused(app.dir, 'table', ['orders', '--columns', 'tenant_id:uuid'], /column "tenant_id" is reserved/);
  await assertRefused(app.dir, 'table', ['orders', '--columns', 'a:text:primary'], /unknown option "primary"/);
  await assertRefused(app.dir, 'table', ['records', '--columns', 'a:text'], /"records" is a built-in table/);
  await assertRefused(app.dir, 'table', ['exports', '--columns', 'a:text'], /would collide with the app's \/api\/exports routes/);
  await assertRefused(app.dir, 'table', ['orders'], /missing answer for "columns" and no terminal to ask: pass --columns/);
});

test('a table that already exists in a hand-written migration is refused', async () => {
  writeFileSync(join(app.dir, 'supabase/migrations/20250101000000_invoices.sql'), 'create table app.invoices (id uuid primary key);\n');
  await assertRefused(app.dir, 'table', ['invoices', '--columns', 'a:text'], /table app\.invoices already exists/);
});

test('an app without the route marker is refused with the marker named', async () => {
  const path = join(app.dir, 'src/routes/api/index.ts');
  const original = readFileSync(path, 'utf8');
  writeFileSync(path, original.replace(/.*xms:api-routes.*\n/, ''));
  await assertRefused(app.dir, 'table', ['orders', '--columns', 'a:text'], /marker "\/\/ xms:api-routes" not found/);
  writeFileSync(path, original);
});

test('outside an xms app it is refused', async () => {
  await assertRefused(join(app.dir, 'src'), 'table', ['orders', '--columns', 'a:text'], /is not an xms app/);
});

test.run();
