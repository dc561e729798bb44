/**
 * What lets `npm run dev` skip work (src/db/dev-data.ts): the keys its stamps and its migrated-folder
 * snapshot are filed under change with every byte they depend on, so a stale stamp can only mean
 * "do it again", never "skip".
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileStateHash, migrationKeys, migrationsHash } from '../../src/db/dev-data.js';

const dir = mkdtempSync(join(tmpdir(), 'xms-dev-data-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('the migrations hash follows every migration: content, name, and a new file', () => {
  writeFileSync(join(dir, '20240101000000_one.sql'), 'create table a (id int);');
  const first = migrationsHash(dir);
  assert.is(migrationsHash(dir), first, 'stable');
  writeFileSync(join(dir, '20240101000000_one.sql'), 'create table a (id bigint);');
  const edited = migrationsHash(dir);
  assert.is.not(edited, first);
  writeFileSync(join(dir, '20240101000100_two.sql'), 'select 1;');
  assert.is.not(migrationsHash(dir), edited);
  // files that are not migrations do not count
  const withTwo = migrationsHash(dir);
  writeFileSync(join(dir, 'README.md'), 'notes');
  assert.is(migrationsHash(dir), withTwo);
});

test('each run of leading migrations has its key: an added migration keeps the earlier keys, an edit changes its own and the later ones', () => {
  const keys = mkdtempSync(join(tmpdir(), 'xms-dev-keys-'));
  try {
    writeFileSync(join(keys, '20240101000000_one.sql'), 'create table a (id int);');
    writeFileSync(join(keys, '20240101000100_two.sql'), 'create table b (id int);');
    const before = migrationKeys(keys);
    assert.is(before.length, 2);
    assert.is(migrationsHash(keys), before[1], 'the last key is the key of all the migrations');
    writeFileSync(join(keys, '20240101000200_three.sql'), 'create table c (id int);');
    const added = migrationKeys(keys);
    assert.equal(added.slice(0, 2), before, 'a shipped folder of the first two still fits');
    writeFileSync(join(keys, '20240101000100_two.sql'), 'create table b (id bigint);');
    const edited = migrationKeys(keys);
    assert.is(edited[0], added[0]);
    assert.is.not(edited[1], added[1]);
    assert.is.not(edited[2], added[2], 'a key covers every migration before it');
  } finally {
    rmSync(keys, { recursive: true, force: true });
  }
});

test('the compile state follows permissions.yml, the migrations and the compiled files', () => {
  const app = mkdtempSync(join(tmpdir(), 'xms-dev-app-'));
  const cwd = process.cwd();
  // compileStateHash() reads the working directory; it is synchronous, so the switch is brief
  const state = () => {
    process.chdir(app);
    try {
      return compileStateHash();
    } finally {
      process.chdir(cwd);
    }
  };
  try {
    mkdirSync(join(app, 'supabase', 'migrations'), { recursive: true });
    mkdirSync(join(app, 'src', 'generated'), { recursive: true });
    writeFileSync(join(app, 'permissions.yml'), 'roles: [member]\n');
    const seen = new Set([state()]);
    assert.is(state(), [...seen][0], 'stable while nothing changes');
    writeFileSync(join(app, 'permissions.yml'), 'roles: [member, admin]\n');
    seen.add(state());
    writeFileSync(join(app, 'supabase', 'migrations', '20240101000000_x.sql'), 'select 1;');
    seen.add(state());
    writeFileSync(join(app, 'src', 'generated', 'permissions.ts'), '// edited by hand\n');
    seen.add(state());
    assert.is(seen.size, 4, 'each change gives a new state');
  } finally {
    rmSync(app, { recursive: true, force: true });
  }
});

test.run();
