/**
 * migrationDelta: what a template changed in a migration that may have been applied, as a new
 * migration of re-runnable statements (the end-to-end suite proves the catalog on a real database).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadParser, migrationDelta } from '../../lib/update/migrations.js';
import { parseRun } from '../../lib/update/index.js';

const BEFORE = `set role xms_owner;
create table if not exists app.things (id uuid primary key, name text not null);
create index if not exists things_name_idx on app.things (lower(name));
create function app.f(a uuid) returns int language sql as $$ select 1 $$;
drop policy if exists things_read on app.things;
create policy things_read on app.things for select to xms_member using (true);
create trigger things_touch before update on app.things for each row execute function app.touch();
grant select on app.things to xms_member;
reset role;
`;

test.before(loadParser);

test('unchanged (formatting and comments aside): no migration', () => {
  const reformatted = BEFORE.replace('create table if not exists app.things (id uuid primary key, name text not null);', '-- the things\ncreate table if not exists app.things (\n  id uuid primary key,\n  name text not null\n);');
  assert.equal(migrationDelta('x.sql', BEFORE, reformatted), { conflicts: [] });
});

test('changed statements become re-runnable ones, in order, inside the same role', () => {
  const after = BEFORE
    .replace('(lower(name))', '(name)')
    .replace('select 1', 'select 2')
    .replace('using (true)', 'using (false)')
    .replace("create trigger things_touch before update on app.things for each row execute function app.touch();\n", '')
    .replace('reset role;', "alter table app.things add constraint things_name_check check (name <> '');\nreset role;");
  const { sql, conflicts } = migrationDelta('x.sql', BEFORE, after);
  assert.equal(conflicts, []);
  const statements = sql!.split(';').map((s) => s.replace(/\s+/g, ' ').trim()).filter(Boolean);
  assert.equal(statements, [
    'set role xms_owner',
    'drop index if exists app.things_name_idx',
    'create index if not exists things_name_idx on app.things (name)',
    'create or replace function app.f(a uuid) returns int language sql as $$ select 2 $$',
    'drop policy if exists things_read on app.things',
    'create policy things_read on app.things for select to xms_member using (false)',
    "alter table app.things add constraint things_name_check check (name <> '')",
    'drop trigger if exists things_touch on app.things',
    'reset role',
  ]);
});

test('a column replaced by the template takes its indexes along: they are made again; removed functions are dropped if they still exist, after their triggers', () => {
  const before = `set role xms_owner;
alter table app.things add column if not exists hash text;
create function app.things_hash() returns trigger language plpgsql as $$ begin return new; end $$;
create trigger things_hash before insert on app.things for each row execute function app.things_hash();
create unique index if not exists things_hash_key on app.things (hash);
reset role;
`;
  const after = `set role xms_owner;
alter table app.things drop column if exists hash;
drop function if exists app.things_hash() cascade;
alter table app.things add column if not exists hash text generated always as (md5(name)) stored;
create unique index if not exists things_hash_key on app.things (hash);
reset role;
`;
  const statements = migrationDelta('x.sql', before, after).sql!.split(';').map((s) => s.replace(/\s+/g, ' ').trim()).filter(Boolean);
  assert.equal(statements, [
    'set role xms_owner',
    'alter table app.things drop column if exists hash',
    'drop function if exists app.things_hash() cascade',
    'alter table app.things add column if not exists hash text generated always as (md5(name)) stored',
    'create unique index if not exists things_hash_key on app.things (hash)',
    'drop trigger if exists things_hash on app.things',
    'drop function if exists app.things_hash()',
    'reset role',
  ]);
});

test('a table whose columns changed is left to the team between conflict markers', () => {
  const after = BEFORE.replace('name text not null', 'name text not null, note text');
  const { sql, conflicts } = migrationDelta('x.sql', BEFORE, after);
  assert.equal(conflicts, ['x.sql: table app.things changed its columns']);
  assert.match(sql!, /<<<<<<< table app\.things changed its columns[^\n]*\ncreate table if not exists app\.things \(id uuid primary key, name text not null, note text\)\n>>>>>>> x\.sql/);
});

test('--add of an app without xms.json: flags to recorded answers', () => {
  assert.equal(parseRun('table --name invoices --columns a:text --no-api --admin'), { generator: 'table', answers: { name: 'invoices', columns: 'a:text', api: false, admin: true } });
  assert.throws(() => parseRun('--name x'), /expected "<generator> --flag value \.\.\."/);
});

test.run();
