// The schema statements of each migration are kept by content in the app's cache folder
// (lib/matrix/schema.ts): a migration parsed once is read back, an edited one is parsed again (its
// change is seen), a torn entry is a miss, and an SQL error is never cached.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readSchema } from '../../lib/matrix/schema.js';
import { REPO_ROOT } from '../helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'xms-schema-cache-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const migrations = join(root, 'supabase', 'migrations');
const cacheDir = join(root, 'node_modules', '.cache', 'xms-schema');
const entries = () => readdirSync(cacheDir).filter((f) => f.endsWith('.json'));

const BASE = 'create schema app;\ncreate table app.notes (id uuid primary key, body text not null);\n';
const describe = (tables: { name: string; columns: { name: string; type: string; notNull: boolean }[] }[], table: string) =>
  tables.find((t) => t.name === table)?.columns.map((c) => `${c.name} ${c.type}${c.notNull ? ' not null' : ''}`);
const columns = async (table: string) => describe((await readSchema(migrations, { cacheDir })).tables, table);
/** The same read in a new process (no parse trees kept in memory: only the cache folder or the parser). */
const columnsInNewProcess = (table: string) => {
  const code = `import { readSchema } from ${JSON.stringify(join(REPO_ROOT, 'lib/matrix/schema.ts'))};
    const s = await readSchema(${JSON.stringify(migrations)}, { cacheDir: ${JSON.stringify(cacheDir)} });
    console.log(JSON.stringify({ tables: s.tables }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return describe(JSON.parse(r.stdout).tables, table);
};

test('a read fills the cache with one entry per migration; the next read gives the same schema', async () => {
  writeFileSync(join(mkdirp(migrations), '20240101000000_base.sql'), BASE);
  writeFileSync(join(migrations, '20240101000100_more.sql'), 'alter table app.notes add column title text;\ncreate policy p on app.notes using (true);\n');
  const first = await columns('notes');
  assert.equal(first, ['id uuid not null', 'body text not null', 'title text']);
  assert.is(entries().length, 2);
  assert.equal(columnsInNewProcess('notes'), first);
  assert.is(entries().length, 2);
});

test('an edited migration is parsed again: the weakened column is seen', async () => {
  // the same file name, new content: body loses its not null
  writeFileSync(join(migrations, '20240101000000_base.sql'), BASE.replace('body text not null', 'body text'));
  assert.equal(await columns('notes'), ['id uuid not null', 'body text', 'title text']);
  assert.is(entries().length, 3);
});

test('a torn entry is a miss (the migration is parsed again)', async () => {
  for (const f of entries()) writeFileSync(join(cacheDir, f), '{"stmts": [');
  assert.equal(columnsInNewProcess('notes'), ['id uuid not null', 'body text', 'title text']);
  // and an entry that parses but is not a statement list
  for (const f of entries()) writeFileSync(join(cacheDir, f), '{"stmts": 1}');
  assert.equal(columnsInNewProcess('notes'), ['id uuid not null', 'body text', 'title text']);
});

test('an SQL error is reported with its file and never cached', async () => {
  const before = entries().length;
  writeFileSync(join(migrations, '20240101000200_bad.sql'), 'create tabel app.x (id int);\n');
  try {
    await readSchema(migrations, { cacheDir });
    assert.unreachable('a migration that does not parse was accepted');
  } catch (error) {
    assert.match((error as Error).message, /20240101000200_bad\.sql: cannot parse SQL/);
  }
  assert.is(entries().length, before);
});

function mkdirp(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

test.run();
