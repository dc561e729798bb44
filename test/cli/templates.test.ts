// Precompiled templates (npm run build -> dist/precompiled-templates.cjs): scaffolding and generators
// run them on the handlebars runtime without loading its compiler, render exactly what compiling at
// run time renders, and a template that is not in the build (edited since, or a team's) is compiled.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, tempDir } from '../helpers/cli.js';

const { dir: work, cleanup } = tempDir('xms-templates-');
test.after(cleanup);

/** Renders an app (built code) in a child process: a digest of every file, and whether the compiler was loaded. */
function render(preset: string, env: Record<string, string> = {}, teamTemplateDir?: string): { digest: string; compiler: boolean; files: number } {
  const script = `
    import { createHash } from 'node:crypto';
    import { createRequire } from 'node:module';
    import { renderApp, PRESETS } from ${JSON.stringify(join(REPO_ROOT, 'dist/lib/app/index.js'))};
    const files = renderApp({ name: 'demo', features: PRESETS[${JSON.stringify(preset)}], db: 'pglite', packageManager: 'npm', install: false, git: false },
      { teamTemplateDir: ${JSON.stringify(teamTemplateDir)} });
    const h = createHash('sha256');
    for (const f of files) h.update(f.path).update('\\0').update(f.contents).update('\\0');
    const cache = createRequire(import.meta.url).cache;
    const compiler = Object.keys(cache).some((k) => /handlebars[\\\\/]dist[\\\\/]cjs[\\\\/]handlebars[\\\\/]compiler/.test(k));
    console.log(JSON.stringify({ digest: h.digest('hex'), compiler, files: files.length }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

for (const preset of ['minimal', 'default', 'full']) {
  test(`${preset}: precompiled templates render byte for byte what run-time compiling renders, without the compiler`, () => {
    const fast = render(preset);
    const compiled = render(preset, { XMS_NO_PRECOMPILED: '1' });
    assert.ok(fast.files > 50);
    assert.is(fast.digest, compiled.digest);
    assert.is(fast.compiler, false, 'the handlebars compiler was loaded although every template is precompiled');
    assert.is(compiled.compiler, true);
  });
}

test('a template that is not in the build (a team template) is compiled at run time and wins', () => {
  const team = join(work, 'team');
  mkdirSync(join(team, 'base'), { recursive: true });
  writeFileSync(join(team, 'base', 'TEAM.md.hbs'), '# {{name}} by the team\n');
  const result = render('minimal', {}, team);
  const plain = render('minimal');
  assert.is(result.compiler, true);
  assert.is(result.files, plain.files + 1);
});

test.run();
