// The compiled permissions migration changes no table (lib/matrix/write.ts records it as such, so
// the next compile or `xms add` does not load the SQL parser for it). Proven with the parser: every
// preset's matrix, and a matrix whose audit reasons and names try to break out of their literals.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileMatrix, knownTableNames, auditTableColumns } from '../../lib/matrix/compile.js';
import { parseMatrix } from '../../lib/matrix/parse.js';
import { parseSchemaOps, readSchema } from '../../lib/matrix/schema.js';
import { scaffold } from '../generators/helpers.js';

const compiledSql = async (dir: string, source: string) => {
  const schema = await readSchema(join(dir, 'supabase', 'migrations'));
  const matrix = parseMatrix(source, { file: 'permissions.yml', tables: knownTableNames(schema), auditTables: auditTableColumns(schema) });
  return compileMatrix(matrix, schema).sql;
};

test('every preset: the compiled SQL has no CREATE/ALTER/DROP TABLE and no rename', async () => {
  for (const features of [[], ['admin'], ['admin', 'csv-import', 'ui']] as const) {
    const app = await scaffold([...features]);
    try {
      const source = readFileSync(join(app.dir, 'permissions.yml'), 'utf8');
      assert.equal(await parseSchemaOps(await compiledSql(app.dir, source)), [], features.join(','));
    } finally {
      app.cleanup();
    }
  }
});

test('audit reasons and literals cannot smuggle a table statement into the compiled SQL', async () => {
  const app = await scaffold(['admin']);
  try {
    const source = readFileSync(join(app.dir, 'permissions.yml'), 'utf8').replace(
      /(exempt:\s*\n\s*app_private\.auth_rate_limits:)[^\n]*/,
      `$1 "x'); create table app.evil (id int); drop table app.records; alter table app.users rename to u; --"`,
    );
    assert.match(source, /create table app\.evil/);
    const sql = await compiledSql(app.dir, source);
    assert.match(sql, /create table app\.evil/, 'the reason is in the SQL, as a literal');
    assert.equal(await parseSchemaOps(sql), []);
  } finally {
    app.cleanup();
  }
});

test.run();
