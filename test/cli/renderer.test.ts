// One renderer, one list of versions: every template goes through lib/engine/render.ts (and is in the
// precompiled build), and the generated app's dependency versions come from templates/app/versions.json
// only, whichever preset, database target or generator adds them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { listTree } from '../../lib/engine/index.js';
import { loadPrecompiledTemplates, templateKey } from '../../lib/engine/render.js';
import { DATABASE_TARGETS, PRESETS, appVersions, renderApp, type Preset } from '../../lib/app/index.js';

const SOURCES = ['lib', 'generators'].flatMap((dir) => listTree(join(REPO_ROOT, dir)).filter((p) => p.endsWith('.ts')).map((p) => `${dir}/${p}`));
const TEMPLATES = listTree(join(REPO_ROOT, 'templates')).map((p) => `templates/${p}`);

test('handlebars is used by the one renderer only', () => {
  const users = SOURCES.filter((path) => /(from|import\(|require\()\s*['"]handlebars(\/runtime)?['"]/.test(readFileSync(join(REPO_ROOT, path), 'utf8')));
  assert.equal(users, ['lib/engine/render.ts']);
  const compiles = SOURCES.filter((path) => /\.compile\(|Handlebars\.create\(|\.create\(\)\.compile/.test(readFileSync(join(REPO_ROOT, path), 'utf8')));
  assert.equal(compiles.filter((path) => path !== 'lib/engine/render.ts'), [], 'no template is compiled outside the renderer');
});

test('every built-in template is in the precompiled build (npm run build)', () => {
  const precompiled = loadPrecompiledTemplates();
  assert.ok(precompiled.size > 0, "the build has a precompiled set, made with the renderer's options");
  const missing = TEMPLATES.filter((path) => path.endsWith('.hbs')).filter((path) => !precompiled.has(templateKey(readFileSync(join(REPO_ROOT, path), 'utf8'))));
  assert.equal(missing, [], 'rebuild, or the renderer compiles these at run time');
});

test('no dependency version is written anywhere but templates/app/versions.json', () => {
  const range = /["'](@[\w.-]+\/)?[\w.-]+["']\s*:\s*["'][\^~]\d/;
  for (const path of [...TEMPLATES.filter((p) => p.endsWith('package.json.hbs')), ...SOURCES.filter((p) => p.startsWith('generators/'))]) {
    const lines = readFileSync(join(REPO_ROOT, path), 'utf8').split('\n').filter((line) => range.test(line) && !/"node"\s*:/.test(line));
    assert.equal(lines, [], `${path} writes a version range itself`);
  }
});

function manifests() {
  const out: { preset: Preset; db: string; pkg: { dependencies: Record<string, string>; devDependencies: Record<string, string> } }[] = [];
  for (const preset of Object.keys(PRESETS) as Preset[]) {
    for (const db of DATABASE_TARGETS) {
      const files = renderApp({ name: 'demo', features: PRESETS[preset], db, packageManager: 'npm', install: false, git: false }, { xmsSpec: '^0.0.0' });
      out.push({ preset, db, pkg: JSON.parse(files.find((f) => f.path === 'package.json')!.contents.toString('utf8')) });
    }
  }
  return out;
}

test('the rendered package.json takes every range from the versions map, and the map has no stale entry', () => {
  const versions = appVersions();
  const used = new Set<string>();
  for (const { preset, db, pkg } of manifests()) {
    for (const [name, range] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
      if (name === 'create-xms-app') continue;
      assert.is(range, versions[name], `${preset}/${db}: ${name}`);
      used.add(name);
    }
  }
  assert.equal(Object.keys(versions).filter((name) => !used.has(name)), [], 'versions.json entries no preset uses');
});

test('PGlite stays out of the production dependencies when the target is PostgreSQL or Supabase', () => {
  for (const { preset, db, pkg } of manifests()) {
    const inProduction = '@electric-sql/pglite' in pkg.dependencies;
    assert.is(inProduction, db === 'pglite', `${preset}/${db}: PGlite in dependencies`);
    assert.ok('@electric-sql/pglite' in pkg.dependencies || '@electric-sql/pglite' in pkg.devDependencies, `${preset}/${db}: tests still run on PGlite`);
  }
});

test.run();
