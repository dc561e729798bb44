// Every benchmark in one run, written up as docs/benchmarks.md:
//   npm run bench [-- --quick] [-- --out <file>] [-- --tiny]
// Each row is a ratio against its baseline measured in the same run (medians of interleaved runs,
// see each bench file), with its goal and a verdict (met / missed); a missed row gets an appendix
// with what the bench recorded about why (plans, peak RSS, the parts of a time). The report also
// records the machine (cores, CPU model, memory, load average at the start) and the versions.
//   --quick   seconds-to-a-minute sizes (a smoke run); the report says so
//   --tiny    the smallest sizes and one run each (with --quick; for the test of this file)
//   --out     where to write the report (default docs/benchmarks.md)
//   --app <dir>, --tools <dir>   reuse an installed app (features admin + csv-import) and tools folder
// Shared by the benchmarks of the run: one PostgreSQL server (DATABASE_URL's, else a throw-away
// cluster), one installed app (features admin + csv-import, installed from this checkout), one
// folder of tools from npm (autocannon, create-vite, create-t3-app). Each benchmark runs as a child
// process (bench/<name>.mjs) and prints its measurements as one JSON line (RESULT_PREFIX).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { RESULT_PREFIX, connect, onCleanup, option, postgresServer, quick, root, run, scaffold, toolsDir } from './_shared.mjs';
import { pgbouncerBinary } from './pgbouncer.mjs';

const tiny = process.argv.includes('--tiny');
const out = option('out', join(root, 'docs/benchmarks.md'));
const TOOLS = ['autocannon@9', 'create-vite@9', 'create-t3-app@7'];

// --- the rows: id, what, baseline, goal (a function of the measurement: { met, ratio, goal text })
const x = (r) => `${r.toFixed(2)}x`;
const ms = (v) => (v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${v.toFixed(v < 10 ? 2 : 0)} ms`);
const fmt = (v, unit) => (unit === 'ms' ? ms(v) : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${unit}`);
const atLeast = (limit) => (m) => ({ ratio: m.value / m.baseline, goal: `>= ${limit}x`, parts: [[m.value / m.baseline >= limit, `ratio ${x(m.value / m.baseline)} >= ${limit}x`]] });
// The HTTP rows (bench/http.mjs) give each side's ratio to bare as the median of its rounds' ratios
// (`paired`: the sides of a round run back to back); a run without them, the ratio of the medians.
const toBare = (m, side) => m.paired?.rps?.[side] ?? (side === 'app' ? m.value : m[side]) / m.baseline;
const toBareByCpu = (m, side) => m.paired?.cpu?.[side] ?? (m.cpuUsPerRequest ? m.cpuUsPerRequest.bare / m.cpuUsPerRequest[side] : undefined);
const atLeastPaired = (limit) => (m) => ({ ratio: toBare(m, 'app'), goal: `>= ${limit}x`, parts: [[toBare(m, 'app') >= limit, `ratio ${x(toBare(m, 'app'))} >= ${limit}x`]] });
const atMost = (limit) => (m) => ({ ratio: m.value / m.baseline, goal: `<= ${limit}x`, parts: [[m.value / m.baseline <= limit, `ratio ${x(m.value / m.baseline)} <= ${limit}x`]] });
// Some rows also measure a floor in the same run (see their bench file): the baseline plus the least
// any design that keeps the guarantee must add. Said beside the verdict: whether the goal is within
// the floor's reach at all, and how far today's design is above it. `reached`: the floor meets the goal;
// `misses` / `within`: what the floor is, with what follows; `app`: where today's design stands.
const floorNote = ({ measured, reached, misses, within, app, appWithin = app, own = '' }) =>
  reached ? `${measured}: ${within}; ${appWithin}${own}` : `${measured}: ${misses}; ${app}`;
/** A judge with its row's floor note added (when the bench measured that floor: m[key]). */
const withFloor = (judge, note, key = 'floor') => (m) => {
  const j = judge(m);
  return m[key] === undefined ? j : { ...j, notes: [...(j.notes ?? []), note(m)] };
};
// The request-path rows (bench/rls-audit.mjs): the floor is the baseline plus one indexed session
// lookup per transaction, the least any design that checks the session on every request (revocation
// on the next request) adds; what identifies the session goes as a bind value, as the app sends it
// (in a statement's text it would reach pg_stat_activity and the server log). The identity floor
// adds what I17 asks of every statement on top: the tenant the policies compare with derived from
// the session in the statement itself, by one indexed lookup (a tenant id cached in a setting could
// be written by any statement of the transaction). The identity floor bounds a design that keeps
// I17; the floor alone is reported beside it.
const sessionFloor = (limit) => (m) => {
  const f = m.floor / m.baseline;
  const lookup = 'the baseline plus one indexed session lookup per transaction (same run)';
  const i = m.identityFloor / m.baseline;
  const perStatement = 'that floor plus one indexed lookup of the session in each statement, as I17 asks (the tenant the policies compare with is derived from the session in the statement; a cached tenant id could be written by any statement of the transaction)';
  // measured beside it: the same with the token in the statement's text, which no secure design sends
  const inText = m.identityFloorTokenInText === undefined ? '' : `; with the token written into the statement's text instead of bound (not a secure design: pg_stat_activity and the server log would show it) it would be ${x(m.identityFloorTokenInText / m.baseline)}`;
  return floorNote({
    reached: i <= limit,
    measured: `floor ${x(f)} ${f <= limit ? '<=' : '>'} ${limit.toFixed(2)}x (${lookup}, the session's hash bound); identity floor ${x(i)} ${i <= limit ? '<=' : '>'} ${limit.toFixed(2)}x (the token bound)${inText}`,
    misses: `the identity floor, ${perStatement}, already misses the goal, so no design that keeps I17 reaches it`,
    within: `the identity floor, ${perStatement}, is within the goal`,
    app: `today's design is ${x(m.value / m.identityFloor)} of the identity floor`,
    appWithin: `today's design (${x(m.value / m.baseline)}) is ${x(m.value / m.identityFloor)} of the identity floor`,
    own: ', that much is its own cost',
  });
};
// The audit rows (bench/rls-audit.mjs): the floor is the same log rows written without a trigger,
// judged by throughput, or, for the single-row insert (whose goal is its CPU cost: one round trip per
// statement hides it in wall time), by the database server's CPU per statement when the bench read it.
const auditFloor = (limit, what, { byCpu = false } = {}) => (m) => {
  const f = m.floor / m.baseline;
  const cpu = byCpu ? m.cpuUsPerStatement : undefined;
  const c = cpu ? cpu.plain / cpu.floor : undefined;
  const judged = c ?? f;
  const measured = cpu
    ? `floor ${x(c)} ${c < limit ? '<' : '>='} ${limit}x by backend CPU per statement (plain ${cpu.plain.toFixed(0)} µs, floor ${cpu.floor.toFixed(0)} µs, audited ${cpu.audited.toFixed(0)} µs; ${x(f)} by throughput)`
    : `floor ${x(f)} ${f < limit ? '<' : '>='} ${limit}x`;
  return floorNote({
    reached: judged >= limit,
    measured,
    misses: `writing the same log ${what} without a trigger (whole row as jsonb, its key, the (tenant_id, id) index) already misses the goal, so no trigger that records ${what === 'row' ? 'it' : 'them'} does better`,
    within: `the same log ${what} written without a trigger ${what === 'row' ? 'is' : 'are'} within the goal`,
    app: cpu ? `today's trigger is ${x(cpu.floor / cpu.audited)} of the floor by CPU (${x(m.value / m.floor)} by throughput)` : `today's trigger is ${x(m.value / m.floor)} of the floor`,
  });
};
// audit-single's second floor (bench/rls-audit.mjs): the smallest trigger that writes the same log
// row. I7 records each change by a trigger, so this, not the floor without one, bounds a design that
// keeps it; judged by backend CPU per statement when the bench read it, else by throughput.
const triggerFloor = (limit) => (m) => {
  const cpu = m.cpuUsPerStatement;
  const byCpu = cpu?.triggerFloor !== undefined;
  const t = byCpu ? cpu.plain / cpu.triggerFloor : m.triggerFloor / m.baseline;
  const what = `trigger floor ${x(t)} ${t < limit ? '<' : '>='} ${limit}x${byCpu ? ` by backend CPU per statement (trigger floor ${cpu.triggerFloor.toFixed(0)} µs)` : ' by throughput'}`;
  const smallest = 'the smallest trigger that writes this log row (SECURITY DEFINER with a pinned search_path, one INSERT; the cheaper of a statement-level and a row-level one; I7 records each change by a trigger)';
  return floorNote({
    reached: t >= limit,
    measured: what,
    misses: `${smallest} already misses the goal, so no design that keeps I7 reaches it`,
    within: `${smallest} is within the goal`,
    app: `today's trigger is ${x(byCpu ? cpu.triggerFloor / cpu.audited : m.value / m.triggerFloor)} of it${byCpu ? ' by CPU' : ''}: the rules lookup (redaction, ignored columns) and the actor are its own cost`,
  });
};
// csv-import's floor (bench/csv-import.mjs): the whole file staged by COPY and one INSERT ... SELECT
// into the table with its audit trigger and ON CONFLICT DO NOTHING, from psql. COPY cannot write a
// table under RLS, the audit records each row (I7) and rows already there are skipped (I14): any
// import pays at least this in the database, before its upload, parsing, counts and ledger.
const importFloor = (limit) => (m) => {
  const f = m.floor / m.baseline;
  const floor = 'the whole file staged by COPY and one audited INSERT ... SELECT ... ON CONFLICT DO NOTHING into the table, from psql (same run)';
  return floorNote({
    reached: f >= limit,
    measured: `floor ${x(f)} ${f >= limit ? '>=' : '<'} ${limit}x`,
    misses: `${floor} already misses the goal, so no import that writes its rows through an audited, RLS-checked INSERT reaches it`,
    within: `${floor} is within the goal`,
    app: `the app is ${x(m.value / m.floor)} of the floor`,
    own: ': the upload, parsing and validating the file, the counts of its repeats and the ledger are its own cost',
  });
};
// api-me's floor (bench/http.mjs): bare Fastify with the app's static security headers and one
// statement per request that checks the session and reads the user's row (its own implicit
// transaction: no BEGIN or COMMIT, no role switch, no RLS),
// and beside it the app's own statement sent from bare Fastify, which splits what the app costs
// into its Node side and its SQL; judged by req/s, each side's CPU per request reported with it.
const apiMeFloor = (limit) => (m) => {
  const f = toBare(m, 'floor');
  const cpu = m.cpuUsPerRequest;
  const db = m.backendCpuUsPerRequest;
  const perRequest = (of) => `bare ${of.bare} µs, floor ${of.floor} µs, the app's SQL ${of.appSql} µs, the app ${of.app} µs`;
  const floor = "bare Fastify with the app's static security headers and one statement per request that checks the session by its token's hash and reads the user's row, in its own implicit transaction (no BEGIN or COMMIT), no role switch and no RLS (same run)";
  const sql = m.appSql === undefined ? '' : (() => {
    const r = toBare(m, 'appSql');
    const verdict = r < limit
      ? 'its statement alone (the session check, which returns the user\'s profile) already misses the goal'
      : 'its statement alone is within the goal: the rest is its Node side';
    return `. The app's own statement sent from bare Fastify: ${x(r)}: ${verdict}`;
  })();
  const split = cpu?.floor !== undefined ? `. CPU per request, server: ${perRequest(cpu)}${db?.floor !== undefined ? `; database backends: ${perRequest(db)}` : ''}` : '';
  return floorNote({
    reached: f >= limit,
    measured: `floor ${x(f)} ${f >= limit ? '>=' : '<'} ${limit}x`,
    misses: `${floor} already misses the goal, so no design that checks the session on every request reaches it`,
    within: `${floor} is within the goal`,
    app: `the app is ${x(toBare(m, 'app') / f)} of the floor${sql}${split}`,
  });
};
export const ROWS = [
  {
    id: 'api-me', bench: 'http', what: 'logged-in `GET /api/me` (req/s)', baseline: 'bare Fastify + pg route: `begin; select 1; commit`',
    judge: withFloor(atLeastPaired(0.6), apiMeFloor(0.6)),
  },
  {
    id: 'health', bench: 'http', what: '`GET /health` with every security hook (req/s)', baseline: 'bare Fastify',
    // the floor (bench/http.mjs): bare Fastify sending the app's static security headers. Judged by
    // req/s and by each server's CPU per request (the load generator shares the cores and moves req/s
    // around; CPU is the server's own cost); "no design reaches it" only when both miss
    judge: withFloor(atLeastPaired(0.9), (m) => {
      const f = toBare(m, 'floor');
      const cpu = m.cpuUsPerRequest;
      const byCpu = cpu?.floor && cpu?.bare ? toBareByCpu(m, 'floor') : undefined;
      const headers = `bare Fastify sending the app's ${m.floorHeaders} static security headers (same run)`;
      return floorNote({
        reached: Math.max(f, byCpu ?? f) >= 0.9,
        measured: `floor ${x(f)} by req/s${byCpu !== undefined ? `, ${x(byCpu)} by CPU per request (bare ${cpu.bare} µs, floor ${cpu.floor} µs, app ${cpu.app} µs)` : ''}`,
        misses: `${headers} already misses the goal, so no design that sends them reaches it`,
        within: `${headers} is within the goal`,
        app: `the app is ${x(toBare(m, 'app') / f)} of the floor by req/s${byCpu !== undefined ? `, ${x(byCpu / toBareByCpu(m, 'app'))} by CPU` : ''}`,
        own: ", that much is its hooks' own cost",
      });
    }),
  },
  {
    id: 'rls-point', bench: 'rls-audit', what: 'RLS point lookup by id as the request role (whole transaction)',
    baseline: 'owner + explicit tenant filter', judge: withFloor(atMost(1.1), sessionFloor(1.1)),
  },
  {
    id: 'rls-page', bench: 'rls-audit', what: "tenant page, 50 newest rows as the request role (whole transaction)", baseline: 'owner + explicit tenant filter',
    judge: withFloor((m) => {
      const nodes = m.plans.a.nodes;
      const indexed = nodes.some((n) => n === 'Index Scan' || n === 'Index Only Scan');
      const r = m.value / m.baseline;
      return {
        ratio: r,
        goal: '<= 1.10x; index (only) scan, no Sort',
        parts: [[r <= 1.1, `ratio ${x(r)} <= 1.10x`], [indexed && !nodes.includes('Sort'), `plan ${nodes.join(' > ')}: an index scan and no Sort node`]],
      };
    }, sessionFloor(1.1)),
  },
  {
    id: 'audit-bulk', bench: 'rls-audit', what: 'audited bulk insert, one statement (rows/s)', baseline: 'no audit',
    judge: withFloor(atLeast(0.75), auditFloor(0.75, 'rows')),
  },
  {
    id: 'audit-single', bench: 'rls-audit', what: 'audited single-row insert, `synchronous_commit=off` (rows/s)', baseline: 'no audit',
    judge: withFloor(withFloor(atLeast(0.8), auditFloor(0.8, 'row', { byCpu: true })), triggerFloor(0.8), 'triggerFloor'),
  },
  {
    id: 'csv-import', bench: 'csv-import', what: 'CSV import (5% duplicates): de-dup + RLS + audit, over HTTP (rows/s)',
    baseline: 'COPY of the de-duplicated file into the same table (its foreign keys, indexes and unique content hash), no audit',
    judge: withFloor((m) => {
      const r = m.value / m.baseline;
      // reported beside the verdict, not judged: the stricter baseline of earlier runs
      const noFk = m.copyWithoutForeignKeys === undefined ? [] : [`against COPY into a copy of the table without its foreign keys: ${x(m.value / m.copyWithoutForeignKeys)}`];
      return {
        ratio: r,
        goal: '>= 0.6x; peak RSS < 200 MB',
        parts: [[r >= 0.6, `ratio ${x(r)} >= 0.6x`], [m.peakRssMiB < 200, `peak RSS ${m.peakRssMiB.toFixed(0)} MiB < 200`]],
        notes: noFk, // the table's baseline cell shows it too; here it stands beside a miss's reasons
      };
    }, importFloor(0.6)),
  },
  { id: 'scaffold', bench: 'scaffold', what: 'scaffold `default`, no install, no git (ms)', baseline: 'create-vite react-ts', judge: atMost(1.5) },
  { id: 'scaffold-t3', bench: 'scaffold', what: 'scaffold `default`, no install, no git (ms)', baseline: 'create-t3-app', judge: atMost(0.5) },
  {
    id: 'add-table', bench: 'cli', what: '`xms add table` in an app, whole process (ms)', baseline: '`node -e 0`',
    judge: (m) => {
      const r = m.value / m.baseline;
      return { ratio: r, goal: '< 300 ms and <= 3.5x', parts: [[m.value < 300, `${ms(m.value)} < 300 ms`], [r <= 3.5, `ratio ${x(r)} <= 3.5x`]] };
    },
  },
  {
    id: 'check', bench: 'cli', what: '`xms check` on a default app after a source edit (database findings cached, server checks run): wall time, peak RSS', baseline: 'absolute (ratio: time / 1 s)',
    judge: (m) => ({
      ratio: m.value / 1000,
      goal: '<= 1 s, < 200 MiB',
      parts: [[m.value <= 1000, `${ms(m.value)} <= 1 s`], [m.peakRssMiB < 200, `peak RSS ${m.peakRssMiB.toFixed(0)} MiB < 200`]],
    }),
  },
  {
    id: 'dev-warm', bench: 'cli', what: '`npm run dev` to first 200 on PGlite, warm (second start)', baseline: 'absolute (ratio: time / 2 s)',
    judge: (m) => ({ ratio: m.value / 2000, goal: '<= 2 s', parts: [[m.value <= 2000, `${ms(m.value)} <= 2 s`]] }),
  },
  {
    id: 'dev-cold', bench: 'cli', what: '`npm run dev` to first 200 on PGlite, cold (fresh app)', baseline: 'absolute (ratio: time / 6 s)',
    judge: (m) => ({ ratio: m.value / 6000, goal: '<= 6 s', parts: [[m.value <= 6000, `${ms(m.value)} <= 6 s`]] }),
  },
  {
    id: 'api-me-pgbouncer-1', bench: 'http', what: '`GET /api/me` through PgBouncer (transaction pooling), 1 app instance (req/s)',
    baseline: 'the app connected directly', judge: (m) => ({ ratio: m.value / m.baseline, goal: 'none (reported)', parts: [] }),
  },
  {
    id: 'api-me-pgbouncer-2', bench: 'http', what: '`GET /api/me` through PgBouncer (transaction pooling), 2 app instances (req/s)',
    baseline: 'the app connected directly (1 instance)', judge: (m) => ({ ratio: m.value / m.baseline, goal: 'none (reported)', parts: [] }),
  },
];

// --- sizes passed to each benchmark
const sizes = {
  http: tiny ? ['--seconds', '1', '--rounds', '1', '--connections', '4', '--warm-requests', '1000'] : [],
  'rls-audit': tiny ? ['--rows', '2000', '--runs', '1', '--big-runs', '1', '--big-rows', '200', '--batch', '2', '--page-batch', '1', '--singles', '20'] : [],
  'csv-import': tiny ? ['--rows', '400', '--runs', '1'] : [],
  scaffold: tiny ? ['--runs', '1'] : [],
  cli: tiny ? ['--runs', '1', '--dev-runs', '1'] : [],
};

function runBench(name, args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bench', `${name}.mjs`), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    onCleanup(() => child.exitCode === null && child.signalCode === null && child.kill('SIGTERM'));
    let stdout = '';
    let stderr = '';
    const relay = (chunk, into) => {
      for (const line of String(chunk).split('\n')) if (line && !line.startsWith(RESULT_PREFIX)) console.log(`[${name}] ${line}`);
      return into + chunk;
    };
    child.stdout.on('data', (d) => (stdout = relay(d, stdout)));
    child.stderr.on('data', (d) => (stderr = relay(d, stderr)));
    child.on('close', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (code === 0 && line) return resolve({ results: JSON.parse(line.slice(RESULT_PREFIX.length)) });
      const why = (stderr.trim() || stdout.trim()).split('\n').find((l) => /error|failed|exited|answered/i.test(l)) ?? `exit code ${code}`;
      resolve({ error: `${name} failed: ${why.trim().slice(0, 200)}` });
    });
  });
}

const version = (dir, pkg) => {
  try {
    return JSON.parse(readFileSync(join(dir, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return 'not installed';
  }
};

run(async () => {
  const startedAt = new Date();
  const cpus = os.cpus();
  const machine = {
    cores: cpus.length,
    cpu: cpus[0]?.model ?? 'unknown',
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    load: os.loadavg().map((l) => l.toFixed(2)).join(', '),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
  const serverUrl = postgresServer();
  process.env.DATABASE_URL = serverUrl; // every benchmark creates (and drops) its own database there
  const admin = await connect(serverUrl);
  const postgres = (await admin.query('show server_version')).rows[0].server_version;
  await admin.end();

  console.log('installing the tools and an app (features admin, csv-import) ...');
  const tools = toolsDir(TOOLS);
  const app = option('app') ?? scaffold(['--features', 'admin,csv-import', '--yes', '--no-git', '--install']);
  const common = ['--app', app, '--tools', tools, ...(quick ? ['--quick'] : [])];

  // Before each benchmark: the dirty pages of what ran before (the app's install, a million-row
  // file) written out, and the load of what it left running allowed to fall, so that no benchmark
  // pays for the one before it (a scaffold writes hundreds of files and shares the disk's writeback).
  // Bounded: a busy machine is measured as it is, and the report gives its load.
  const settle = async () => {
    const started = Date.now();
    spawnSync('sync');
    while (os.loadavg()[0] > 0.7 && Date.now() - started < 60_000 && !quick) await new Promise((r) => setTimeout(r, 1000));
    const waited = (Date.now() - started) / 1000;
    if (waited >= 1) console.log(`settled for ${waited.toFixed(0)} s (load ${os.loadavg()[0].toFixed(2)})`);
  };

  const measured = {};
  const failed = {};
  for (const name of ['scaffold', 'cli', 'rls-audit', 'csv-import', 'http']) {
    await settle();
    console.log(`--- ${name}`);
    const started = Date.now();
    const r = await runBench(name, [...common, ...sizes[name]]);
    console.log(`--- ${name}: ${r.error ?? 'done'} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    if (r.error) failed[name] = r.error;
    else Object.assign(measured, r.results);
  }

  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
  const self = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  const pgbouncer = pgbouncerBinary();
  const versions = [
    ['node', process.version],
    ['npm', spawnSync('npm', ['--version'], { encoding: 'utf8' }).stdout.trim()],
    ['PostgreSQL', postgres],
    ['PgBouncer', pgbouncer ? spawnSync(pgbouncer, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0].replace(/^PgBouncer /, '') : 'not installed'],
    ['create-xms-app', `${self}${git.status === 0 ? ` (${git.stdout.trim()})` : ''}`],
    ...['fastify', 'pg', '@electric-sql/pglite', 'tsx', 'argon2', 'csv-parse', 'typescript'].map((p) => [p, version(app, p)]),
    ...['autocannon', 'create-vite', 'create-t3-app'].map((p) => [p, version(tools, p)]),
  ];

  // --- the report
  const rows = ROWS.map((row) => {
    const m = measured[row.id];
    if (!m) return { row, verdict: `not measured: ${failed[row.bench] ?? `${row.bench} reported no ${row.id}`}` };
    if (m.notMeasured) return { row, verdict: `not measured: ${m.notMeasured}` };
    const j = row.judge(m);
    const verdict = j.parts.length === 0 ? 'no goal' : j.parts.every(([ok]) => ok) ? 'met' : 'missed';
    return { row, m, j, verdict };
  });
  const cell = (s) => String(s).replace(/\|/g, '\\|');
  const lines = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench${quick ? ' -- --quick' : ''}\` on ${startedAt.toISOString().replace(/\.\d+Z$/, 'Z')}${quick ? ' (quick: small sizes, a smoke run, not a measurement)' : ''}.`,
    'Each ratio is against its baseline measured in the same run; medians of interleaved runs (see the',
    'comment at the top of each `bench/*.mjs` for what exactly runs). Throughput rows: ratio = measured /',
    'baseline (higher is better); time rows: ratio = measured / baseline (lower is better). The HTTP rows',
    "(api-me, health): the median of each round's ratio, its sides measured back to back; the req/s",
    'shown beside it are the medians of the rounds.',
    '',
    '## Machine',
    '',
    `- ${machine.cores} cores, ${machine.cpu}`,
    `- memory ${machine.memory}; ${machine.os}`,
    `- load average at start: ${machine.load}`,
    '',
    '## Versions',
    '',
    ...versions.map(([k, v]) => `- ${k} ${v}`),
    '',
    '## Results',
    '',
    '| id | measured | baseline | value | baseline value | ratio | goal | verdict |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(({ row, m, j, verdict }) =>
      m && j
        ? `| ${row.id} | ${cell(row.what)} | ${cell(row.baseline)} | ${fmt(m.value, m.unit)}${m.peakRssMiB ? `, ${m.peakRssMiB.toFixed(0)} MiB peak RSS` : ''}${m.uncachedMs !== undefined ? ` (no cached findings, as after a migration edit: ${fmt(m.uncachedMs, 'ms')}, ${m.uncachedPeakRssMiB.toFixed(0)} MiB)` : ''}${m.cachedMs !== undefined ? ` (unchanged app, findings cached: ${fmt(m.cachedMs, 'ms')}, ${m.cachedPeakRssMiB.toFixed(0)} MiB)` : ''}${m.checkoutMs !== undefined ? ` (run from this checkout, which hashes itself to depend on a packed local tarball: ${fmt(m.checkoutMs, 'ms')}, ${x(m.checkoutMs / m.baseline)})` : ''}${m.floor !== undefined ? ` (floor: ${fmt(m.floor, m.unit)}, ${x(m.paired?.rps?.floor ?? m.floor / m.baseline)}${m.identityFloor !== undefined ? `; identity floor: ${fmt(m.identityFloor, m.unit)}, ${x(m.identityFloor / m.baseline)}` : ''})` : ''} | ${m.baseline !== undefined ? fmt(m.baseline, m.unit) : '-'}${m.copyWithoutForeignKeys !== undefined ? ` (into a copy without its foreign keys: ${fmt(m.copyWithoutForeignKeys, m.unit)}, ${x(m.value / m.copyWithoutForeignKeys)})` : ''} | ${x(j.ratio)} | ${cell(j.goal)} | ${verdict} |`
        : `| ${row.id} | ${cell(row.what)} | ${cell(row.baseline)} | - | - | - | - | ${cell(verdict)} |`,
    ),
    '',
  ];
  const sizesLine = Object.entries(measured)
    .map(([id, m]) => `${id}: ${Object.entries(m).filter(([k, v]) => Number.isInteger(v) && !['value', 'baseline', 'floor', 'peakRssMiB', 'uncachedMs', 'uncachedPeakRssMiB', 'cachedMs', 'cachedPeakRssMiB', 'copyWithoutForeignKeys', 'triggerFloor', 'appSql', 'identityFloor', 'identityFloorTokenInText', 'checkoutMs', 'nodeMs'].includes(k)).map(([k, v]) => `${k} ${v}`).join(', ')}`)
    .filter((l) => !l.endsWith(': '));
  lines.push('Sizes and runs: ' + sizesLine.join('; ') + '.', '');
  const missed = rows.filter((r) => r.verdict === 'missed');
  if (missed.length) {
    lines.push('## Why rows missed', '');
    for (const { row, m, j } of missed) {
      lines.push(`### ${row.id}`, '');
      for (const [ok, text] of j.parts) lines.push(`- ${ok ? 'met' : 'missed'}: ${text}`);
      for (const note of j.notes ?? []) lines.push(`- ${note}`);
      if (m.plans) {
        lines.push('', 'Plans (EXPLAIN ANALYZE), request role then owner + filter:', '', '```', m.plans.a.text, '', m.plans.b.text, '```');
      }
      if (m.profile?.length) {
        lines.push('', "Top of V8's CPU profile of the app under this load (self time; sampled on wall-clock time, so a system call the thread is preempted in counts in full: the writes' shares are larger than their CPU time, see docs/benchmarks.md, session 26):", '', ...m.profile.map((p) => `- ${p.percent.toFixed(1)}% ${cell(p.fn)}`));
      }
      if (m.peakRssMiB !== undefined) lines.push(`- peak RSS ${m.peakRssMiB.toFixed(0)} MiB`);
      for (const note of m.notes ?? []) lines.push(`- ${note}`);
      if (row.id.startsWith('scaffold')) lines.push(`- for scale: \`node -e 0\` ${ms(m.nodeMs)}`);
      lines.push('');
    }
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, lines.join('\n'));
  console.log(`\n${lines.filter((l) => l.startsWith('| ')).join('\n')}\n\nwrote ${out}`);
  if (Object.keys(failed).length) {
    console.error(`failed: ${Object.values(failed).join('; ')}`);
    process.exitCode = 1;
  }
});
