#!/usr/bin/env node
// The one test command: runs every uvu suite and sums them into one closing line.
//
//   node scripts/run-tests.mjs                 every area
//   node scripts/run-tests.mjs matrix db       only these areas (test/matrix, test/db)
//   node scripts/run-tests.mjs test/db/x.test.ts   only these files
//
// Suites are `test/<area>/*.test.ts`. Areas run in the fixed order of AREA_ORDER (areas not listed
// there follow alphabetically), `e2e` always last. Each file runs in its own child process
// `node --import tsx <file>` (uvu files call `test.run()` themselves), stdin closed, cwd = repo root;
// up to XMS_TEST_JOBS (default 2, the machine's cores) at a time. A `run-tests:` comment in a file's
// first lines tells the runner how the file may share the machine (words separated by spaces):
//   serial       the file runs alone: nothing else at the same time (the default of e2e files)
//   lock=<name>  never at the same time as another file holding the same lock (e.g. lock=postgres: the
//                files that create databases and migrate on DATABASE_URL's server, whose roles are
//                shared by every database of the cluster), but beside any other file
//   early        started before the files without it (e2e ones first): a long file started last
//                would end the run alone while the other cores sit idle
// A file waits while its lock is held or a serial file runs (a serial file waits until nothing runs);
// meanwhile the next file in order that can start does.
// Output: a file prints as one block when it ends; a serial, early or e2e file (or any file when
// one runs at a time) streams its lines with a `[area/file]` prefix as they come.
//
// Counting: the last uvu summary (`Total:`, `Passed:`, `Skipped:`) in a file's stdout, ANSI colours
// stripped, gives passed = Passed, failed = Total - Passed, skipped = Skipped. A file that exits
// non-zero or crashes without a summary counts as 1 failure; so does one that exits 0 without a
// summary (it registered no test or never called test.run()), one whose exit code is non-zero
// although its summary shows no failure (it crashed afterwards), and one that does not exit within
// XMS_TEST_LINGER seconds (default 30) after printing its summary (an open handle: a PGlite, pool or
// server never closed). A file is killed (its whole process group) after XMS_TEST_TIMEOUT seconds
// (default 600; XMS_E2E_TIMEOUT, default 1800, for e2e and early files: the long ones, which share the
// machine with other files).
// Each child gets XMS_TEST_FILE (its path) and XMS_TEST_SLOT (0..jobs-1, unique among files running
// at the same time), e.g. for a per-file database name.
//
// The last line printed is exactly `N passed, N failed` (`, N skipped` when any); the exit code is
// 1 if anything failed (or no test file was found), else 0.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Fast, self-contained areas first so a broken build shows in seconds; the suites that scaffold and
// install apps or start their own clusters follow. Every folder of test/ is listed (a test checks it).
export const AREA_ORDER = [
  'infra', 'matrix', 'check', 'cli', 'generators', 'snapshots', 'harden', 'csv-import', 'db',
  'mutations', 'update', 'faults', 'bench', 'e2e',
];
const LAST_AREAS = ['e2e'];

// eslint-disable-next-line no-control-regex
const ANSI = /[\u001b\u009b][[\]()#;?]*(?:(?:(?:[a-zA-Z\d]*(?:;[a-zA-Z\d]*)*)?\u0007)|(?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PR-TZcf-ntqry=><~]))/g;
export const stripAnsi = (s) => String(s).replace(ANSI, '');

/**
 * Parse uvu's closing lines. Returns { total, passed, skipped, failed } from the LAST summary in
 * the text, or null when there is none.
 */
export function parseUvuSummary(text) {
  const lines = stripAnsi(text).split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const t = /^\s*Total:\s+(\d+)\s*$/.exec(lines[i]);
    if (!t) continue;
    let passed = null;
    let skipped = null;
    for (let j = i + 1; j < Math.min(lines.length, i + 4); j++) {
      const p = /^\s*Passed:\s+(\d+)\s*$/.exec(lines[j]);
      const s = /^\s*Skipped:\s+(\d+)\s*$/.exec(lines[j]);
      if (p) passed = Number(p[1]);
      if (s) skipped = Number(s[1]);
    }
    if (passed === null || skipped === null) continue;
    const total = Number(t[1]);
    return { total, passed, skipped, failed: Math.max(0, total - passed) };
  }
  return null;
}

/**
 * Decide what one finished file counts as. `run` = { stdout, code, signal, timedOut, lingered }.
 * Returns { passed, failed, skipped, note } where note explains any failure not reported by uvu.
 */
export function judge(run) {
  const s = parseUvuSummary(run.stdout ?? '');
  if (run.timedOut) {
    return { passed: s?.passed ?? 0, failed: (s?.failed ?? 0) + 1, skipped: s?.skipped ?? 0, note: `killed after ${run.timedOut} s (timeout)` };
  }
  if (!s) {
    const how = run.signal ? `killed by ${run.signal}` : `exit code ${run.code}`;
    const note = run.code === 0 && !run.signal
      ? 'exit code 0 but no uvu summary (no test registered, or test.run() never called)'
      : `crashed (${how}) without a uvu summary`;
    return { passed: 0, failed: 1, skipped: 0, note };
  }
  if (run.lingered) {
    return { ...pick(s), failed: s.failed + 1, note: `did not exit within ${run.lingered} s after its summary (open handle? close every PGlite, pool and server)` };
  }
  if ((run.code !== 0 || run.signal) && s.failed === 0) {
    return { ...pick(s), failed: 1, note: `summary shows no failure but the process ended with ${run.signal ?? `exit code ${run.code}`}` };
  }
  return { ...pick(s), note: '' };
}
const pick = (s) => ({ passed: s.passed, failed: s.failed, skipped: s.skipped });

/** `N passed, N failed` plus `, N skipped` when any. */
export function summaryLine({ passed, failed, skipped }) {
  return `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
}

/** Find test files: returns [{ area, file (relative, posix) }] in run order. */
export function discover(root, filters = []) {
  const testDir = path.join(root, 'test');
  const found = [];
  const stray = [];
  if (existsSync(testDir)) {
    for (const ent of readdirSync(testDir, { withFileTypes: true })) {
      if (ent.isFile() && ent.name.endsWith('.test.ts')) stray.push(`test/${ent.name}`);
      if (!ent.isDirectory()) continue;
      for (const f of readdirSync(path.join(testDir, ent.name)).sort()) {
        if (f.endsWith('.test.ts') && statSync(path.join(testDir, ent.name, f)).isFile()) {
          found.push({ area: ent.name, file: `test/${ent.name}/${f}` });
        }
      }
    }
  }
  const rank = (a) => {
    if (LAST_AREAS.includes(a)) return [2, LAST_AREAS.indexOf(a), a];
    const i = AREA_ORDER.indexOf(a);
    return i >= 0 ? [0, i, a] : [1, 0, a];
  };
  const cmp = (x, y) => {
    const a = rank(x.area), b = rank(y.area);
    return a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0) || (x.file < y.file ? -1 : 1);
  };
  found.sort(cmp);
  if (!filters.length) return { files: found, stray, unknown: [] };
  const unknown = [];
  const picked = new Set();
  for (const f of filters) {
    const norm = f.replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/$/, '');
    const byFile = found.filter((x) => x.file === norm);
    const byArea = found.filter((x) => x.area === norm || `test/${x.area}` === norm);
    if (!byFile.length && !byArea.length) unknown.push(f);
    for (const x of [...byFile, ...byArea]) picked.add(x.file);
  }
  return { files: found.filter((x) => picked.has(x.file)), stray, unknown };
}

/**
 * The scheduling words of a file's `run-tests:` comment (first 8 lines): { serial, early, locks }.
 * Without a comment, e2e files run alone (serial), every other file in the pool.
 */
export function scheduling(text, area) {
  const head = String(text).split('\n', 8).join('\n');
  const m = /run-tests:([^\n]*)/.exec(head);
  if (!m) return { serial: LAST_AREAS.includes(area), early: false, locks: [] };
  const words = m[1].replace(/\*\/.*$/, '').trim().split(/\s+/).filter(Boolean);
  return {
    serial: words.includes('serial'),
    early: words.includes('early'),
    locks: words.filter((w) => w.startsWith('lock=')).map((w) => w.slice(5)).filter(Boolean),
  };
}

function readScheduling(root, entry) {
  try {
    return scheduling(readFileSync(path.join(root, entry.file), 'utf8'), entry.area);
  } catch {
    return scheduling('', entry.area);
  }
}

/**
 * The order files are offered to the pool: early ones first (e2e before the others, then in run
 * order), then the rest in run order.
 */
export function startOrder(entries) {
  const early = entries.filter((e) => e.early);
  const e2eFirst = [...early.filter((e) => LAST_AREAS.includes(e.area)), ...early.filter((e) => !LAST_AREAS.includes(e.area))];
  return [...e2eFirst, ...entries.filter((e) => !e.early)];
}

/** May `entry` start beside the `running` files? */
export function canStart(entry, running) {
  if (entry.serial) return running.length === 0;
  if (running.some((r) => r.serial)) return false;
  return !entry.locks.some((lock) => running.some((r) => r.locks.includes(lock)));
}

const fmtSecs = (ms) => `${(ms / 1000).toFixed(1)} s`;

async function main(argv) {
  // --root DIR: run another tree's tests (used by the runner's own tests)
  const rootAt = argv.indexOf('--root');
  const root = rootAt >= 0 && argv[rootAt + 1]
    ? path.resolve(argv.splice(rootAt, 2)[1])
    : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const jobs = Math.max(1, Number(process.env.XMS_TEST_JOBS) || Math.min(2, os.availableParallelism?.() ?? os.cpus().length));
  const timeout = Number(process.env.XMS_TEST_TIMEOUT) || 600;
  const e2eTimeout = Number(process.env.XMS_E2E_TIMEOUT) || 1800;
  const linger = Number(process.env.XMS_TEST_LINGER) || 30;
  const t0 = Date.now();
  const out = (s) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);

  const args = argv.filter((a) => !a.startsWith('-'));
  if (argv.includes('--help') || argv.includes('-h')) {
    out('usage: node scripts/run-tests.mjs [area|test file ...]');
    return 0;
  }
  const { files, stray, unknown } = discover(root, args);
  for (const s of stray) out(`run-tests: ignored ${s} (suites live in test/<area>/*.test.ts)`);
  if (unknown.length) {
    out(`run-tests: no test area or file named ${unknown.join(', ')}`);
    out(summaryLine({ passed: 0, failed: 1, skipped: 0 }));
    return 1;
  }
  if (!files.length) {
    out('run-tests: no test files found (test/<area>/*.test.ts)');
    out(summaryLine({ passed: 0, failed: 0, skipped: 0 }));
    return 1;
  }

  const areas = [...new Set(files.map((f) => f.area))];
  out(`run-tests: ${files.length} file${files.length === 1 ? '' : 's'} in ${areas.join(', ')}; ${jobs} at a time; ` +
    `database: ${process.env.DATABASE_URL ? 'DATABASE_URL is set (real PostgreSQL)' : 'DATABASE_URL unset (PGlite)'}`);

  const children = new Set();
  const results = [];

  const killGroup = (child, sig) => {
    try {
      process.kill(-child.pid, sig);
    } catch {
      try { child.kill(sig); } catch { /* gone */ }
    }
  };

  function runFile(entry, slot, stream) {
    const label = entry.file.replace(/^test\//, '').replace(/\.test\.ts$/, '');
    const started = Date.now();
    const limit = entry.area === 'e2e' || entry.early ? e2eTimeout : timeout;
    return new Promise((resolve) => {
      const env = { ...process.env, XMS_TEST_FILE: entry.file, XMS_TEST_SLOT: String(slot) };
      if (process.stdout.isTTY && env.FORCE_COLOR === undefined && env.NO_COLOR === undefined) env.FORCE_COLOR = '1';
      if (stream) out(`━━ ${entry.file} (output streams as [${label}])`);
      const child = spawn(process.execPath, ['--import', 'tsx', entry.file], {
        cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
      });
      children.add(child);
      let stdout = '';
      let block = '';
      let timedOut = 0;
      let lingered = 0;
      let lingerTimer = null;
      const partial = { out: '', err: '' };
      const emit = (kind, chunk, flush = false) => {
        if (!stream) { block += chunk; return; }
        partial[kind] += chunk;
        const lines = partial[kind].split('\n');
        partial[kind] = flush ? '' : lines.pop();
        for (const l of lines) if (l.length || !flush) out(`[${label}] ${l}`);
      };
      child.stdout.setEncoding('utf8');
      child.stderr.setEncoding('utf8');
      child.stdout.on('data', (d) => {
        stdout += d;
        emit('out', d);
        if (!lingerTimer && parseUvuSummary(stdout.slice(-2000))) {
          lingerTimer = setTimeout(() => { lingered = linger; killGroup(child, 'SIGKILL'); }, linger * 1000);
        }
      });
      child.stderr.on('data', (d) => emit('err', d));
      const killTimer = setTimeout(() => {
        timedOut = limit;
        killGroup(child, 'SIGTERM');
        setTimeout(() => killGroup(child, 'SIGKILL'), 5000).unref();
      }, limit * 1000);
      child.on('error', (e) => { block += `\nrun-tests: could not start: ${e.message}\n`; });
      child.on('close', (code, signal) => {
        clearTimeout(killTimer);
        if (lingerTimer) clearTimeout(lingerTimer);
        children.delete(child);
        // leave no grandchild behind (servers started by the test)
        killGroup(child, 'SIGKILL');
        if (stream) { emit('out', '', true); emit('err', '', true); }
        const verdict = judge({ stdout, code, signal: lingered ? null : signal, timedOut, lingered });
        const ms = Date.now() - started;
        const parts = [`${verdict.passed} passed`];
        if (verdict.failed) parts.push(`${verdict.failed} failed`);
        if (verdict.skipped) parts.push(`${verdict.skipped} skipped`);
        parts.push(fmtSecs(ms));
        const status = verdict.failed ? 'FAIL' : 'ok  ';
        const trailer = `${status} ${entry.file} (${parts.join(', ')})${verdict.note ? `: ${verdict.note}` : ''}`;
        if (!stream) {
          out(`━━ ${entry.file}`);
          if (block.length) out(block.replace(/\n+$/, ''));
        }
        out(`━━ ${trailer}`);
        resolve({ ...entry, ...verdict, ms, code, signal });
      });
    });
  }

  let interrupted = false;
  const onSignal = (sig) => {
    interrupted = true;
    for (const c of children) killGroup(c, 'SIGKILL');
    out(`run-tests: interrupted by ${sig}`);
    const t = results.reduce((a, r) => ({ passed: a.passed + r.passed, failed: a.failed + r.failed, skipped: a.skipped + r.skipped }), { passed: 0, failed: 1, skipped: 0 });
    out(summaryLine(t));
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // pool: keep up to `jobs` files running, each the first in start order that its locks allow
  const queue = startOrder(files.map((f) => ({ ...f, ...readScheduling(root, f) })));
  const free = Array.from({ length: Math.min(jobs, queue.length) }, (_, i) => i);
  const running = [];
  await new Promise((done) => {
    const next = () => {
      if (interrupted) return;
      while (free.length && queue.length) {
        const at = queue.findIndex((e) => canStart(e, running));
        if (at < 0) break;
        const [entry] = queue.splice(at, 1);
        const slot = free.shift();
        running.push(entry);
        const stream = jobs === 1 || entry.serial || entry.early || LAST_AREAS.includes(entry.area);
        runFile(entry, slot, stream).then((r) => {
          results.push(r);
          free.push(slot);
          running.splice(running.indexOf(entry), 1);
          if (!queue.length && !running.length) done();
          else next();
        });
      }
    };
    next();
  });

  const total = results.reduce((a, r) => ({ passed: a.passed + r.passed, failed: a.failed + r.failed, skipped: a.skipped + r.skipped }), { passed: 0, failed: 0, skipped: 0 });
  const failedFiles = results.filter((r) => r.failed);
  out('');
  out(`run-tests: ${results.length} file${results.length === 1 ? '' : 's'} in ${fmtSecs(Date.now() - t0)} (${fmtSecs(results.reduce((a, r) => a + r.ms, 0))} of test time)`);
  for (const r of failedFiles) out(`  FAIL ${r.file}: ${r.failed} failed${r.note ? ` (${r.note})` : ''}`);
  out(summaryLine(total));
  return total.failed ? 1 : 0;
}

const invokedDirectly = process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url;
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => {
      process.stdout.write(`run-tests: internal error: ${err?.stack ?? err}\n${summaryLine({ passed: 0, failed: 1, skipped: 0 })}\n`);
      process.exitCode = 1;
    },
  );
}
