/**
 * The compile cache (lib/matrix/cache.ts): an unchanged matrix is served from the cache, any change
 * to what a compilation reads is a miss, a damaged entry is a miss, and `xms check`'s mode ignores
 * the app's own cache (only the package's code may decide what the check expects).
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appCacheDir, compileKey } from '../../lib/matrix/cache.js';
import { listMigrations } from '../../lib/matrix/migrations.js';
import { compileApp } from '../../lib/matrix/write.js';
import { MATRIX, tempApp } from './fixture.js';

const keyOf = (dir: string, matrix: string) => compileKey(matrix, listMigrations(join(dir, 'supabase', 'migrations')));

test('a compilation is stored in the app cache (when the app has node_modules) and served from it', async () => {
  const app = tempApp();
  try {
    const first = await compileApp(app.dir);
    assert.equal(readdirSync(app.dir).includes('node_modules'), false);
    mkdirSync(join(app.dir, 'node_modules'));
    const second = await compileApp(app.dir);
    assert.equal(second, first, 'the same output');
    const key = keyOf(app.dir, MATRIX);
    assert.equal(readdirSync(appCacheDir(app.dir)), [`${key}.json`]);
    // served from the cache: a marked entry comes back as it is
    writeFileSync(join(appCacheDir(app.dir), `${key}.json`), JSON.stringify({ ...first, sql: '-- from the cache' }));
    assert.is((await compileApp(app.dir)).sql, '-- from the cache');
    // ... but never to xms check, which reads only the package's cache
    assert.is((await compileApp(app.dir, { cache: 'package' })).sql, first.sql);
  } finally {
    app.remove();
  }
});

test('any change to the matrix or to a migration (content or name) is a new key', () => {
  const app = tempApp();
  try {
    const base = keyOf(app.dir, MATRIX);
    assert.is.not(keyOf(app.dir, `${MATRIX}\n# a comment\n`), base, 'matrix');
    const [first] = app.list();
    app.write(join('supabase', 'migrations', first!), `${app.read(join('supabase', 'migrations', first!))}\n-- edited\n`);
    const edited = keyOf(app.dir, MATRIX);
    assert.is.not(edited, base, 'migration content');
    app.write(join('supabase', 'migrations', '20300101000000_more.sql'), 'select 1;');
    assert.is.not(keyOf(app.dir, MATRIX), edited, 'a new migration');
  } finally {
    app.remove();
  }
});

test('a damaged cache entry is a miss, not an error', async () => {
  const app = tempApp();
  try {
    mkdirSync(join(app.dir, 'node_modules'));
    const fresh = await compileApp(app.dir);
    const file = join(appCacheDir(app.dir), `${keyOf(app.dir, MATRIX)}.json`);
    for (const damaged of ['{"sql": "x"', '{"sql": 1}', 'null']) {
      writeFileSync(file, damaged);
      assert.equal(await compileApp(app.dir), fresh, damaged);
    }
  } finally {
    app.remove();
  }
});

test.run();
