import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { create, tempDir, isEmptyOrMissing, CREATE_BIN, XMS_BIN, REPO_ROOT } from '../helpers/cli.js';
import { runRecordingModules } from '../helpers/loaded-modules.js';
import { listTree } from '../../lib/engine/index.js';

const { dir: work, cleanup } = tempDir('xms-scaffold-');
test.after(cleanup);

const quiet = ['--no-install', '--no-git'];

test('--help and --version answer without writing anything', () => {
  const help = create(['--help']);
  assert.is(help.status, 0);
  assert.match(help.stdout, /Usage: create-xms-app \[dir\]/);
  for (const flag of ['--preset', '--features', '--db', '--no-install', '--no-git', '--force', '--template', '--dry-run', '--yes']) {
    assert.ok(help.stdout.includes(flag), `help mentions ${flag}`);
  }
  const version = create(['--version']);
  assert.is(version.status, 0);
  assert.is(version.stdout.trim(), JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version);
});

test('--dry-run lists the files and writes nothing', () => {
  const target = join(work, 'dry');
  const result = create([target, '--yes', '--dry-run', ...quiet]);
  assert.is(result.status, 0, result.stderr);
  assert.match(result.stdout, /dry run, nothing written/);
  assert.match(result.stdout, /package\.json/);
  assert.match(result.stdout, /src\/server\/app\.ts/);
  assert.match(result.stdout, /src\/generated\/permissions\.ts/, 'files generated after rendering are listed too');
  assert.match(result.stdout, /supabase\/migrations\/20240101000200_xms_permissions\.sql/);
  assert.not.ok(existsSync(target));
  const listed = Number(/Would write (\d+) files/.exec(result.stdout)?.[1]);
  const written = join(work, 'dry-then-real');
  assert.is(create([written, '--yes', ...quiet]).status, 0);
  assert.is(listed, listTree(written).length, 'the dry run lists exactly what a real run writes');
});

test('scaffolds with flags only, names the package after the folder, leaves no staging folder', () => {
  const target = join(work, 'flags-app');
  const result = create([target, '--preset', 'minimal', '--db', 'pglite', '--package-manager', 'npm', ...quiet]);
  assert.is(result.status, 0, result.stderr);
  assert.is(JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')).name, 'flags-app');
  assert.ok(existsSync(join(target, '.gitignore')), '_gitignore is written as .gitignore');
  assert.match(result.stdout, /Next steps/);
  assert.match(result.stdout, /npm install/);
  assert.equal(readdirSync(work).filter((name) => name.includes('.xms-')), [], 'no staging folder left behind');
});

test('--force writes into a non-empty folder, replaces generated files and keeps others', () => {
  const target = join(work, 'forced');
  mkdirSync(target);
  writeFileSync(join(target, 'notes.txt'), 'keep me');
  writeFileSync(join(target, 'package.json'), '{"name":"old"}');
  const result = create([target, '--yes', '--force', ...quiet]);
  assert.is(result.status, 0, result.stderr);
  assert.is(readFileSync(join(target, 'notes.txt'), 'utf8'), 'keep me');
  assert.is(JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')).name, 'forced');
});

test('an empty existing folder is accepted without --force', () => {
  const target = join(work, 'empty-existing');
  mkdirSync(target);
  const result = create([target, '--yes', ...quiet]);
  assert.is(result.status, 0, result.stderr);
  assert.ok(existsSync(join(target, 'package.json')));
});

test('--template layers a team fork file by file: overrides win, extra files are added', () => {
  const fork = join(work, 'team-template');
  mkdirSync(join(fork, 'base/src/routes/public'), { recursive: true });
  mkdirSync(join(fork, 'base/docs'), { recursive: true });
  writeFileSync(join(fork, 'base/README.md.hbs'), '# {{name}} (ACME fork)\n');
  writeFileSync(join(fork, 'base/docs/CONTRIBUTING.md'), 'ACME rules\n');
  const target = join(work, 'forked');
  const result = create([target, '--yes', '--template', fork, ...quiet]);
  assert.is(result.status, 0, result.stderr);
  assert.is(readFileSync(join(target, 'README.md'), 'utf8'), '# forked (ACME fork)\n');
  assert.is(readFileSync(join(target, 'docs/CONTRIBUTING.md'), 'utf8'), 'ACME rules\n');
  assert.ok(existsSync(join(target, 'src/server/app.ts')), 'built-in files not overridden are still written');
});

test('a leftover {{ in any output is an error and nothing is written', () => {
  const fork = join(work, 'broken-template');
  mkdirSync(join(fork, 'base'), { recursive: true });
  writeFileSync(join(fork, 'base/notes.txt'), 'Hello {{who}}\n'); // copied verbatim: the placeholder survives
  const target = join(work, 'unrendered');
  const result = create([target, '--yes', '--template', fork, ...quiet]);
  assert.is(result.status, 1);
  assert.match(result.stderr, /Unrendered "\{\{" in notes\.txt:1/);
  assert.ok(isEmptyOrMissing(target));
});

test('a template referring to an unknown variable fails to render and nothing is written', () => {
  const fork = join(work, 'typo-template');
  mkdirSync(join(fork, 'base'), { recursive: true });
  writeFileSync(join(fork, 'base/typo.md.hbs'), 'Hello {{nmae}}\n');
  const target = join(work, 'typo');
  const result = create([target, '--yes', '--template', fork, ...quiet]);
  assert.is(result.status, 1);
  assert.match(result.stderr, /typo\.md\.hbs failed to render: "nmae" not defined/);
  assert.ok(isEmptyOrMissing(target));
});

test('a template that renders package.json as invalid JSON is an error and nothing is written', () => {
  const fork = join(work, 'bad-json-template');
  mkdirSync(join(fork, 'base'), { recursive: true });
  writeFileSync(join(fork, 'base/package.json.hbs'), '{ "name": "{{name}}", }\n');
  const target = join(work, 'bad-json');
  const result = create([target, '--yes', '--template', fork, ...quiet]);
  assert.is(result.status, 1);
  assert.match(result.stderr, /package\.json rendered from .*package\.json\.hbs is not valid JSON/);
  assert.ok(isEmptyOrMissing(target));
});

test('the generated package.json lists its dependencies sorted, as npm writes them', () => {
  const target = join(work, 'sorted-deps');
  assert.is(create([target, '--preset', 'full', '--yes', ...quiet]).status, 0);
  const manifest = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8'));
  for (const field of ['dependencies', 'devDependencies']) {
    const names = Object.keys(manifest[field]);
    assert.equal(names, [...names].sort((a, b) => a.localeCompare(b)), field);
  }
});

test('PGlite is a production dependency only when it is the target database', () => {
  for (const db of ['pglite', 'postgres', 'supabase']) {
    const target = join(work, `deps-${db}`);
    assert.is(create([target, '--preset', 'minimal', '--db', db, '--yes', ...quiet]).status, 0);
    const manifest = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8'));
    const runtime = '@electric-sql/pglite' in manifest.dependencies;
    assert.is(runtime, db === 'pglite', `${db}: in dependencies`);
    assert.is('@electric-sql/pglite' in manifest.devDependencies, db !== 'pglite', `${db}: in devDependencies`);
  }
});

test('presets differ by feature, and --features overrides the preset', () => {
  const minimal = join(work, 'p-minimal');
  const full = join(work, 'p-full');
  assert.is(create([minimal, '--preset', 'minimal', '--yes', ...quiet]).status, 0);
  assert.is(create([full, '--features', 'admin,csv-import,ui', '--yes', ...quiet]).status, 0);
  const minimalFiles = listTree(minimal);
  const fullFiles = listTree(full);
  assert.ok(fullFiles.length >= minimalFiles.length);
  for (const file of minimalFiles) assert.ok(fullFiles.includes(file), `full also has ${file}`);
});

test('the flag-only scaffold path runs neither the prompt library, execa, plop, the template compiler nor the SQL parser', () => {
  const target = join(work, 'lean');
  const result = runRecordingModules(CREATE_BIN, [target, '--yes', '--no-install', '--no-git']);
  assert.is(result.status, 0, result.stderr);
  const ran = (part: string) => result.loaded.some((path) => path.includes(part));
  assert.ok(ran('/lib/engine/render.js'), 'the recorder works: the engine ran');
  assert.ok(ran('/handlebars/dist/handlebars.runtime.js'), 'the recorder sees require()d packages: the templates ran on the handlebars runtime');
  for (const heavy of ['@inquirer', '/execa/', 'node-plop', '/plop/', '/zx/', '/handlebars/lib/', '/handlebars/dist/cjs/']) {
    assert.not.ok(ran(heavy), `${heavy} must not run on the flag-only path`);
  }
  // a built-in preset starts compiled from the package's compile cache (npm run build fills it)
  assert.ok(ran('/lib/matrix/cache.js'), 'the recorder saw the compile cache');
  for (const compiler of ['/libpg-query/', '/yaml/', '/lib/matrix/compile.js', '/lib/matrix/parse.js', '/lib/matrix/schema.js']) {
    assert.not.ok(ran(compiler), `${compiler} must not run: the preset's matrix is in the package's cache`);
  }
  // and so does the new app's first `xms compile` (npm run db:migrate, npm run dev)
  const compile = runRecordingModules(XMS_BIN, ['compile', '--cwd', target]);
  assert.is(compile.status, 0, compile.stderr);
  assert.match(compile.stdout, /unchanged/);
  assert.ok(compile.loaded.some((path) => path.includes('/lib/matrix/cache.js')), 'the recorder saw the compile cache');
  for (const compiler of ['/libpg-query/', '/yaml/', '/lib/matrix/compile.js']) {
    assert.not.ok(compile.loaded.some((path) => path.includes(compiler)), `xms compile in a new app must not run ${compiler}`);
  }
});

test.run();
