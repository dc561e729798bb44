import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync, readdirSync, readFileSync, existsSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { create, tempDir, isEmptyOrMissing } from '../helpers/cli.js';

const { dir: work, cleanup } = tempDir('xms-bad-input-');
test.after(cleanup);

/** Every refusal: non-zero exit, exactly one line on stderr, nothing written. */
function assertRefused(result: { status: number | null; stderr: string }, pattern: RegExp) {
  assert.ok(result.status !== 0 && result.status !== null, `expected a non-zero exit, got ${result.status}`);
  const lines = result.stderr.trim().split('\n');
  assert.is(lines.length, 1, `expected a one-line error, got:\n${result.stderr}`);
  assert.match(lines[0]!, pattern);
}

const invalidNames: [string, string, RegExp][] = [
  ['spaces', 'my app', /URL-friendly|Invalid app name/],
  ['upper case', 'MyApp', /capital letters/],
  ['dot dot', '..', /must not contain/],
  ['dot dot inside', 'a..b', /must not contain/],
  ['slash', 'a/b', /must not contain/],
  ['empty', '', /empty/],
  ['over 214 characters', 'a'.repeat(215), /at most 214/],
  ['leading dot', '.hidden', /Invalid app name/],
];

for (const [label, name, pattern] of invalidNames) {
  test(`invalid app name (${label}) is refused and nothing is written`, () => {
    const before = readdirSync(work);
    const result = create(['--name', name, join(work, 'target-name'), '--yes', '--no-install', '--no-git'], { cwd: work });
    assertRefused(result, pattern);
    assert.equal(readdirSync(work), before);
  });
}

test('an invalid folder name is refused when it is the app name', () => {
  const result = create(['Bad Folder', '--yes', '--no-install', '--no-git'], { cwd: work });
  assertRefused(result, /Invalid app name/);
  assert.not.ok(existsSync(join(work, 'Bad Folder')));
});

test('a target folder that exists and is not empty is refused and left untouched', () => {
  const target = join(work, 'occupied');
  mkdirSync(target);
  writeFileSync(join(target, 'keep.txt'), 'mine');
  const result = create([target, '--yes', '--no-install', '--no-git']);
  assertRefused(result, /not empty.*--force/);
  assert.equal(readdirSync(target), ['keep.txt']);
  assert.is(readFileSync(join(target, 'keep.txt'), 'utf8'), 'mine');
});

test('a target inside a file is refused', () => {
  const file = join(work, 'plain-file');
  writeFileSync(file, 'x');
  const result = create([join(file, 'app'), '--yes', '--no-install', '--no-git']);
  assertRefused(result, /is a file/);
  assert.is(readFileSync(file, 'utf8'), 'x');
});

test('a missing --template folder is refused', () => {
  const target = join(work, 'no-template');
  const result = create([target, '--yes', '--no-install', '--no-git', '--template', join(work, 'nowhere')]);
  assertRefused(result, /--template: template folder .* does not exist/);
  assert.ok(isEmptyOrMissing(target));
});

test('an unknown feature name is refused', () => {
  const target = join(work, 'bad-feature');
  const result = create([target, '--features', 'admin,telepathy', '--db', 'pglite', '--no-install', '--no-git']);
  assertRefused(result, /--features: unknown value "telepathy"/);
  assert.ok(isEmptyOrMissing(target));
});

test('unknown --db and --preset values are refused', () => {
  assertRefused(create([join(work, 'x1'), '--yes', '--db', 'mysql']), /--db: unknown value "mysql"/);
  assertRefused(create([join(work, 'x2'), '--yes', '--preset', 'huge']), /--preset: unknown value "huge"/);
  assert.ok(isEmptyOrMissing(join(work, 'x1')) && isEmptyOrMissing(join(work, 'x2')));
});

test('an unknown flag is refused', () => {
  assertRefused(create([join(work, 'x3'), '--yes', '--frobnicate']), /Unknown option '--frobnicate'/);
});

test('without a terminal a missing answer names its flag instead of hanging', () => {
  const target = join(work, 'no-tty');
  const result = create([target, '--preset', 'minimal', '--db', 'pglite', '--package-manager', 'npm', '--no-install']);
  assertRefused(result, /Missing answer for "git".*--git \/ --no-git/);
  assert.ok(isEmptyOrMissing(target));
});

test('a failing install keeps the project and says how to finish', () => {
  const fakeBin = join(work, 'fake-bin');
  mkdirSync(fakeBin, { recursive: true });
  writeFileSync(join(fakeBin, 'npm'), '#!/bin/sh\necho "npm ERR! network unreachable" >&2\nexit 1\n');
  chmodSync(join(fakeBin, 'npm'), 0o755);
  const target = join(work, 'install-fails');
  const result = create([target, '--yes', '--no-git', '--package-manager', 'npm'], {
    // the registry's spec: this checkout would otherwise pack itself with the failing fake npm
    env: { PATH: `${fakeBin}:${process.env.PATH}`, CREATE_XMS_APP_SPEC: '' },
  });
  assert.is(result.status, 1);
  assert.match(result.stderr, /Installing dependencies failed; the project is written/);
  assert.match(result.stderr, /npm install/);
  assert.ok(existsSync(join(target, 'package.json')), 'the project stays');
});

test.run();
