// On a real terminal (tmux gives the CLI a TTY), the questions not answered by flags are asked with
// the prompt library and their answers are used: the target folder is checked right after the name,
// presets are a choice and each feature has its one-line description, only the installed package
// managers are offered, and the closing screen is coloured. tmux is required in CI (.ci/run installs
// it): there, a missing tmux fails this suite instead of skipping it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CREATE_BIN, tempDir } from '../helpers/cli.js';
import { FEATURE_DESCRIPTIONS } from '../../lib/cli/answers.js';

const hasTmux = spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0;
const session = `xms-prompts-${process.pid}`;
const { dir: work, cleanup } = tempDir('xms-prompts-');
test.after(() => {
  spawnSync('tmux', ['kill-session', '-t', session], { stdio: 'ignore' });
  cleanup();
});

const tmux = (...args: string[]) => spawnSync('tmux', args, { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-t', session).stdout;
const keys = (...sequence: string[]) => tmux('send-keys', '-t', session, ...sequence);

/** Waits until the terminal shows `text` (the CLI renders asynchronously). */
async function waitFor(text: string | RegExp, timeoutMs = 20_000): Promise<string> {
  const started = Date.now();
  for (;;) {
    const shown = screen();
    if (typeof text === 'string' ? shown.includes(text) : text.test(shown)) return shown;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for "${text}"; the screen shows:\n${shown}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A PATH with node, npm and git, plus a pnpm: the machine "has" npm and pnpm, not yarn. */
function pathWithNpmAndPnpm(): string {
  const bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  for (const command of ['npm', 'git']) {
    const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).stdout.trim();
    if (found) symlinkSync(realpathSync(found), join(bin, command));
  }
  writeFileSync(join(bin, 'pnpm'), '#!/bin/sh\necho 9.0.0\n');
  chmodSync(join(bin, 'pnpm'), 0o755);
  return bin;
}

if (!hasTmux && process.env.CI) {
  test('tmux is installed (it gives the CLI a real terminal; .ci/run installs it)', () => {
    assert.unreachable('tmux is missing: the prompts cannot be tested');
  });
} else if (!hasTmux) {
  console.log('  skipped: tmux is not installed (it gives the CLI a real terminal)');
  test.skip('prompts on a terminal', () => {});
} else {
  test('on a terminal the missing answers are asked, and the app is written with them', async () => {
    mkdirSync(join(work, 'taken'));
    writeFileSync(join(work, 'taken', 'notes.txt'), 'not empty');
    const target = join(work, 'asked-app');
    // --no-git is a flag: name, preset, features, database, package manager and install are asked
    const command = `cd ${work} && env -u CI -u NO_COLOR PATH=${pathWithNpmAndPnpm()} CREATE_XMS_APP_SPEC= ${process.execPath} ${CREATE_BIN} --no-git; sleep 60`;
    assert.is(tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', command).status, 0);
    await waitFor('App name');
    keys('taken', 'Enter');
    // the folder is checked right after the name question, which is asked again
    await waitFor(/exists and is not empty/);
    keys(...Array(5).fill('BSpace'), 'asked-app', 'Enter');
    const presets = await waitFor('Preset');
    for (const preset of ['minimal', 'default', 'full', 'custom']) assert.ok(presets.includes(preset), `the preset ${preset} is offered`);
    keys('Down', 'Down', 'Enter'); // from the default preset to "custom"
    const features = await waitFor('Features');
    for (const description of Object.values(FEATURE_DESCRIPTIONS)) {
      assert.ok(features.includes(description.slice(0, 60)), `a feature is described: ${description}`);
    }
    keys('Down', 'Space', 'Enter'); // admin (checked by default) + csv-import
    await waitFor('Database');
    keys('Enter'); // PGlite
    const managers = await waitFor('Package manager');
    assert.ok(managers.includes('pnpm'), 'pnpm is installed: offered');
    assert.not.ok(managers.includes('yarn'), 'yarn is not installed: not offered');
    keys('Enter'); // npm
    await waitFor('Install dependencies now?');
    keys('n', 'Enter');
    const closing = await waitFor('Next steps');
    assert.not.ok(closing.includes('Initialise a git repository?'), '--no-git answered that question');
    for (const step of ['npm install', 'npm run dev', 'npm run check', 'npm test']) assert.ok(closing.includes(step), `the closing screen lists ${step}`);
    assert.not.ok(closing.includes('db:migrate'), 'no separate migrate step: npm run dev migrates');
    const coloured = tmux('capture-pane', '-p', '-e', '-t', session).stdout;
    assert.match(coloured.split('\n').find((line) => line.includes('npm run check')) ?? '', /\x1b\[[0-9;]*m/, 'the next steps are coloured');
    assert.ok(existsSync(join(target, 'src/imports/csv-import.ts')), 'the csv-import feature was chosen at the prompt');
    const manifest = readFileSync(join(target, 'package.json'), 'utf8');
    assert.match(manifest, /"csv-parse"/, 'csv-import was chosen at the prompt');
    assert.not.ok(existsSync(join(target, 'node_modules')), 'install was declined');
    assert.ok(existsSync(join(work, 'taken', 'notes.txt')), 'the taken folder is untouched');
  });
}

test.run();
