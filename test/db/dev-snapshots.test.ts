// run-tests: early
/**
 * The migrated PGlite folders the package ships for its presets (dist/pglite-snapshots, written by
 * scripts/build-dev-snapshots.mjs) are exactly what migrating gives: a new app of each preset starts
 * `npm run dev` from one (its own code restores it: src/db/dev-data.ts), and its catalog (roles,
 * grants, tables, RLS, policies, functions, triggers, event triggers, the migration ledger, row counts)
 * equals that of a folder migrated from nothing by src/db/migrate.ts. An app whose migrations only
 * add to the preset's starts from the shipped folder and applies its own; an edited preset migration
 * means no shipped folder at all.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { create, REPO_ROOT, runCli, tempDir, XMS_BIN } from '../helpers/cli.js';

/** Run in the app (its own code, tsx): restores or migrates into each folder, prints the catalogs. */
const PROBE = `import { openDevDatabase } from './src/db/dev-data.js';
import { openDatabase } from './src/db/client.js';
import { migrate } from './src/db/migrate.js';

const CATALOG: Record<string, string> = {
  roles: \`select rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolbypassrls, rolconfig
           from pg_roles where rolname !~ '^pg_' order by 1\`,
  members: \`select m.roleid::regrole::text as role, m.member::regrole::text as member, m.admin_option, m.inherit_option, m.set_option
             from pg_auth_members m order by 1, 2\`,
  schemas: \`select nspname, nspowner::regrole::text as owner, nspacl::text from pg_namespace
             where nspname !~ '^pg_' and nspname <> 'information_schema' order by 1\`,
  relations: \`select c.oid::regclass::text as rel, relkind, relowner::regrole::text as owner, relrowsecurity, relforcerowsecurity,
                 relacl::text, reloptions::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where nspname !~ '^pg_' and nspname <> 'information_schema' order by 1\`,
  columns: \`select attrelid::regclass::text as rel, attname, format_type(atttypid, atttypmod) as type, attnotnull,
               pg_get_expr(d.adbin, d.adrelid) as def, attacl::text
             from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
             left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
             where nspname !~ '^pg_' and nspname <> 'information_schema' and attnum > 0 and not attisdropped order by 1, 2\`,
  constraints: \`select conrelid::regclass::text as rel, conname, pg_get_constraintdef(c.oid) as def from pg_constraint c
                 join pg_namespace n on n.oid = c.connamespace where nspname !~ '^pg_' and nspname <> 'information_schema' order by 1, 2\`,
  indexes: \`select schemaname, tablename, indexname, indexdef from pg_indexes
             where schemaname !~ '^pg_' and schemaname <> 'information_schema' order by 1, 2, 3\`,
  policies: \`select schemaname, tablename, policyname, permissive, roles::text, cmd, qual, with_check from pg_policies order by 1, 2, 3\`,
  functions: \`select p.oid::regprocedure::text as fn, proowner::regrole::text as owner, prosecdef, proconfig::text, proacl::text,
                 pg_get_functiondef(p.oid) as def from pg_proc p join pg_namespace n on n.oid = p.pronamespace
               where nspname !~ '^pg_' and nspname <> 'information_schema' and prokind <> 'a' order by 1\`,
  triggers: \`select tgrelid::regclass::text as rel, tgname, tgenabled, pg_get_triggerdef(t.oid) as def from pg_trigger t
              where not tgisinternal order by 1, 2\`,
  eventTriggers: \`select evtname, evtevent, evtfoid::regproc::text as fn, evtenabled, evttags::text from pg_event_trigger order by 1\`,
  defaultAcls: \`select defaclrole::regrole::text as role, defaclnamespace::regnamespace::text as schema, defaclobjtype, defaclacl::text
                 from pg_default_acl order by 1, 2, 3\`,
  settings: \`select setdatabase, setrole::regrole::text as role, setconfig::text from pg_db_role_setting order by 1, 2\`,
  extensions: \`select extname, extversion from pg_extension order by 1\`,
  ledger: \`select version, name, statements from supabase_migrations.schema_migrations order by 1\`,
};

async function catalog(dataDir: string) {
  const db = await openDatabase({ as: 'owner', dataDir });
  try {
    const out: Record<string, unknown> = {};
    for (const [name, sql] of Object.entries(CATALOG)) out[name] = (await db.query(sql)).rows;
    const tables = (await db.query<{ rel: string }>(\`select c.oid::regclass::text as rel from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where relkind in ('r', 'p') and nspname !~ '^pg_' and nspname <> 'information_schema' order by 1\`)).rows;
    const counts: Record<string, number> = {};
    for (const { rel } of tables) counts[rel] = Number((await db.query<{ n: string }>(\`select count(*) as n from \${rel}\`)).rows[0]!.n);
    out.rowCounts = counts;
    return out;
  } finally {
    await db.close();
  }
}

const applied: string[] = [];
await (await openDevDatabase({ dataDir: 'restored', log: (line) => applied.push(line) })).close();
const fresh = await openDatabase({ as: 'owner', dataDir: 'migrated' });
// npm run dev gives the restored folder an auth key of its own (src/db/auth-key.ts): so does this one
await migrate(fresh, { authKey: 'dev-snapshots probe' });
await fresh.close();
console.log(JSON.stringify({ applied, restored: await catalog('restored'), migrated: await catalog('migrated') }));
`;

interface Probe {
  applied: string[];
  restored: Record<string, unknown[]>;
  migrated: Record<string, unknown[]>;
}

/** A new app of the preset, compiled, with this package (and its PGlite and tsx) as its node_modules. */
function app(preset: string): { dir: string; cleanup: () => void } {
  const tmp = tempDir('xms-dev-snapshot-');
  const dir = join(tmp.dir, 'app');
  const made = create([dir, '--preset', preset, '--yes', '--no-install', '--no-git']);
  assert.is(made.status, 0, made.stderr);
  const compiled = runCli(XMS_BIN, ['compile', '--cwd', dir]);
  assert.is(compiled.status, 0, compiled.stderr);
  mkdirSync(join(dir, 'node_modules'));
  for (const name of ['@electric-sql', 'tsx']) symlinkSync(join(REPO_ROOT, 'node_modules', name), join(dir, 'node_modules', name), 'dir');
  symlinkSync(REPO_ROOT, join(dir, 'node_modules', 'create-xms-app'), 'dir');
  writeFileSync(join(dir, 'probe.ts'), PROBE);
  return { dir, cleanup: tmp.cleanup };
}

function probe(dir: string): Probe {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  delete env.MIGRATION_DATABASE_URL;
  delete env.PGLITE_DATA_DIR;
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'probe.ts'], { cwd: dir, env, encoding: 'utf8', timeout: 300_000 });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Probe;
}

function assertSame(p: Probe): void {
  // a comparison that could not fail would prove nothing: the catalog holds the app's security objects
  for (const part of ['policies', 'functions', 'triggers', 'eventTriggers', 'roles', 'ledger']) {
    assert.ok(p.migrated[part]!.length > 0, `the migrated catalog has ${part}`);
  }
  for (const part of Object.keys(p.migrated)) assert.equal(p.restored[part], p.migrated[part], part);
}

const migrationCount = (dir: string) => readdirSync(join(dir, 'supabase', 'migrations')).filter((f) => /^\d+_.+\.sql$/.test(f)).length;

for (const preset of ['minimal', 'default', 'full']) {
  test(`${preset}: a new app starts from the shipped folder, equal to migrating from nothing`, () => {
    const { dir, cleanup } = app(preset);
    try {
      const p = probe(dir);
      assert.equal(p.applied, [], 'nothing to apply: the shipped folder holds every migration');
      assertSame(p);
    } finally {
      cleanup();
    }
  });
}

test('a migration added to the preset is applied over the shipped folder; the result equals migrating', () => {
  const { dir, cleanup } = app('default');
  try {
    writeFileSync(
      join(dir, 'supabase', 'migrations', '29990101000000_probe.sql'),
      `create table app.snapshot_probe (id int primary key);\nalter table app.snapshot_probe enable row level security;\nalter table app.snapshot_probe force row level security;\n`,
    );
    const p = probe(dir);
    assert.equal(p.applied, ['applied migration 29990101000000'], 'only the added migration');
    assertSame(p);
  } finally {
    cleanup();
  }
});

test('an edited preset migration: no shipped folder fits, every migration is applied', () => {
  const { dir, cleanup } = app('default');
  try {
    const migrations = join(dir, 'supabase', 'migrations');
    const first = readdirSync(migrations).filter((f) => /^\d+_.+\.sql$/.test(f)).sort()[0]!;
    appendFileSync(join(migrations, first), '\n-- edited\n');
    const p = probe(dir);
    assert.is(p.applied.length, migrationCount(dir));
    assertSame(p);
  } finally {
    cleanup();
  }
});

test.run();
