// Start-up's warning about AsyncLocalStorage's promise hooks (src/server/db.ts, asyncContextWarning):
// said exactly when the running Node keeps the request's transaction with a hook on every promise.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { asyncContextWarning } from '../../src/server/db.js';

test('Node 24 and later: nothing to say, unless started with --no-async-context-frame', () => {
  assert.is(asyncContextWarning('24.22.3', []), undefined);
  assert.is(asyncContextWarning('25.0.0', ['--max-old-space-size=512']), undefined);
  const opted = asyncContextWarning('24.22.3', ['--no-async-context-frame']);
  assert.ok(opted, 'Node 24 with the frames turned off is warned');
  assert.match(opted!, 'remove --no-async-context-frame');
});

test('Node 22 and 23: told to run Node 24 or start with --experimental-async-context-frame, silent once they do', () => {
  for (const version of ['22.13.0', '22.23.5', '23.11.0']) {
    const said = asyncContextWarning(version, []);
    assert.ok(said, `Node ${version} without the flag is warned`);
    assert.match(said!, `Node ${version} keeps`);
    assert.match(said!, 'run Node 24, or start it with NODE_OPTIONS=--experimental-async-context-frame');
    assert.is(asyncContextWarning(version, ['--experimental-async-context-frame']), undefined);
    assert.is(asyncContextWarning(version, ['', '--enable-source-maps', '--experimental-async-context-frame']), undefined);
  }
});

test('Node before 22 has no such flag: told to run Node 24', () => {
  const said = asyncContextWarning('20.20.2', ['--experimental-async-context-frame']);
  assert.ok(said);
  assert.match(said!, 'run Node 24');
  assert.not.match(said!, 'NODE_OPTIONS');
});

test("by default the process's own flags and NODE_OPTIONS's are read", () => {
  const before = process.env.NODE_OPTIONS;
  try {
    process.env.NODE_OPTIONS = '--enable-source-maps  --experimental-async-context-frame';
    assert.is(asyncContextWarning('22.13.0'), undefined);
    process.env.NODE_OPTIONS = '--enable-source-maps';
    assert.ok(asyncContextWarning('22.13.0'));
  } finally {
    if (before === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = before;
  }
});

test.run();
