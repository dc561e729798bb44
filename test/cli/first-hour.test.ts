// What a new user meets first, without a terminal: the create-xms-app dependency of an app scaffolded
// from this checkout (not published) is a packed tarball of it, not `^<version>` (a 404 at install);
// a failed install shows the package manager's own error; an absent package manager is refused before
// anything is written. (The install itself is proven by test/e2e, which scaffolds from this checkout.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create, tempDir, REPO_ROOT } from '../helpers/cli.js';
import { installSource } from '../../lib/cli/self-spec.js';
import { installErrorLines } from '../../lib/cli/create.js';
import { readDockerfile } from '../helpers/dockerfile.js';

const { dir: work, cleanup } = tempDir('xms-first-hour-');
test.after(cleanup);
const version = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version as string;
const cache = join(work, 'cache');
const quiet = ['--preset', 'minimal', '--no-install', '--no-git', '--yes'];
const specOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).devDependencies['create-xms-app'] as string;

test('where this copy came from is decided locally: a checkout, an npm install from a tarball, the registry', () => {
  assert.is(installSource(REPO_ROOT), 'checkout');
  const prefix = join(work, 'prefix');
  const installed = join(prefix, 'node_modules', 'create-xms-app');
  mkdirSync(installed, { recursive: true });
  assert.is(installSource(installed), 'registry', 'no hidden lock file (pnpm, yarn): the published package');
  const lock = (resolved: string) =>
    writeFileSync(join(prefix, 'node_modules', '.package-lock.json'), JSON.stringify({ packages: { 'node_modules/create-xms-app': { version, resolved } } }));
  lock(`https://registry.npmjs.org/create-xms-app/-/create-xms-app-${version}.tgz`);
  assert.is(installSource(installed), 'registry');
  lock(`file:../create-xms-app-${version}.tgz`);
  assert.is(installSource(installed), 'local-install');
  assert.is(installSource(join(work, 'unpacked')), 'checkout', 'a folder no package manager installed');
});

test('scaffolded from this checkout, the app depends on a packed tarball of it, packed once per build', () => {
  const env = { XDG_CACHE_HOME: cache, CREATE_XMS_APP_SPEC: undefined };
  const first = create([join(work, 'a'), ...quiet], { env });
  assert.is(first.status, 0, first.stderr);
  const spec = specOf(join(work, 'a'));
  assert.not.equal(spec, `^${version}`, 'not a version the registry does not have');
  const tarball = spec.replace(/^file:/, '');
  assert.ok(spec.startsWith('file:') && tarball.startsWith(join(cache, 'create-xms-app')), spec);
  const listing = spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).stdout;
  for (const path of ['package/package.json', 'package/dist/lib/cli/create.js', 'package/templates/app/base/package.json.hbs']) {
    assert.ok(listing.includes(path), `the tarball holds ${path}`);
  }
  assert.match(first.stdout, /not the published package/);
  const second = create([join(work, 'b'), ...quiet], { env });
  assert.is(second.status, 0, second.stderr);
  assert.is(specOf(join(work, 'b')), spec, 'the second app reuses the packed tarball');
  assert.not.match(second.stdout, /Packing/);
  assert.is(readdirSync(join(cache, 'create-xms-app')).filter((name) => name.endsWith('.tgz')).length, 1);
  // an explicit spec wins; set but empty means the registry's version
  assert.is(create([join(work, 'c'), ...quiet], { env: { XDG_CACHE_HOME: cache, CREATE_XMS_APP_SPEC: '' } }).status, 0);
  assert.is(specOf(join(work, 'c')), `^${version}`);
});

test('the app ships its deploy and guardrail files: a production Dockerfile, AGENTS.md, an executable pre-commit hook enabled by prepare, .nvmrc', () => {
  const app = join(work, 'a');
  const stages = readDockerfile(app);
  assert.is(stages.length, 2, 'multi-stage: build, then runtime');
  const runtime = stages[1]!.instructions;
  const ops = (op: string) => runtime.filter((i) => i.op === op).map((i) => i.args);
  assert.ok(ops('RUN').some((run) => /^npm ci --omit=dev\b/.test(run)), 'production dependencies only');
  assert.equal(ops('USER'), ['node'], 'runs as the unprivileged node user');
  assert.ok(runtime.findIndex((i) => i.op === 'USER') > runtime.map((i) => i.op).lastIndexOf('RUN'), 'USER after the last RUN: nothing runs as root at run time');
  assert.match(ops('HEALTHCHECK')[0] ?? '', /\/health/);
  assert.equal(ops('CMD'), ['["node", "dist/src/server/index.js"]']);
  assert.match(readFileSync(join(app, '.dockerignore'), 'utf8'), /^\.env$/m, '.env never enters the build context');
  const hook = join(app, '.githooks', 'pre-commit');
  assert.ok((statSync(hook).mode & 0o111) !== 0, 'the hook is executable');
  assert.match(readFileSync(hook, 'utf8'), /xms" check --skip-db/);
  const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
  assert.match(manifest.scripts.prepare, /git config core\.hooksPath \.githooks/);
  assert.match(readFileSync(join(app, '.nvmrc'), 'utf8'), /^\d+\n$/);
  const agents = readFileSync(join(app, 'AGENTS.md'), 'utf8');
  for (const topic of ['xms add table', 'permissions.yml', 'xms add admin-function', 'security definer', 'pre-commit']) {
    assert.ok(agents.toLowerCase().includes(topic.toLowerCase()), `AGENTS.md covers ${topic}`);
  }
  for (const file of ['netlify.toml', 'vercel.json']) assert.not.ok(existsSync(join(app, file)), `${file}: a static host cannot run this app`);
});

/** A PATH holding node, git and the given fake commands only (each a shell script). */
function fakePath(name: string, scripts: Record<string, string>): string {
  const bin = join(work, name);
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  const git = spawnSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim();
  if (git) symlinkSync(git, join(bin, 'git'));
  for (const [command, body] of Object.entries(scripts)) {
    writeFileSync(join(bin, command), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, command), 0o755);
  }
  return bin;
}

test("a failed install shows the package manager's own error lines, and the project stays", () => {
  const PATH = fakePath('bin-fail', {
    npm: [
      'echo "npm warn deprecated something@1.0.0" >&2',
      'echo "npm error code E404" >&2',
      'echo "npm error 404 Not Found - GET https://registry.example/nothing-here" >&2',
      'exit 1',
    ].join('\n'),
  });
  const target = join(work, 'failing');
  const result = create([target, '--preset', 'minimal', '--install', '--no-git', '--yes'], { env: { PATH, CREATE_XMS_APP_SPEC: `^${version}` } });
  assert.is(result.status, 1);
  assert.match(result.stderr, /npm said:\n\s+npm error code E404\n\s+npm error 404 Not Found/);
  assert.ok(existsSync(join(target, 'package.json')), 'the project is written');
  assert.match(result.stdout, /Created, but not installed/);
});

test('a failed install that printed nothing still says how it ended (never an empty report)', () => {
  assert.equal(installErrorLines('', 'Command failed with exit code 1: npm install'), ['Command failed with exit code 1: npm install']);
  assert.equal(installErrorLines(undefined, 'spawn pnpm ENOENT'), ['spawn pnpm ENOENT']);
  const PATH = fakePath('bin-silent', { npm: 'exit 3' });
  const result = create([join(work, 'silent'), '--preset', 'minimal', '--install', '--no-git', '--yes'], { env: { PATH, CREATE_XMS_APP_SPEC: `^${version}` } });
  assert.is(result.status, 1);
  assert.match(result.stderr, /npm said:\n\s+\S.*exit code 3/);
});

test('a package manager that is not installed is refused before anything is written', () => {
  const PATH = fakePath('bin-npm-only', { npm: 'exit 0' });
  const target = join(work, 'no-pnpm');
  const result = create([target, '--preset', 'minimal', '--package-manager', 'pnpm', '--install', '--no-git', '--yes'], { env: { PATH, CREATE_XMS_APP_SPEC: `^${version}` } });
  assert.is(result.status, 1);
  assert.match(result.stderr, /pnpm is not installed here \(found: npm\)/);
  assert.is(result.stderr.trim().split('\n').length, 1, 'one line');
  assert.not.ok(existsSync(target), 'nothing written');
  const declined = create([target, '--preset', 'minimal', '--package-manager', 'pnpm', '--no-install', '--no-git', '--yes'], { env: { PATH, CREATE_XMS_APP_SPEC: `^${version}` } });
  assert.is(declined.status, 0, 'without installing, any package manager may be chosen for the scripts');
});

test.run();
