// run-tests: early
// bench/index.mjs (`npm run bench`): the quick run at the smallest sizes writes a report with every
// row of the benchmark table, each with a numeric ratio and a verdict against its goal. The report
// goes to a temp file (--out); docs/benchmarks.md is never written by a test.
// Needs PostgreSQL (binaries for scripts/pg-cluster.sh: the run starts a throw-away cluster of its own,
// so it holds no lock on DATABASE_URL's server and runs beside the files that do; else DATABASE_URL) and the npm registry
// (the run installs an app and the tools it compares against); skipped, saying why, without PostgreSQL,
// except in CI, where that is a failure.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { pgbouncerBinary } from '../helpers/pgbouncer.js';

// the rows of the table (ids of bench/index.mjs), then the PgBouncer rows
const GOAL_ROWS = [
  'api-me', 'health', 'rls-point', 'rls-page', 'audit-bulk', 'audit-single', 'csv-import',
  'scaffold', 'scaffold-t3', 'add-table', 'check', 'dev-warm', 'dev-cold',
];
const PGBOUNCER_ROWS = ['api-me-pgbouncer-1', 'api-me-pgbouncer-2'];

const hasBinaries =
  (existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`))) ||
  spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).status === 0;
const hasPostgres = hasBinaries || Boolean(process.env.DATABASE_URL);
// found as bench/pgbouncer.mjs finds it (PATH, then Debian's /usr/sbin)
const hasPgbouncer = pgbouncerBinary() !== null;

if (!hasPostgres && process.env.CI) {
  // CI always sets PostgreSQL up (.ci/run): a missing server there is a failure, never a skip
  test('npm run bench -- --quick needs PostgreSQL', () => {
    assert.unreachable('no DATABASE_URL and no PostgreSQL binaries in CI');
  });
} else if (!hasPostgres) {
  console.log('bench report: skipped, no DATABASE_URL and no PostgreSQL binaries');
  test.skip('npm run bench -- --quick writes every row with a ratio and a verdict (no PostgreSQL here)', () => {});
} else {
  test('npm run bench -- --quick writes every row with a ratio and a verdict, to --out only', () => {
    const docs = join(REPO_ROOT, 'docs/benchmarks.md');
    const before = existsSync(docs) ? statSync(docs).mtimeMs : null;
    const dir = mkdtempSync(join(tmpdir(), 'xms-bench-report-'));
    try {
      const out = join(dir, 'report.md');
      const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bench/index.mjs'), '--quick', '--tiny', '--out', out], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        // without DATABASE_URL bench/index.mjs starts (and stops) a cluster of its own
        env: Object.fromEntries(Object.entries({ ...process.env, CI: '1' }).filter(([name]) => !(hasBinaries && name === 'DATABASE_URL'))),
        timeout: 20 * 60_000,
        maxBuffer: 64 * 1024 * 1024,
      });
      const tail = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-40).join('\n');
      assert.is(r.status, 0, `bench/index.mjs exited ${r.status}:\n${tail}`);
      const report = readFileSync(out, 'utf8');

      assert.match(report, /quick: small sizes/);
      assert.match(report, /^- \d+ cores, .+$/m, 'the machine: cores and CPU model');
      assert.match(report, /^- load average at start: [\d.]+, [\d.]+, [\d.]+$/m);
      assert.match(report, /^- memory [\d.]+ GiB/m);
      assert.match(report, /^- node v\d+/m);
      assert.match(report, /^- PostgreSQL \d+/m);

      const cells = new Map<string, string[]>();
      for (const line of report.split('\n')) {
        if (!line.startsWith('| ') || line.startsWith('| id ')) continue;
        const c = line.split(/(?<!\\)\|/).slice(1, -1).map((s) => s.trim());
        cells.set(c[0]!, c);
      }
      assert.equal([...cells.keys()].sort(), [...GOAL_ROWS, ...PGBOUNCER_ROWS].sort(), 'one table row per benchmark row');
      for (const id of GOAL_ROWS) {
        const c = cells.get(id)!;
        assert.match(c[5]!, /^\d+\.\d\dx$/, `${id}: numeric ratio (row: ${c.join(' | ')})`);
        assert.ok(c[7] === 'met' || c[7] === 'missed', `${id}: verdict met or missed, got "${c[7]}"`);
      }
      for (const id of PGBOUNCER_ROWS) {
        const c = cells.get(id)!;
        if (hasPgbouncer) {
          assert.match(c[5]!, /^\d+\.\d\dx$/, `${id}: numeric ratio (row: ${c.join(' | ')})`);
          assert.is(c[7], 'no goal');
        } else {
          assert.is(c[7], 'not measured: pgbouncer not installed');
        }
      }
      // csv-import's baseline is the one the issue names (the same table, its foreign keys included);
      // the stricter copy without them is reported beside it with its own ratio
      const csv = cells.get('csv-import')!;
      assert.match(csv[2]!, /into the same table \(its foreign keys/);
      assert.match(csv[4]!, /\(into a copy without its foreign keys: [\d.]+ rows\/s, \d+\.\d\dx\)$/);
      // and its floor beside the value: the file staged by COPY and one audited INSERT ... ON CONFLICT
      assert.match(csv[3]!, /\(floor: [\d.]+ rows\/s, \d+\.\d\dx\)$/, 'csv-import: its floor beside the value');
      if (csv[7] === 'missed') assert.match(report, /^### csv-import\n[\s\S]*?^- floor \d+\.\d\dx (>=|<) 0\.6x: /m, 'csv-import missed: its floor says whether any design reaches the goal');
      // the request-path rows carry both floors: the session lookup per transaction, and with it the
      // lookup per statement that I17 asks for (the bound the verdict's reason is judged by)
      for (const id of ['rls-point', 'rls-page']) {
        assert.match(cells.get(id)![3]!, /\(floor: [\d.]+ ms, \d+\.\d\dx; identity floor: [\d.]+ ms, \d+\.\d\dx\)$/, `${id}: both floors beside the value`);
      }
      // the scaffold rows run the CLI as a registry install does; the checkout's own way is beside them
      for (const id of ['scaffold', 'scaffold-t3']) {
        assert.match(cells.get(id)![3]!, /\(run from this checkout, which hashes itself to depend on a packed local tarball: [\d.]+ ms, \d+\.\d\dx\)$/, `${id}: the checkout's time beside the value`);
      }
      // a missed row says why
      for (const id of GOAL_ROWS.filter((id) => cells.get(id)![7] === 'missed')) {
        assert.match(report, new RegExp(`^### ${id}\\n\\n- (met|missed): `, 'm'), `${id} missed: the report says why`);
      }
      assert.is(existsSync(docs) ? statSync(docs).mtimeMs : null, before, 'docs/benchmarks.md untouched');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
