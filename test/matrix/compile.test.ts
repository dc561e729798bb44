import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  MatrixError,
  compileApp,
  compileMatrix,
  nextVersion,
  parseMatrix,
  readSchemaFromSql,
  writeCompiled,
  knownTableNames,
} from '../../lib/matrix/index.js';
import { readdirSync } from 'node:fs';
import { BASE_MIGRATIONS, MATRIX, shippedMatrix, tempApp } from './fixture.js';

test('compiling twice gives byte-identical output; reordering the file changes nothing', async () => {
  const app = tempApp();
  try {
    const a = await compileApp(app.dir);
    const b = await compileApp(app.dir);
    assert.is(a.sql, b.sql);
    assert.is(a.guardMapTs, b.guardMapTs);
    assert.is(a.testDataTs, b.testDataTs);
    // roles and tables in another order, and a scalar instead of the four actions
    const reordered = MATRIX.replace('  admin: Administrators\n  member: Members\n', '  member: Members\n  admin: Administrators\n')
      .replace('    admin: tenant\n    member: { select: tenant, insert: own, update: own, delete: own }',
        '    member: { delete: own, update: own, insert: own, select: tenant }\n    admin: { select: tenant, insert: tenant, update: tenant, delete: tenant }');
    assert.is.not(reordered, MATRIX);
    app.write('permissions.yml', reordered);
    const c = await compileApp(app.dir);
    assert.is(c.sql, a.sql);
  } finally {
    app.remove();
  }
});

test('one policy per table, action and role, TO xms_<role>, helpers wrapped in (select ...)', async () => {
  const app = tempApp();
  try {
    const { sql, testData } = await compileApp(app.dir);
    const policies = [...sql.matchAll(/create policy (\S+) on (\S+) for (\w+) to (\S+)/g)].map((m) => m.slice(1));
    const granted = testData.cells.filter((c) => c.scope !== 'none');
    assert.is(policies.length, granted.length);
    for (const c of granted) {
      const table = testData.tables.find((t) => t.name === c.table)!;
      assert.ok(
        policies.some(([name, on, action, to]) => name === `xms_${c.table}_${c.action}_${c.role}` && on === table.qualified && action === c.action && to === `xms_${c.role}`),
        `policy for ${c.table}.${c.role}.${c.action}`,
      );
    }
    assert.not.match(sql.replace(/\(select app\.current_(tenant|user)_id\(\)\)/g, ''), /app\.current_(tenant|user)_id\(\)/);
    assert.match(sql, /create policy xms_records_insert_member on app\.records for insert to xms_member\n  with check \(owner_id = \(select app\.current_user_id\(\)\) and tenant_id = \(select app\.current_tenant_id\(\)\)\);/);
    assert.match(sql, /grant select, insert, update, delete on app\.records to xms_member;/);
    assert.match(sql, /grant select on app\.tenants to xms_member;/);
    assert.not.match(sql, /on app\.tenants to xms_member.*delete/);
    assert.match(sql, /grant usage on schema audit to xms_admin;/);
    assert.not.match(sql, /audit\.log to xms_member/);
  } finally {
    app.remove();
  }
});

test('semantic errors: own without an owner column, update without select, writes to audit_log', async () => {
  const schema = await readSchemaFromSql([]);
  const app = tempApp();
  try {
    const cases: [string, RegExp][] = [
      ['  tenants:\n    member: { select: own }\n', /permissions\.yml:7: tenants\.member\.select is "own" but app\.tenants has no owner column/],
      ['  records:\n    member: { update: own }\n', /permissions\.yml:7: records\.member\.update is "own" but records\.member\.select is none/],
      ['  audit_log:\n    member: { insert: all }\n', /permissions\.yml:7: audit_log\.member\.insert must be none: audit\.log is append-only/],
      ['  users:\n    member: { select: tenant }\n', /users\.member\.select is "tenant", which reads app\.memberships: memberships\.member\.select must be tenant or all/],
    ];
    for (const [tables, expected] of cases) {
      app.write('permissions.yml', `version: 1\nroles:\n  admin: a\n  member: m\ntables:\n${tables}`);
      try {
        await compileApp(app.dir);
        assert.unreachable(`expected ${expected}`);
      } catch (err) {
        assert.instance(err, MatrixError);
        assert.match((err as Error).message, expected);
      }
    }
    void schema;
  } finally {
    app.remove();
  }
});

test('writeCompiled: first run writes the fixed migration, an unchanged matrix writes nothing', async () => {
  const app = tempApp();
  try {
    const first = await writeCompiled(app.dir);
    assert.equal(first.written.sort(), [
      join('src', 'generated', 'permissions.testdata.ts'),
      join('src', 'generated', 'permissions.ts'),
      join('supabase', 'migrations', '20240101000200_xms_permissions.sql'),
    ]);
    const before = app.read('supabase/migrations/20240101000200_xms_permissions.sql');
    const again = await writeCompiled(app.dir);
    assert.equal(again.written, []);
    assert.is(again.migration, undefined);
    assert.is(app.read('supabase/migrations/20240101000200_xms_permissions.sql'), before);

    // a changed cell: a new migration after the others, the old one untouched
    app.write('permissions.yml', MATRIX.replace('member: { select: tenant, insert: own, update: own, delete: own }', 'member: { select: tenant, insert: own }'));
    const changed = await writeCompiled(app.dir, { now: new Date('2031-02-03T04:05:06Z') });
    assert.is(changed.migration, join('supabase', 'migrations', '20310203040506_xms_permissions.sql'));
    assert.is(app.read('supabase/migrations/20240101000200_xms_permissions.sql'), before);
    assert.not.match(app.read(changed.migration!), /xms_records_delete_member/);
    assert.equal((await writeCompiled(app.dir)).written, []);
  } finally {
    app.remove();
  }
});

test('nextVersion stays after the latest migration even when the clock is behind', () => {
  assert.is(nextVersion(['20240101000000', '20240101000200'], new Date('2030-01-01T00:00:00Z')), '20300101000000');
  assert.is(nextVersion(['20990101000000'], new Date('2030-01-01T00:00:00Z')), '20990101000001');
});

test('the guard map compiles and answers can()', async () => {
  const app = tempApp();
  try {
    const { guardMapTs } = await compileApp(app.dir);
    const file = join(app.dir, 'permissions.ts');
    writeFileSync(file, guardMapTs);
    const mod = await import(pathToFileURL(file).href);
    assert.equal(mod.roles, ['admin', 'member']);
    assert.is(mod.can('member', 'records', 'delete'), true);
    assert.is(mod.scopeOf('member', 'records', 'delete'), 'own');
    assert.is(mod.can('member', 'tenants', 'delete'), false);
    assert.is(mod.can('member', 'audit_log', 'select'), false);
    assert.is(mod.can('admin', 'audit_log', 'select'), true);
    assert.is(mod.can('root', 'records', 'select'), false);
    assert.is(mod.can(null, 'records', 'select'), false);
  } finally {
    app.remove();
  }
});

test('the schema reader follows ALTER, RENAME and DROP; ignores other schemas', async () => {
  const schema = await readSchemaFromSql([
    'create table app.a (id uuid primary key, tenant_id uuid not null);',
    'create table public.p (id int); create table app.b (id int); alter table app.a add column owner_id uuid not null;',
    'alter table app.b rename to c; drop table app.c; create table app.d (x int, y int, primary key (x, y));',
    "do $$ begin execute 'create table app.hidden (id int)'; end $$;",
  ]);
  assert.equal(schema.tables.map((t) => t.name), ['a', 'd']);
  assert.equal(schema.tables[0]!.columns.map((c) => [c.name, c.type, c.notNull]), [
    ['id', 'uuid', true],
    ['tenant_id', 'uuid', true],
    ['owner_id', 'uuid', true],
  ]);
  assert.equal(schema.tables[1]!.primaryKey, ['x', 'y']);
  assert.ok(knownTableNames(schema).includes('audit_log'));
  // every schema, by qualified name (the audit section of the matrix may name them)
  assert.equal(schema.allTables!.map((t) => t.name), ['app.a', 'app.d', 'public.p']);
});

test('the shipped permissions.yml compiles against the shipped migrations', async () => {
  for (const features of [{}, { csvImport: true, admin: true }] as Record<string, boolean>[]) {
    // every base migration: the audit section names app_private tables of the xms_auth migration too
    const app = tempApp(shippedMatrix(features), readdirSync(BASE_MIGRATIONS).sort());
    try {
      // feature layers add their migrations (e.g. the imports table) next to the base ones
      const { copyFileSync, existsSync } = await import('node:fs');
      for (const f of ['admin', 'csv-import']) {
        const dir = join(process.cwd(), 'templates', 'app', 'features', f, 'supabase', 'migrations');
        if ((features as Record<string, boolean>)[f === 'csv-import' ? 'csvImport' : f] && existsSync(dir)) {
          for (const m of readdirSync(dir)) copyFileSync(join(dir, m), join(app.migrations, m));
        }
      }
      const c = await compileApp(app.dir);
      assert.match(c.sql, /create policy xms_records_select_member on app\.records/);
      // the audit rules: the rate-limit counters exempt with a reason, the auth secrets redacted
      assert.ok(c.testData.audit.exempt['app_private.auth_rate_limits']);
      assert.equal(c.testData.audit.redact['app_private.credentials'], ['password_hash']);
      assert.equal(c.testData.audit.redact['app_private.sessions'], ['token_hash']);
      assert.equal(c.testData.audit.redact['app_private.password_resets'], ['token_hash']);
      assert.equal(c.testData.audit.ignoreUpdatesOf['app_private.sessions'], ['idle_expires_at', 'last_seen_at']);
      assert.match(c.sql, /\('app_private\.sessions', null, '\{token_hash\}', '\{idle_expires_at,last_seen_at\}'\)/);
      assert.match(c.guardMapTs, /export const audit: \{/);
    } finally {
      app.remove();
    }
  }
});

test('compileMatrix is usable directly from a matrix and a schema', async () => {
  const schema = await readSchemaFromSql(['create table app.notes (id uuid primary key, tenant_id uuid not null, owner_id uuid not null);']);
  const matrix = parseMatrix('roles: [editor]\ntables:\n  notes:\n    editor: own\n', { tables: knownTableNames(schema) });
  const c = compileMatrix(matrix, schema);
  assert.match(c.sql, /create policy xms_notes_delete_editor on app\.notes for delete to xms_editor\n  using \(owner_id = \(select app\.current_user_id\(\)\) and tenant_id = \(select app\.current_tenant_id\(\)\)\);/);
  assert.match(c.sql, /create index notes_owner_id_xms_idx on app\.notes \(owner_id\);/);
  assert.equal(c.testData.cells.length, 4 * 2); // notes + audit_log, one role, four actions
});

test('the audit section compiles into audit.table_rules, rewritten whole; an empty one clears it', async () => {
  const schema = await readSchemaFromSql([
    'create table app.notes (id uuid primary key, tenant_id uuid not null, owner_id uuid not null);',
    'create table app_private.keys (id int primary key, key_hash text, seen_at timestamptz);',
    'create table app_private.hits (key text primary key, n int);',
  ]);
  const audit = `audit:
  exempt:
    app_private.hits: counters; it's churn
  redact:
    app_private.keys: [key_hash]
  ignore_updates_of:
    app_private.keys: [seen_at]
`;
  const parse = (src: string) =>
    parseMatrix(src, { tables: knownTableNames(schema), auditTables: Object.fromEntries(schema.allTables!.map((t) => [t.name, t.columns.map((c) => c.name)])) });
  const c = compileMatrix(parse(`roles: [editor]\ntables:\n  notes:\n    editor: own\n${audit}`), schema);
  assert.match(c.sql, /delete from audit\.table_rules;\ninsert into audit\.table_rules \(table_name, exempt_reason, redact, ignore_updates_of\) values\n  \('app_private\.hits', 'counters; it''s churn', '\{\}', '\{\}'\),\n  \('app_private\.keys', null, '\{key_hash\}', '\{seen_at\}'\);/);
  assert.equal(c.testData.audit, { exempt: { 'app_private.hits': "counters; it's churn" }, redact: { 'app_private.keys': ['key_hash'] }, ignoreUpdatesOf: { 'app_private.keys': ['seen_at'] } });
  const none = compileMatrix(parse('roles: [editor]\ntables:\n  notes:\n    editor: own\n'), schema);
  assert.match(none.sql, /delete from audit\.table_rules;\n\nreset role;/);
  assert.equal(none.testData.audit, { exempt: {}, redact: {}, ignoreUpdatesOf: {} });
});

test.run();
