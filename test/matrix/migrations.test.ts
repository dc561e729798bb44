// Migrations are listed and their versions named in one place (lib/matrix/migrations.ts): every
// generator, xms harden, xms update and the compiler go through it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { listTree } from '../../lib/engine/index.js';
import { listMigrations, migrationFileName, newMigrationFileName, nextVersion } from '../../lib/matrix/migrations.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SOURCES = ['lib', 'generators'].flatMap((dir) => listTree(join(ROOT, dir)).filter((p) => p.endsWith('.ts')).map((p) => `${dir}/${p}`));

test('no other module names a version or parses a migration file name', () => {
  const patterns = [/toISOString\(\)\.replace/, /\^\(\\d\+\)_\(\.\+\)\\\.sql\$/, /\$\{[^}]*version[^}]*\}_/i];
  const offenders = SOURCES.filter((path) => path !== 'lib/matrix/migrations.ts')
    .filter((path) => patterns.some((pattern) => pattern.test(readFileSync(join(ROOT, path), 'utf8'))));
  assert.equal(offenders, []);
});

test("the migrations the templates ship have one version each (a feature's and the base's never collide)", () => {
  // an app gets the base's migrations and any feature's: the migrator knows a migration by its
  // version, so a second file with the same version would never be applied
  const folders = [...new Set(listTree(join(ROOT, 'templates/app')).filter((p) => /supabase\/migrations\/[^/]+\.sql$/.test(p)).map((p) => p.replace(/\/[^/]+$/, '')))];
  const migrations = folders.flatMap((folder) => listMigrations(join(ROOT, 'templates/app', folder)));
  assert.ok(migrations.length >= 8, migrations.map((m) => m.file).join(', '));
  const byVersion = new Map<string, string[]>();
  for (const m of migrations) byVersion.set(m.version, [...(byVersion.get(m.version) ?? []), m.file]);
  assert.equal([...byVersion.values()].filter((same) => same.length > 1), []);
});

test('a new version is now, or one after the latest when now is not later', () => {
  const now = new Date('2031-02-03T04:05:06Z');
  assert.is(nextVersion(['20240101000200'], now), '20310203040506');
  assert.is(nextVersion(['20990101000000'], now), '20990101000001');
  assert.is(nextVersion([], now), '20310203040506');
  assert.is(newMigrationFileName([{ version: '20990101000000' }, '20240101000200'], 'xms_table_x', now), '20990101000001_xms_table_x.sql');
  assert.is(migrationFileName('20240101000200', 'xms_permissions'), '20240101000200_xms_permissions.sql');
});

test.run();
