// The real Supabase CLI applies supabase/migrations to a plain PostgreSQL (what scripts/supabase-cli.sh
// documents): `db push --remote=URL --yes`, ledger supabase_migrations.schema_migrations.
// Needs the CLI ($SUPABASE_CLI, set by .ci/run, or an install already in .tmp/supabase-cli) and
// PostgreSQL binaries for a throw-away cluster; otherwise skipped, saying why.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = (cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, ...opts });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', all: `${r.stdout ?? ''}${r.stderr ?? ''}` };
};

function findCli(): { bin?: string; why?: string } {
  if (process.env.SUPABASE_CLI) return { bin: process.env.SUPABASE_CLI };
  if (!existsSync(path.join(repo, '.tmp/supabase-cli/node_modules'))) {
    return { why: 'SUPABASE_CLI is not set and .tmp/supabase-cli holds no install (run scripts/supabase-cli.sh)' };
  }
  const r = run('bash', [path.join(repo, 'scripts/supabase-cli.sh')]);
  return r.code === 0 ? { bin: r.stdout.trim() } : { why: r.stderr.trim() };
}

const cli = findCli();
const parent = mkdtempSync('/tmp/xms-sb-test-');
chmodSync(parent, 0o755);
const clusterDir = path.join(parent, 'cluster');
const project = path.join(parent, 'project');
let url = '';
let skip = cli.why ?? '';
if (!skip) {
  const started = run('bash', [path.join(repo, 'scripts/pg-cluster.sh'), 'start', clusterDir]);
  if (started.code === 3) skip = started.stderr.trim();
  else if (started.code !== 0) throw new Error(`pg-cluster.sh start failed: ${started.stderr}`);
  else url = `${started.stdout.trim().replace(/^export DATABASE_URL=/, '')}?sslmode=disable`;
}

const migration = (name: string, sql: string) => {
  mkdirSync(path.join(project, 'supabase/migrations'), { recursive: true });
  writeFileSync(path.join(project, 'supabase/migrations', name), sql);
};
const push = (...extra: string[]) => run(cli.bin!, ['db', 'push', `--remote=${url}`, ...extra], {
  cwd: project, env: { ...process.env, SUPABASE_YES: '' },
});
async function query(sql: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try { return (await c.query(sql)).rows; } finally { await c.end(); }
}

if (skip) {
  console.log(`supabase-cli: skipped, ${skip}`);
  test.skip('supabase db push against a throw-away cluster', () => {});
} else {
  test('db push --yes applies migrations (dollar-quoted bodies too) and writes its ledger', async () => {
    migration('20240101000000_x.sql', `create schema app;
create function app.f(a int) returns int language plpgsql as $$
begin
  if a > 0 then return a; end if; -- a ; in a comment
  return -a;
end $$;
create table app.t (id int primary key, s text default 'a;b');
`);
    const r = push('--yes');
    assert.is(r.code, 0, r.all);
    assert.equal(await query('select app.f(-3) as v'), [{ v: 3 }]);
    assert.equal(await query('select version, name from supabase_migrations.schema_migrations'), [{ version: '20240101000000', name: 'x' }]);
    const again = push('--yes');
    assert.is(again.code, 0, again.all);
    assert.match(again.all, /up to date/i);
  });

  test('without --yes and without a terminal it applies nothing and exits non-zero', async () => {
    migration('20240102000000_y.sql', 'create table app.y (id int);');
    const r = push();
    assert.is.not(r.code, 0);
    assert.match(r.all, /--yes/);
    assert.equal(await query("select to_regclass('app.y') as t"), [{ t: null }]);
  });

  test('a failing migration is rolled back whole, with its ledger row', async () => {
    migration('20240102000000_y.sql', 'create table app.y (id int);\nselect 1/0;');
    const r = push('--yes');
    assert.is.not(r.code, 0);
    assert.match(r.all, /division by zero/);
    assert.equal(await query("select to_regclass('app.y') as t"), [{ t: null }]);
    assert.equal(await query('select count(*)::int as n from supabase_migrations.schema_migrations'), [{ n: 1 }]);
  });
}

test.after(() => {
  if (existsSync(clusterDir)) run('bash', [path.join(repo, 'scripts/pg-cluster.sh'), 'stop', clusterDir]);
  rmSync(parent, { recursive: true, force: true });
});

test.run();
