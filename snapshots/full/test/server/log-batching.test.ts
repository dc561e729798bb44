// The server's log lines are written in batches (src/server/logging.ts, batchedDestination): held for
// up to LOG_BATCH_MS, in order, and written when the process exits.
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batchedDestination, LOG_BATCH_MS } from '../../src/server/logging.js';

/** A destination that records its writes (and flushes). */
function recorder() {
  const writes: string[] = [];
  const calls: string[] = [];
  return {
    writes,
    calls,
    write: (chunk: string) => void writes.push(chunk),
    flush: (callback?: () => void) => {
      calls.push('flush');
      callback?.();
    },
    flushSync: () => void calls.push('flushSync'),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('lines that come within the interval are written together after it, in order', async () => {
  const out = recorder();
  const log = batchedDestination(out, { intervalMs: 30 });
  log.write('one\n');
  log.write('two\n');
  log.write('three\n');
  assert.equal(out.writes, [], 'nothing is written at once');
  await sleep(80);
  assert.equal(out.writes, ['one\ntwo\nthree\n']);
  log.write('four\n');
  await sleep(80);
  assert.equal(out.writes, ['one\ntwo\nthree\n', 'four\n'], 'a later line starts a batch of its own');
});

test('a line given to writeLater is made when its batch is written, in its place among the others', async () => {
  const out = recorder();
  const log = batchedDestination(out, { intervalMs: 30 });
  let made = 0;
  log.write('one\n');
  log.writeLater(() => {
    made += 1;
    return 'two\n';
  });
  log.write('three\n');
  assert.is(made, 0, 'not made while it is held');
  await sleep(80);
  assert.is(made, 1);
  assert.equal(out.writes, ['one\ntwo\nthree\n']);
});

test('held lines given to writeLater count towards maxChars (a burst of them is written at once)', () => {
  const out = recorder();
  const log = batchedDestination(out, { intervalMs: 10_000, maxChars: 1000 });
  for (let n = 0; n < 3; n++) log.writeLater(() => `${n}\n`);
  assert.equal(out.writes, [], 'three are held');
  log.writeLater(() => '3\n');
  assert.equal(out.writes, ['0\n1\n2\n3\n'], 'the fourth reached maxChars (each counts as an access line, ~250 characters)');
  log.flushSync();
  assert.equal(out.writes, ['0\n1\n2\n3\n']);
});

test('the production interval is short: a line is written within LOG_BATCH_MS', async () => {
  const out = recorder();
  const log = batchedDestination(out);
  log.write('line\n');
  await sleep(LOG_BATCH_MS + 40);
  assert.equal(out.writes, ['line\n']);
});

test('a burst past maxChars is written at once, without waiting for the timer', async () => {
  const out = recorder();
  const log = batchedDestination(out, { intervalMs: 10_000, maxChars: 10 });
  log.write('12345\n');
  assert.equal(out.writes, []);
  log.write('67890\n');
  assert.equal(out.writes, ['12345\n67890\n'], 'written when the held text reached maxChars');
  // the timer went with the batch: nothing keeps the process alive or writes an empty batch
  log.flushSync();
  assert.equal(out.writes, ['12345\n67890\n']);
});

test('flushSync writes what is held, then flushes the destination; flush does the same asynchronously', async () => {
  const out = recorder();
  const log = batchedDestination(out, { intervalMs: 10_000 });
  log.write('held\n');
  log.flushSync();
  assert.equal(out.writes, ['held\n']);
  assert.equal(out.calls, ['flushSync']);
  log.write('again\n');
  let flushed = false;
  log.flush(() => (flushed = true));
  assert.equal(out.writes, ['held\n', 'again\n']);
  assert.ok(flushed, "flush's callback is called once the destination flushed");
  await sleep(30);
  assert.equal(out.writes, ['held\n', 'again\n'], 'no timer is left to write twice');
});

// The server's own destination (stdout) in a process of its own: lines still held when the process
// exits, by process.exit() or by an uncaught error, are written, in order.
function childWrites(ending: string) {
  // two servers' loggers in one process share the one stdout destination (and its one exit handler)
  const script = `
    import pino from 'pino';
    import { loggerOptions } from './src/server/logging.ts';
    const first = loggerOptions({ logger: true, logLevel: 'info' });
    const second = loggerOptions({ logger: true, logLevel: 'info' });
    if (first.stream !== second.stream) throw new Error('two stdout destinations');
    const { stream, ...options } = first;
    const log = pino(options, stream);
    for (let n = 0; n < 3; n++) log.info({ n }, 'held at exit');
    ${ending}
  `;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  const lines = child.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { n: number; msg: string });
  return { status: child.status, stderr: child.stderr, lines };
}

test('lines held when the process exits are written (process.exit)', () => {
  const { status, stderr, lines } = childWrites('process.exit(0);');
  assert.is(status, 0, stderr);
  assert.equal(lines.map((line) => [line.n, line.msg]), [[0, 'held at exit'], [1, 'held at exit'], [2, 'held at exit']]);
});

test('lines held when the process exits are written (an uncaught error)', () => {
  const { status, stderr, lines } = childWrites("setImmediate(() => { throw new Error('the process fails'); });");
  assert.is(status, 1);
  assert.match(stderr, 'the process fails');
  assert.equal(lines.map((line) => line.n), [0, 1, 2]);
});

test.run();
