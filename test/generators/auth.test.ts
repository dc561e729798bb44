// xms add auth: nothing to change on a normal app; restores the auth files a fork removed; refuses
// a file with other content; --dry-run; and every generator is registered with plop.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { add, assertRefused, assertUnchanged, fingerprint, scaffold, type TempApp } from './helpers.js';
import { AUTH_FILES } from '../../generators/auth/index.js';
import { registerGenerators } from '../../generators/plopfile.js';
import { builtinTemplatesDir } from '../../lib/engine/index.js';

let app: TempApp;
test.before(async () => {
  app = await scaffold([]);
});
test.after(() => app?.cleanup());

test('a normal app: nothing to change', async () => {
  const before = fingerprint(app.dir);
  assert.equal(await add(app.dir, 'auth', []), ['auth: nothing to change (already applied).']);
  assertUnchanged(before, app.dir, 'normal app');
});

test('a fork without the auth files: --dry-run lists them, the run restores them byte for byte', async () => {
  const removed = ['src/auth/sessions.ts', 'src/security/rate-limit.ts', 'supabase/migrations/20240101000300_xms_auth.sql'];
  for (const path of removed) rmSync(join(app.dir, path));
  const pkgPath = join(app.dir, 'package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
  delete pkg.dependencies['rate-limiter-flexible'];
  writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);

  const before = fingerprint(app.dir);
  const dry = await add(app.dir, 'auth', ['--dry-run']);
  assert.match(dry[0]!, /would change 4 files/);
  assertUnchanged(before, app.dir, 'dry run');

  const lines = await add(app.dir, 'auth', []);
  for (const path of removed) {
    assert.ok(lines.includes(`  created ${path}`), lines.join('\n'));
    assert.is(readFileSync(join(app.dir, path), 'utf8'), readFileSync(join(builtinTemplatesDir(), 'app', 'base', path), 'utf8'));
  }
  assert.ok(JSON.parse(readFileSync(pkgPath, 'utf8')).dependencies['rate-limiter-flexible']);
  assert.equal(await add(app.dir, 'auth', []), ['auth: nothing to change (already applied).']);
});

test('a file with other content is a refusal naming it; nothing is written', async () => {
  rmSync(join(app.dir, 'src/auth/accounts.ts'));
  appendFileSync(join(app.dir, 'src/security/tokens.ts'), '\n// a team change\n');
  await assertRefused(app.dir, 'auth', [], /refusing to overwrite src\/security\/tokens\.ts: it differs from the built-in auth template/);
});

test('the auth file list is the whole subsystem: every file exists, and every local import of a listed file is listed or is the core', () => {
  const base = join(builtinTemplatesDir(), 'app', 'base');
  const missing = AUTH_FILES.filter((path) => !existsSync(join(base, path)));
  assert.equal(missing, [], 'listed files the base template lacks');
  // the core every app has whatever it was forked from: config, database access, the server itself
  const core = (path: string) => path === 'src/config.ts' || /^src\/(db|server|generated)\//.test(path);
  const unlisted = new Set<string>();
  for (const path of AUTH_FILES.filter((p) => p.endsWith('.ts'))) {
    const text = readFileSync(join(base, path), 'utf8');
    for (const [, spec] of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
      const target = posix.join(posix.dirname(path), spec!.replace(/\.js$/, '.ts'));
      if (!AUTH_FILES.includes(target) && !core(target) && !target.startsWith('test/helpers/')) unlisted.add(`${path} -> ${target}`);
    }
  }
  assert.equal([...unlisted], [], 'imports of listed files that xms add auth would not restore');
  // every module of src/auth and every migration after the tables is the auth subsystem's
  const authModules = readdirSync(join(base, 'src/auth')).map((name) => `src/auth/${name}`);
  const authMigrations = readdirSync(join(base, 'supabase/migrations'))
    .filter((name) => name > '20240101000200')
    .map((name) => `supabase/migrations/${name}`);
  assert.equal([...authModules, ...authMigrations].filter((path) => !AUTH_FILES.includes(path)), [], 'auth files of the base template missing from the list');
});

test('every generator is registered with plop (npx plop <name>), with its prompts', async () => {
  const registered: Record<string, { prompts: { name: string }[] }> = {};
  const plop = {
    setGenerator: (name: string, config: { prompts: { name: string }[] }) => {
      registered[name] = config;
    },
    getDestBasePath: () => app.dir,
  };
  await registerGenerators(plop as never);
  for (const name of ['admin-function', 'auth', 'csv-import', 'table']) assert.ok(registered[name], `${name} is registered with plop`);
  assert.equal(registered.table!.prompts.map((p) => p.name), ['name', 'columns']);
  assert.equal(registered['csv-import']!.prompts.map((p) => p.name), ['table', 'key']);
});

test.run();
