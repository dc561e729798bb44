/**
 * xms update with a team template fork: the app records the fork's folder and commit; the fork's own
 * changes between that commit and its folder now merge into the app like the generator's (here both
 * renders use this checkout, so only the fork changed); a missing fork folder is a one-line error.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { listTree } from '../../lib/engine/write.js';
import { XMS_BIN, create } from '../helpers/cli.js';
import { sh } from '../helpers/e2e.js';

const root = mkdtempSync(join(tmpdir(), 'xms-update-fork-'));
const fork = join(root, 'fork');
const appDir = join(root, 'app');
const BANNER = 'base/src/team/banner.ts';

const git = (cwd: string, ...args: string[]) => {
  const r = sh('git', ['-c', 'user.name=team', '-c', 'user.email=team@example.com', ...args], cwd);
  assert.is(r.status, 0, `git ${args.join(' ')}: ${r.output}`);
  return r.stdout.trim();
};
const write = (dir: string, path: string, text: string) => {
  mkdirSync(join(dir, path, '..'), { recursive: true });
  writeFileSync(join(dir, path), text);
};
const xms = (args: string[]) => {
  const r = spawnSync(process.execPath, [XMS_BIN, ...args, '--cwd', appDir], {
    env: { ...process.env, CI: '1', CREATE_XMS_APP_SPEC: '' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10 * 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const fingerprint = () => new Map(listTree(appDir).filter((p) => !p.startsWith('.git/')).map((p) => [p, createHash('sha256').update(readFileSync(join(appDir, p))).digest('hex')]));

test.after(() => rmSync(root, { recursive: true, force: true }));

test('the fork changes after the app was generated: its changes merge, the team\'s edits stay', () => {
  mkdirSync(fork);
  git(fork, 'init', '-q');
  write(fork, BANNER, "// the team's banner\nexport const banner = 'v1';\n\nexport const owner = 'platform team';\n");
  git(fork, 'add', '-A');
  git(fork, 'commit', '-q', '-m', 'fork v1');
  const first = git(fork, 'rev-parse', 'HEAD');

  const made = create([appDir, '--preset', 'minimal', '--db', 'pglite', '--package-manager', 'npm', '--no-install', '--no-git', '--template', fork], { env: { CREATE_XMS_APP_SPEC: '' } });
  assert.is(made.status, 0, made.stderr);
  const record = JSON.parse(readFileSync(join(appDir, 'xms.json'), 'utf8'));
  assert.equal(record.template, { path: '../fork', commit: first });
  // the team edits a file of the fork in its app
  writeFileSync(join(appDir, 'src/team/banner.ts'), `${readFileSync(join(appDir, 'src/team/banner.ts'), 'utf8')}export const contact = 'billing@example.com';\n`);
  git(appDir, 'init', '-q');
  git(appDir, 'add', '-A');
  git(appDir, 'commit', '-q', '-m', 'app');

  // the fork moves on: a changed line, a new file
  write(fork, BANNER, readFileSync(join(fork, BANNER), 'utf8').replace("'v1'", "'v2'"));
  write(fork, 'base/src/team/help.ts', "export const help = 'https://example.com/help';\n");
  git(fork, 'add', '-A');
  git(fork, 'commit', '-q', '-m', 'fork v2');

  const r = xms(['update', '--no-check']);
  assert.is(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /merged \(both sides changed, no conflict\): 1\n\s+src\/team\/banner\.ts/);
  assert.match(r.stdout, /added: 1\n\s+src\/team\/help\.ts/);
  const banner = readFileSync(join(appDir, 'src/team/banner.ts'), 'utf8');
  assert.match(banner, /banner = 'v2'/);
  assert.match(banner, /contact = 'billing@example\.com'/);
  assert.equal(JSON.parse(readFileSync(join(appDir, 'xms.json'), 'utf8')).template, { path: '../fork', commit: git(fork, 'rev-parse', 'HEAD') });
  git(appDir, 'add', '-A');
  git(appDir, 'commit', '-q', '-m', 'xms update');

  const again = xms(['update', '--no-check']);
  assert.is(again.status, 0, again.stderr);
  assert.match(again.stdout, /Nothing to change/);
});

test('a fork folder that is missing: one line, exit != 0, nothing written', () => {
  const before = fingerprint();
  renameSync(fork, `${fork}-moved`);
  try {
    const r = xms(['update']);
    assert.is.not(r.status, 0);
    assert.match(r.stderr.trim(), /^xms: the team template fork folder .*fork is missing \(pass --template <dir> if it moved\)\.$/);
    assert.equal(fingerprint(), before);
  } finally {
    renameSync(`${fork}-moved`, fork);
  }
});

test.run();
