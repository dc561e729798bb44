#!/usr/bin/env node
// Part of `npm run build`: a migrated PGlite data folder for each built-in preset, kept in
// dist/pglite-snapshots/<key>.br, so the first `npm run dev` of a new app starts from it instead of
// replaying every migration (~9 s of CPU). The key is the app's own migrationKeys() (src/db/dev-data.ts:
// the PGlite version and the names and contents of the migrations); the app restores a folder only
// under the key of migrations byte-identical to its own, then applies the rest. Each preset is
// scaffolded and migrated by the generated app's own code (src/db/migrate.ts) with this package's
// PGlite, exactly as `npm run dev` would migrate it.
// Format: brotli of one JSON line ([path, size] per entry, size null for a folder), then the bytes.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';
import { existsSync } from 'node:fs';
import { inputsDigest } from './inputs-digest.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist', 'pglite-snapshots');

/**
 * What the folders are made from: the templates, the scaffolder and compiler, this script, and the
 * PGlite and tsx builds. A build after a change elsewhere (a test, a doc, a build script) keeps the
 * folders (a minute of CPU).
 */
const digest = inputsDigest(root, {
  dirs: ['templates', 'lib', 'generators', 'bin'],
  files: [fileURLToPath(import.meta.url).slice(root.length + 1)],
  packages: ['@electric-sql/pglite', 'tsx'],
});
const stamp = join(outDir, 'inputs.sha256');
if (existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) {
  console.log('build-dev-snapshots: up to date');
  process.exit(0);
}
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

const MIGRATE = `import { migrationKeys } from './src/db/dev-data.js';
import { openDatabase } from './src/db/client.js';
import { migrate } from './src/db/migrate.js';
const db = await openDatabase({ as: 'owner', dataDir: process.argv[2] });
await migrate(db);
await db.close();
console.log(JSON.stringify(migrationKeys()));
`;

/** The folder's entries, sorted, without the lock file of the PGlite that wrote it. */
function pack(dir) {
  const entries = [];
  const chunks = [];
  const walk = (rel) => {
    for (const d of readdirSync(join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = rel ? `${rel}/${d.name}` : d.name;
      if (path === 'postmaster.pid') continue;
      if (d.isDirectory()) {
        entries.push([path, null]);
        walk(path);
      } else {
        const bytes = readFileSync(join(dir, path));
        entries.push([path, bytes.length]);
        chunks.push(bytes);
      }
    }
  };
  walk('');
  const raw = Buffer.concat([Buffer.from(`${JSON.stringify(entries)}\n`), ...chunks]);
  return brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length } });
}

const work = mkdtempSync(join(tmpdir(), 'xms-dev-snapshots-'));
try {
  const run = (what, cmd, args, cwd) => {
    const env = { ...process.env, CI: '1' };
    delete env.DATABASE_URL;
    delete env.MIGRATION_DATABASE_URL;
    delete env.PGLITE_DATA_DIR;
    const result = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (result.status !== 0) {
      console.error(`build-dev-snapshots: ${what} failed:\n${result.stdout}\n${result.stderr}`);
      process.exit(1);
    }
    return result.stdout;
  };
  for (const preset of ['minimal', 'default', 'full']) {
    const app = join(work, preset);
    run(`scaffolding the ${preset} preset`, process.execPath, [join(root, 'bin', 'create-xms-app.js'), app, '--preset', preset, '--yes', '--no-install', '--no-git']);
    run(`xms compile in the ${preset} preset`, process.execPath, [join(root, 'bin', 'xms.js'), 'compile', '--cwd', app]);
    // the app's code runs with this package's PGlite and TypeScript loader
    mkdirSync(join(app, 'node_modules'));
    for (const name of ['@electric-sql', 'tsx']) symlinkSync(join(root, 'node_modules', name), join(app, 'node_modules', name), 'dir');
    writeFileSync(join(app, 'build-snapshot.ts'), MIGRATE);
    const data = join(work, `${preset}-data`);
    const keys = JSON.parse(run(`migrating the ${preset} preset`, process.execPath, ['--import', 'tsx', 'build-snapshot.ts', data], app).trim().split('\n').pop());
    writeFileSync(join(outDir, `${keys.at(-1)}.br`), pack(data));
  }
  writeFileSync(stamp, digest); // last: an interrupted build starts over
} finally {
  rmSync(work, { recursive: true, force: true });
}
