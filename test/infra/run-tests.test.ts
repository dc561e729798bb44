// The test runner itself: uvu summary parsing (against captured uvu output), verdicts, the closing
// line, and one real run of scripts/run-tests.mjs over a throw-away tree of tiny suites.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error plain ESM script without types
import { AREA_ORDER, canStart, discover, judge, parseUvuSummary, scheduling, startOrder, stripAnsi, summaryLine } from '../../scripts/run-tests.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const fixture = (name: string) => readFileSync(path.join(here, 'fixtures', name), 'utf8');

test('parses a captured passing uvu run (colours, two suites, one skipped)', () => {
  const out = fixture('uvu-pass.ansi.txt');
  assert.ok(out.includes('\u001b['), 'sample keeps its ANSI colours');
  assert.equal(parseUvuSummary(out), { total: 3, passed: 3, skipped: 1, failed: 0 });
});

test('parses a captured failing uvu run, coloured and plain', () => {
  const expected = { total: 4, passed: 1, skipped: 0, failed: 3 };
  assert.equal(parseUvuSummary(fixture('uvu-fail.ansi.txt')), expected);
  assert.equal(parseUvuSummary(fixture('uvu-fail.plain.txt')), expected);
});

test('no summary, truncated summary, and the last of several summaries', () => {
  assert.is(parseUvuSummary(''), null);
  assert.is(parseUvuSummary('TypeError: x is not a function\n    at file.ts:1:1\n'), null);
  assert.is(parseUvuSummary('  Total:     3\n'), null, 'Total alone is not a summary');
  const two = '  Total:     2\n  Passed:    2\n  Skipped:   0\n\nmore\n  Total:     5\n  Passed:    4\n  Skipped:   1\n  Duration:  1ms\n';
  assert.equal(parseUvuSummary(two), { total: 5, passed: 4, skipped: 1, failed: 1 });
  assert.equal(parseUvuSummary('\r\n  Total:     1\r\n  Passed:    1\r\n  Skipped:   0\r\n'), { total: 1, passed: 1, skipped: 0, failed: 0 });
});

test('stripAnsi removes colour codes only', () => {
  assert.is(stripAnsi('\u001b[31m  Passed:    1\u001b[39m'), '  Passed:    1');
  assert.is(stripAnsi('plain • ✘'), 'plain • ✘');
});

test('judge: crashes, silent exits, late crashes, lingering and timeouts count as failures', () => {
  const ok = '  Total:     2\n  Passed:    2\n  Skipped:   1\n';
  assert.equal(judge({ stdout: ok, code: 0, signal: null }), { passed: 2, failed: 0, skipped: 1, note: '' });
  const fail = fixture('uvu-fail.plain.txt');
  assert.equal(judge({ stdout: fail, code: 1, signal: null }), { passed: 1, failed: 3, skipped: 0, note: '' });
  const crash = judge({ stdout: 'partial output', code: 1, signal: null });
  assert.equal([crash.passed, crash.failed, crash.skipped], [0, 1, 0]);
  assert.match(crash.note, /crashed \(exit code 1\)/);
  assert.match(judge({ stdout: '', code: null, signal: 'SIGKILL' }).note, /killed by SIGKILL/);
  const silent = judge({ stdout: '', code: 0, signal: null });
  assert.is(silent.failed, 1);
  assert.match(silent.note, /test\.run\(\)/);
  const late = judge({ stdout: ok, code: 1, signal: null });
  assert.equal([late.passed, late.failed], [2, 1]);
  const linger = judge({ stdout: ok, code: null, signal: null, lingered: 30 });
  assert.equal([linger.passed, linger.failed], [2, 1]);
  assert.match(linger.note, /open handle/);
  const slow = judge({ stdout: '', code: null, signal: 'SIGTERM', timedOut: 600 });
  assert.equal([slow.failed], [1]);
  assert.match(slow.note, /timeout/);
});

test('summaryLine: skipped only when any', () => {
  assert.is(summaryLine({ passed: 3, failed: 0, skipped: 0 }), '3 passed, 0 failed');
  assert.is(summaryLine({ passed: 3, failed: 2, skipped: 1 }), '3 passed, 2 failed, 1 skipped');
});

// --- a real run over a tree of tiny suites --------------------------------------------------------

const suites: Record<string, string> = {
  'test/zeta/pass.test.ts': `import { test } from 'uvu'; import * as assert from 'uvu/assert';
test('one', () => assert.ok(true)); test('two', () => assert.is(1, 1)); test.skip('later', () => {}); test.run();`,
  'test/infra/fail.test.ts': `import { test } from 'uvu'; import * as assert from 'uvu/assert';
test('good', () => assert.ok(true)); test('bad', () => assert.is(1, 2)); test.run();`,
  'test/db/crash.test.ts': `console.log('about to crash'); throw new Error('crash before any test');`,
  'test/e2e/last.test.ts': `import { test } from 'uvu'; import * as assert from 'uvu/assert';
test('runs last', () => assert.ok(process.env.XMS_TEST_FILE === 'test/e2e/last.test.ts')); test.run();`,
  'test/stray.test.ts': `throw new Error('never run');`,
};

function tree(files: Record<string, string>) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'run-tests-'));
  symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
  writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
  for (const [f, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), body);
  }
  return dir;
}

function runner(dir: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(repo, 'scripts/run-tests.mjs'), '--root', dir, ...args], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' }, timeout: 120_000,
  });
  const lines = r.stdout.trimEnd().split('\n');
  return { ...r, lines, last: lines[lines.length - 1] };
}

test('discover: fixed area order, unknown areas alphabetically, e2e last, stray files reported', () => {
  const dir = tree(suites);
  try {
    const { files, stray } = discover(dir);
    assert.equal(files.map((f: { file: string }) => f.file), [
      'test/infra/fail.test.ts', 'test/db/crash.test.ts', 'test/zeta/pass.test.ts', 'test/e2e/last.test.ts',
    ]);
    assert.equal(stray, ['test/stray.test.ts']);
    const only = discover(dir, ['zeta', 'test/db/crash.test.ts', 'nope']);
    assert.equal(only.files.map((f: { file: string }) => f.file), ['test/db/crash.test.ts', 'test/zeta/pass.test.ts']);
    assert.equal(only.unknown, ['nope']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("AREA_ORDER names exactly this repository's test folders (none missing, none stale)", () => {
  const folders = readdirSync(path.join(repo, 'test'), { withFileTypes: true })
    .filter((e) => e.isDirectory() && readdirSync(path.join(repo, 'test', e.name)).some((f) => f.endsWith('.test.ts')))
    .map((e) => e.name)
    .sort();
  assert.equal([...AREA_ORDER].sort(), folders);
});

test('a full run sums every file into one closing line and fails on any failure', () => {
  const dir = tree(suites);
  try {
    const r = runner(dir);
    assert.is(r.status, 1, r.stdout + r.stderr);
    // zeta: 2 passed 1 skipped; infra: 1 passed 1 failed; db: crash = 1 failed; e2e: 1 passed
    assert.is(r.last, '4 passed, 2 failed, 1 skipped');
    assert.is(r.lines.filter((l) => /^\d+ passed, \d+ failed/.test(l)).length, 1, 'exactly one closing line');
    assert.match(r.stdout, /FAIL test\/db\/crash\.test\.ts .*crashed \(exit code 1\) without a uvu summary/);
    assert.match(r.stdout, /about to crash/);
    assert.match(r.stdout, /ignored test\/stray\.test\.ts/);
    const e2eAt = r.stdout.indexOf('[e2e/last]');
    assert.ok(e2eAt > r.stdout.indexOf('test/zeta/pass.test.ts'), 'e2e runs last, streamed with its prefix');

    const some = runner(dir, 'zeta', 'e2e');
    assert.is(some.status, 0, some.stdout);
    assert.is(some.last, '3 passed, 0 failed, 1 skipped');

    const none = runner(dir, 'nope');
    assert.is(none.status, 1);
    assert.match(none.stdout, /no test area or file named nope/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('scheduling: the run-tests comment (serial, early, lock=name), e2e alone by default', () => {
  assert.equal(scheduling('// run-tests: serial\nimport x;', 'db'), { serial: true, early: false, locks: [] });
  assert.equal(scheduling('// run-tests: lock=postgres early\n', 'e2e'), { serial: false, early: true, locks: ['postgres'] });
  assert.equal(scheduling('/* run-tests: lock=a lock=b */\n', 'db'), { serial: false, early: false, locks: ['a', 'b'] });
  assert.equal(scheduling('import x;\n', 'e2e'), { serial: true, early: false, locks: [] });
  assert.equal(scheduling('import x;\n', 'db'), { serial: false, early: false, locks: [] });
  assert.equal(scheduling(`${'\n'.repeat(9)}// run-tests: serial\n`, 'db').serial, false, 'only the first lines count');
  const f = (file: string, area: string, early = false, serial = false, locks: string[] = []) => ({ file, area, early, serial, locks });
  const order = startOrder([f('a', 'infra'), f('b', 'generators', true), f('c', 'e2e', true), f('d', 'faults')]);
  assert.equal(order.map((e: { file: string }) => e.file), ['c', 'b', 'a', 'd'], 'early first, e2e before the other early ones');
  const pg = f('pg', 'db', false, false, ['postgres']);
  assert.ok(canStart(pg, [f('x', 'cli')]));
  assert.not.ok(canStart(pg, [f('y', 'e2e', true, false, ['postgres'])]), 'a held lock waits');
  assert.ok(canStart(f('z', 'cli'), [pg]), 'a file without the lock runs beside it');
  assert.not.ok(canStart(f('s', 'db', false, true), [pg]), 'serial waits for everything');
  assert.ok(canStart(f('s', 'db', false, true), []));
  assert.not.ok(canStart(f('z', 'cli'), [f('s', 'db', false, true)]), 'nothing beside a serial file');
});

test('a real run: files holding one lock never overlap, an early file starts first, a free file runs beside the lock', () => {
  // each file logs its start and end (ms) to log.txt in the tree (the runner's cwd)
  const body = (name: string, header = '') => `${header}
import { appendFileSync } from 'node:fs'; import { test } from 'uvu';
test('${name}', async () => {
  appendFileSync('log.txt', \`${name} start \${Date.now()}\\n\`);
  await new Promise((r) => setTimeout(r, 2000)); // long enough to overlap on a busy machine
  appendFileSync('log.txt', \`${name} end \${Date.now()}\\n\`);
}); test.run();`;
  const dir = tree({
    'test/infra/one.test.ts': body('one', '// run-tests: lock=pg'),
    'test/infra/two.test.ts': body('two', '// run-tests: lock=pg'),
    'test/matrix/free.test.ts': body('free'),
    'test/zeta/long.test.ts': body('long', '// run-tests: early'),
  });
  try {
    const r = runner(dir);
    assert.is(r.last, '4 passed, 0 failed', r.stdout);
    const at = new Map<string, number>();
    for (const line of readFileSync(path.join(dir, 'log.txt'), 'utf8').trim().split('\n')) {
      const [name, what, ms] = line.split(' ');
      at.set(`${name} ${what}`, Number(ms));
    }
    const span = (n: string) => [at.get(`${n} start`)!, at.get(`${n} end`)!] as const;
    const overlap = (a: string, b: string) => span(a)[0] < span(b)[1] && span(b)[0] < span(a)[1];
    // last in run order, but early: in the first two started, so before any other file ended
    assert.ok(span('long')[0] < Math.min(span('one')[1], span('two')[1], span('free')[1]), 'the early file started first');
    assert.not.ok(overlap('one', 'two'), 'one and two hold lock=pg: never at the same time');
    assert.ok(overlap('long', 'one'), 'two files at a time');
    assert.match(r.stdout, /\[zeta\/long\] /, 'an early file streams with its prefix');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an early file gets the long limit (XMS_E2E_TIMEOUT), any other file XMS_TEST_TIMEOUT', () => {
  const slow = (header: string) => `${header}
import { test } from 'uvu'; test('slow', () => new Promise((r) => setTimeout(r, 2500))); test.run();`;
  const dir = tree({ 'test/a/long.test.ts': slow('// run-tests: early'), 'test/a/short.test.ts': slow('') });
  try {
    const r = spawnSync(process.execPath, [path.join(repo, 'scripts/run-tests.mjs'), '--root', dir], {
      encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', XMS_TEST_TIMEOUT: '1', XMS_E2E_TIMEOUT: '60' }, timeout: 60_000,
    });
    assert.match(r.stdout, /ok {3}test\/a\/long\.test\.ts \(1 passed/);
    assert.match(r.stdout, /FAIL test\/a\/short\.test\.ts .*killed after 1 s \(timeout\)/);
    assert.is(r.stdout.trimEnd().split('\n').pop(), '1 passed, 1 failed', r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file that never exits after its summary is killed and counted as a failure', () => {
  const dir = tree({
    'test/a/hang.test.ts': `import { test } from 'uvu'; test('fine', () => {}); test.run(); setInterval(() => {}, 1000);`,
  });
  try {
    const r = spawnSync(process.execPath, [path.join(repo, 'scripts/run-tests.mjs'), '--root', dir], {
      encoding: 'utf8', env: { ...process.env, XMS_TEST_LINGER: '1' }, timeout: 60_000,
    });
    const last = r.stdout.trimEnd().split('\n').pop();
    assert.is(last, '1 passed, 1 failed', r.stdout);
    assert.match(r.stdout, /did not exit within 1 s after its summary/);
    assert.is(r.status, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
