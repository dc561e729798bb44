// xms add auth: nothing to change on a normal app; restores the auth files a fork removed; refuses
// a file with other content; --dry-run; and every generator is registered with plop.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

test('the auth file list names files the base template has', () => {
  const present = AUTH_FILES.filter((path) => {
    try {
      readFileSync(join(builtinTemplatesDir(), 'app', 'base', path));
      return true;
    } catch {
      return false;
    }
  });
  assert.ok(present.length >= 8, `base template auth files found: ${present.join(', ')}`);
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
