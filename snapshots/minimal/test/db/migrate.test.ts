/** The migrator's list of migrations (src/db/migrate.ts): version order, and no version twice. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listMigrations } from '../../src/db/migrate.js';

function folder(files: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'xms-migrations-'));
  for (const file of files) writeFileSync(join(dir, file), 'select 1;');
  return dir;
}

test('lists <version>_<name>.sql in version order and ignores other files', () => {
  const dir = folder(['20240102000000_b.sql', '20240101000000_a.sql', 'README.md', 'notes.sql']);
  try {
    assert.equal(listMigrations(dir).map((m) => `${m.version}_${m.name}`), ['20240101000000_a', '20240102000000_b']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('two migrations with one version are refused by name (the second would never be applied)', () => {
  const dir = folder(['20240101000400_admin.sql', '20240101000400_other.sql']);
  try {
    assert.throws(() => listMigrations(dir), /two migrations share version 20240101000400: .*20240101000400_admin\.sql and .*20240101000400_other\.sql/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
