/**
 * The API half of a table (validated routes, their HTTP test, the registration in the API index):
 * the table generator writes it for a new table, scaffolding for the built-in `records` table.
 */
import { readProjectFile } from '../../lib/engine/changes.js';
import type { FileChange } from '../types.js';
import { apiIndexChange, harnessChanges, jsLiteral } from './app.js';
import { COLUMN_TYPES, camel, formatColumns, type Column } from './spec.js';
import { renderTemplate } from './templates.js';

/** A SQL expression of `g` (generate_series) per column type, distinct for each g where the type allows. */
const SERIES_SQL: Record<string, string> = {
  text: `'sample-' || g`,
  int: 'g',
  bigint: 'g::bigint',
  numeric: 'g::numeric / 100',
  boolean: 'g % 2 = 0',
  date: `date '2024-01-01' + g`,
  timestamptz: `timestamptz '2024-01-01T00:00:00Z' + g * interval '1 minute'`,
  uuid: 'gen_random_uuid()',
};

/**
 * The TypeBox expression of a column's JSON schema (src/server/schemas.ts in the app): the same
 * keywords, so validation and its 400 messages are what the JSON schema gave.
 */
export function typeboxSchema(json: Record<string, unknown>, nullable: boolean): string {
  const { type, ...keywords } = json;
  const builder = type === 'integer' ? 'Integer' : type === 'boolean' ? 'Boolean' : type === 'number' ? 'Number' : 'String';
  const expression = `Type.${builder}(${Object.keys(keywords).length ? jsLiteral(keywords) : ''})`;
  return nullable ? `Nullable(${expression})` : expression;
}

export function columnContext(columns: Column[]) {
  return columns.map((c) => {
    const type = COLUMN_TYPES[c.type]!;
    return {
      ...c,
      sqlType: type.sql,
      csvType: type.csv,
      typebox: typeboxSchema(type.json, c.nullable),
      sample: jsLiteral(type.sample),
      seriesSql: SERIES_SQL[c.type] ?? 'null',
      notNull: !c.nullable,
    };
  });
}

export function tableContext(table: string, columns: Column[]) {
  return {
    table,
    spec: formatColumns(columns),
    camel: camel(table),
    pascal: camel(table).replace(/^./, (c) => c.toUpperCase()),
    columns: columnContext(columns),
    required: jsLiteral(columns.filter((c) => !c.nullable).map((c) => c.name)),
    columnNames: jsLiteral(columns.map((c) => c.name)),
    searchColumns: jsLiteral(columns.filter((c) => c.type === 'text').map((c) => c.name)),
    // the paging test writes 1,000+ rows: impossible with a unique boolean column
    manyRows: !columns.some((c) => c.unique && c.type === 'boolean'),
  };
}

/**
 * The API half of a table: validated routes in the protected scope, their HTTP test, the test harness
 * and the registration in src/routes/api/index.ts. The app generator uses it for the built-in
 * `records` table, so every app starts with the same routes a generated table gets.
 * With `keepExisting`, files a first run wrote are left as they are (the user may have edited them).
 */
export function tableApiChanges(
  appDir: string,
  table: string,
  columns: Column[],
  options: { keepExisting?: boolean | ((path: string) => boolean); fork?: string } = {},
): FileChange[] {
  const context = tableContext(table, columns);
  const keep = typeof options.keepExisting === 'function' ? options.keepExisting : () => Boolean(options.keepExisting);
  const keepOrWrite = (path: string, template: string): FileChange => {
    const before = readProjectFile(appDir, path);
    if (before !== undefined && keep(path)) return { path, before, after: before };
    return { path, before, after: renderTemplate('table', template, context, options.fork) };
  };
  return [
    keepOrWrite(`src/routes/api/${table}.ts`, 'routes.ts.hbs'),
    keepOrWrite(`test/tables/${table}.test.ts`, 'routes.test.ts.hbs'),
    ...harnessChanges(appDir, options.fork),
    apiIndexChange(appDir, `import { ${context.camel}Routes } from './${table}.js';`, `await app.register(${context.camel}Routes);`),
  ];
}

