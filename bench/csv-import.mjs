// The generated app's CSV import as a ratio to PostgreSQL's own COPY of the same file, in one run:
//   npm run bench:csv-import [-- --quick] [-- --rows 100000 --runs 3]
// On a real PostgreSQL (DATABASE_URL's server, else a throw-away cluster from scripts/pg-cluster.sh on
// 127.0.0.1), an app scaffolded with --features csv-import (installed from this checkout, migrations
// applied as the superuser):
//   import  importCsv(tx, IMPORT_TABLES.records, file) inside withRequestTransaction as a member, the
//           way the app's route and tests call it: stream + parse + validate, staging in batches,
//           de-duplication by content hash, the RLS-checked INSERT ... SELECT into app.records (its
//           indexes, the unique content-hash index, the statement-level audit trigger), the ledger row
//   COPY    psql's \copy of the same file into an unindexed plain table (title text, body text),
//           as the superuser; its time is psql's own \timing of the command (no process start)
// Each run writes a new file of --rows rows (quotes, commas, one embedded newline per 100 rows) and
// empties both tables first; the rows/s are medians of --runs, the order alternates.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { applyMigrations, flag, freshDatabase, median, connect, pgBin, quick, run, scaffold, tempDir } from './_shared.mjs';

const rows = flag('rows', quick ? 2_000 : 100_000);
const runs = flag('runs', quick ? 1 : 3);

// Runs in the app's folder with tsx: its own modules, timed around the request transaction only.
const IMPORTER = `// bench/csv-import.mjs: one import as the app runs it
import { createReadStream } from 'node:fs';
import { openDatabase } from './src/db/client.js';
import { withRequestTransaction } from './src/db/request.js';
import { importCsv } from './src/imports/csv-import.js';
import { IMPORT_TABLES } from './src/imports/tables/index.js';

const [file, token] = process.argv.slice(2);
const db = await openDatabase({ url: process.env.DATABASE_URL });
try {
  const started = process.hrtime.bigint();
  const report = await withRequestTransaction(db, { sessionToken: token!, dbRole: 'member' }, (tx) =>
    importCsv(tx, IMPORT_TABLES.records!, createReadStream(file!), { filename: 'bench.csv' }),
  );
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(JSON.stringify({ ms, rows: report.rows, inserted: report.inserted }));
} finally {
  await db.close();
}
`;

async function writeCsv(file, tag) {
  const out = createWriteStream(file);
  out.write('title,body\r\n');
  for (let i = 0; i < rows; i++) {
    const body = i % 100 === 0 ? `"line one of ${i}\r\nline two, with ""quotes"""` : `"body of row ${i}, with a comma"`;
    if (!out.write(`Record ${tag} ${i},${body}\r\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

run(async () => {
  console.log('scaffolding and installing the csv-import feature ...');
  const app = scaffold(['--features', 'csv-import', '--yes', '--no-git', '--install']);
  writeFileSync(join(app, 'bench-import.ts'), IMPORTER);
  const { url } = await freshDatabase();
  const work = tempDir('xms-bench-csv-');

  const owner = await connect(url);
  await applyMigrations(owner, app);
  const [tenant, user] = ['11111111-1111-4111-8111-111111111111', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaa1'];
  const token = randomBytes(32).toString('base64url');
  await owner.query(`insert into app.tenants (id, name) values ($1, 'one')`, [tenant]);
  await owner.query(`insert into app.users (id, display_name) values ($1, 'member')`, [user]);
  await owner.query(`insert into app.memberships (user_id, tenant_id, role) values ($1, $2, 'member')`, [user, tenant]);
  await owner.query(
    `insert into app_private.sessions (token_hash, user_id, tenant_id, db_role, idle_expires_at, expires_at)
     values (sha256(convert_to($1, 'UTF8')), $2, $3, 'xms_member', now() + interval '1 day', now() + interval '1 day')`,
    [token, user, tenant],
  );
  await owner.query(`create schema bench`);
  await owner.query(`create table bench.copy_plain (title text, body text)`);
  await owner.query(`alter role xms_app login password 'bench'`);
  const appUrl = new URL(url);
  appUrl.username = 'xms_app';
  appUrl.password = 'bench';

  const importOnce = (file) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench-import.ts', file, token], {
      cwd: app,
      encoding: 'utf8',
      env: { ...process.env, DATABASE_URL: appUrl.toString() },
      timeout: 600_000,
    });
    if (r.status !== 0) throw new Error(`the import failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    const result = JSON.parse(r.stdout.trim().split('\n').pop());
    if (result.inserted !== rows) throw new Error(`the import inserted ${result.inserted} of ${rows} rows`);
    return result.ms;
  };
  const copyOnce = async (file) => {
    const r = spawnSync(pgBin('psql'), [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', '\\timing on', '-c', `\\copy bench.copy_plain (title, body) from '${file}' with (format csv, header true)`], {
      encoding: 'utf8',
      timeout: 600_000,
    });
    if (r.status !== 0) throw new Error(`psql \\copy failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    const ms = Number(/Time: ([\d.]+) ms/.exec(r.stdout)?.[1]);
    if (!Number.isFinite(ms)) throw new Error(`no \\timing in psql's output: ${r.stdout}`);
    const n = Number((await owner.query(`select count(*) from bench.copy_plain`)).rows[0].count);
    if (n !== rows) throw new Error(`COPY loaded ${n} of ${rows} rows`);
    return ms;
  };

  const importMs = [];
  const copyMs = [];
  for (let i = 0; i < runs; i++) {
    const file = join(work, `records-${i}.csv`);
    await writeCsv(file, `${i}-${randomBytes(3).toString('hex')}`);
    await owner.query(`truncate app.records, app.imports, audit.log, bench.copy_plain`);
    await owner.query(`checkpoint`);
    const order = i % 2 ? ['import', 'copy'] : ['copy', 'import'];
    for (const side of order) {
      if (side === 'import') importMs.push(importOnce(file));
      else copyMs.push(await copyOnce(file));
    }
  }
  await owner.end();

  const importRate = rows / (median(importMs) / 1000);
  const copyRate = rows / (median(copyMs) / 1000);
  console.log(`\nCSV of ${rows} rows on PostgreSQL, median of ${runs} run(s)`);
  console.log(`  the app's import (RLS, validation, de-duplication, audit)  ${median(importMs).toFixed(0).padStart(7)} ms  ${importRate.toFixed(0).padStart(8)} rows/s`);
  console.log(`  COPY into an unindexed plain table                         ${median(copyMs).toFixed(0).padStart(7)} ms  ${copyRate.toFixed(0).padStart(8)} rows/s`);
  console.log(`  ratio import / COPY (rows/s)                               ${(importRate / copyRate).toFixed(3)}x (COPY is ${(copyRate / importRate).toFixed(1)}x faster)`);
});
