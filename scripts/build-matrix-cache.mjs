#!/usr/bin/env node
// Part of `npm run build`: compiles the permission matrix of each built-in preset once and keeps the
// result in dist/matrix-cache/ (see lib/matrix/cache.ts), so scaffolding a preset, and the first
// `xms compile` in a new app, load neither the YAML nor the SQL parser. Each preset is scaffolded
// (no install, no git) by the built CLI into a throw-away folder with XMS_MATRIX_CACHE_DIR pointing at
// the cache: the compilation it runs anyway is what gets stored. Then `xms compile` runs in the new
// app, whose migrations now include the compiled permissions migration: that is the state a new app's
// `npm run db:migrate` compiles, cached too.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cacheDir = join(root, 'dist', 'matrix-cache');
const schemaCacheDir = join(root, 'dist', 'schema-cache');
rmSync(cacheDir, { recursive: true, force: true });
rmSync(schemaCacheDir, { recursive: true, force: true });
const work = mkdtempSync(join(tmpdir(), 'xms-matrix-cache-'));
try {
  const run = (what, args) => {
    const result = spawnSync(process.execPath, args, {
      env: { ...process.env, XMS_MATRIX_CACHE_DIR: cacheDir, XMS_SCHEMA_CACHE_DIR: schemaCacheDir, CI: '1' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (result.status !== 0) {
      console.error(`build-matrix-cache: ${what} failed:\n${result.stdout}\n${result.stderr}`);
      process.exit(1);
    }
  };
  for (const preset of ['minimal', 'default', 'full']) {
    const app = join(work, preset);
    run(`scaffolding the ${preset} preset`, [join(root, 'bin', 'create-xms-app.js'), app, '--preset', preset, '--yes', '--no-install', '--no-git']);
    run(`xms compile in the ${preset} preset`, [join(root, 'bin', 'xms.js'), 'compile', '--cwd', app]);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
