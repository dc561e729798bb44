// The test suites are TypeScript run by tsx, which strips types without checking them: this makes
// a type error in a test (or in lib/ as the tests use it) a failing test instead of a silent one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';

test('lib/, generators/, scripts/ and test/ typecheck strictly (tsconfig.test.json)', () => {
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(REPO_ROOT, 'tsconfig.test.json')], { encoding: 'utf8' });
  assert.is(result.status, 0, `${result.stdout}${result.stderr}`);
});

test.run();
