// On a real terminal (tmux gives the CLI a TTY), the questions not answered by flags are asked with
// the prompt library and their answers are used. Skipped, saying why, where tmux is not installed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CREATE_BIN, tempDir } from '../helpers/cli.js';

const hasTmux = spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0;
const session = `xms-prompts-${process.pid}`;
const { dir: work, cleanup } = tempDir('xms-prompts-');
test.after(() => {
  spawnSync('tmux', ['kill-session', '-t', session], { stdio: 'ignore' });
  cleanup();
});

const tmux = (...args: string[]) => spawnSync('tmux', args, { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-t', session).stdout;

/** Waits until the terminal shows `text` (the CLI renders asynchronously). */
async function waitFor(text: string, timeoutMs = 15_000): Promise<void> {
  const started = Date.now();
  while (!screen().includes(text)) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for "${text}"; the screen shows:\n${screen()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

if (!hasTmux) {
  console.log('  skipped: tmux is not installed (it gives the CLI a real terminal)');
  test.skip('prompts on a terminal', () => {});
} else {
  test('on a terminal the missing answers are asked, and the app is written with them', async () => {
    const target = join(work, 'asked-app');
    // --name and --no-git are flags: only features, database, package manager and install are asked
    const command = `env -u CI ${process.execPath} ${CREATE_BIN} ${target} --no-git; sleep 60`;
    assert.is(tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', command).status, 0);
    await waitFor('Features');
    tmux('send-keys', '-t', session, 'Down', 'Space', 'Enter'); // admin (preset default) + csv-import
    await waitFor('Database');
    tmux('send-keys', '-t', session, 'Enter'); // PGlite
    await waitFor('Package manager');
    tmux('send-keys', '-t', session, 'Enter'); // npm
    await waitFor('Install dependencies now?');
    tmux('send-keys', '-t', session, 'n', 'Enter');
    await waitFor('Next steps');
    assert.not.ok(screen().includes('Initialise a git repository?'), '--no-git answered that question');
    assert.ok(existsSync(join(target, 'src/imports/csv-import.ts')), 'the csv-import feature was chosen at the prompt');
    assert.match(readFileSync(join(target, 'package.json'), 'utf8'), /"csv-parse"/, 'csv-import was chosen at the prompt');
    assert.not.ok(existsSync(join(target, 'node_modules')), 'install was declined');
  });
}

test.run();
