/**
 * CSV import (invariant I14). One call imports one file into one table, inside the caller's request
 * transaction (their role, their session: RLS decides), all or nothing:
 *
 *   1. stream the upload through SHA-256 and a UTF-8 check, then csv-parse (quotes, embedded newlines,
 *      BOM, CRLF); the file is never held in memory: rows go to a TEMP staging table in batches as
 *      they are parsed; a row holding bytes that are not UTF-8 is an invalid row (step 2);
 *   2. map the header row to columns (unknown or missing required columns reject the file) and
 *      validate every cell; any invalid row rejects the whole file (nothing is inserted) and the
 *      answer lists up to MAX_REPORTED invalid rows with their line numbers and reasons;
 *   3. a file whose SHA-256 is already in the tenant's ledger (app.imports) for this table inserts
 *      nothing (re-upload);
 *   4. one INSERT ... SELECT DISTINCT ON (key) ... ON CONFLICT DO NOTHING: rows repeated in the file
 *      are inserted once, rows already in the tenant (same natural key, or same content hash) are
 *      skipped; tenant_id and owner_id come from the session, in the database;
 *   5. the ledger row (file hash, who, when, counts) is written in the same transaction: a
 *      concurrent upload of the same file waits on its unique index and then inserts nothing.
 * Any failure (a constraint, a trigger, the connection) throws and the request transaction rolls
 * back: the table is as it was. COPY is not used: it is not allowed on tables under RLS.
 */
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { parse } from 'csv-parse';
import type { Queryable } from '../db/client.js';
import { SQL_TYPES, type ImportColumn, type ImportTable } from './types.js';
import { Utf8Lines } from './utf8.js';
import { checkCell, normaliseHeader } from './validate.js';

export const MAX_REPORTED = 100;
const BATCH_ROWS = 500;
const STAGE = 'pg_temp.xms_import_stage';

export interface InvalidRow {
  line: number;
  reason: string;
}

export interface ImportReport {
  table: string;
  fileSha256: string;
  /** data rows in the file (header excluded) */
  rows: number;
  inserted: number;
  duplicates: { inFile: number; existing: number; file: boolean };
  invalid: InvalidRow[];
  invalidCount: number;
}

/** The file is refused as a whole (bad header, invalid rows): nothing was inserted. */
export class ImportRejected extends Error {
  override name = 'ImportRejected';
  constructor(
    message: string,
    readonly status: number,
    readonly report?: Pick<ImportReport, 'invalid' | 'invalidCount' | 'rows'>,
  ) {
    super(message);
  }
}

const quote = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;

/** Maps the header row to the table's columns; throws ImportRejected naming the problem. */
export function mapHeader(spec: ImportTable, header: string[]): (ImportColumn | undefined)[] {
  const byName = new Map<string, ImportColumn>();
  for (const column of spec.columns) {
    byName.set(column.name, column);
    for (const alias of column.aliases ?? []) byName.set(normaliseHeader(alias), column);
  }
  const mapped = header.map((h) => byName.get(normaliseHeader(h)));
  const unknown = header.filter((h, i) => !mapped[i] && h.trim() !== '');
  if (unknown.length) {
    throw new ImportRejected(`unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')} (expected ${spec.columns.map((c) => c.name).join(', ')})`, 400);
  }
  const seen = new Set<string>();
  for (const column of mapped) {
    if (!column) continue;
    if (seen.has(column.name)) throw new ImportRejected(`column "${column.name}" appears twice in the header`, 400);
    seen.add(column.name);
  }
  const keyColumns = spec.key ?? [];
  const missing = spec.columns.filter((c) => (c.required || keyColumns.includes(c.name)) && !seen.has(c.name));
  if (missing.length) throw new ImportRejected(`missing column${missing.length > 1 ? 's' : ''} ${missing.map((c) => c.name).join(', ')}`, 400);
  return mapped;
}

export async function importCsv(
  tx: Queryable,
  spec: ImportTable,
  file: Readable,
  options: { filename?: string; isTruncated?: () => boolean } = {},
): Promise<ImportReport> {
  const hash = createHash('sha256');
  const utf8 = new Utf8Lines();
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      utf8.write(chunk);
      done(null, chunk);
    },
    flush(done) {
      utf8.end();
      done();
    },
  });
  const parser = parse({
    bom: true,
    trim: true,
    skip_empty_lines: true,
    relax_column_count: true,
    info: true,
    max_record_size: 1024 * 1024,
  });
  file.on('error', (error) => parser.destroy(error));
  file.pipe(hashing).pipe(parser);
  // the UTF-8 check is upstream of the parser: when a record comes out, its lines have been checked
  let nextBad = 0;
  const notUtf8 = (from: number, to: number): boolean => {
    let found = false;
    while (nextBad < utf8.badLines.length && utf8.badLines[nextBad]! <= to) {
      if (utf8.badLines[nextBad]! >= from) found = true;
      nextBad += 1;
    }
    return found;
  };
  const NOT_UTF8 = 'not valid UTF-8 (save the file as UTF-8)';

  let columns: (ImportColumn | undefined)[] | undefined;
  let used: ImportColumn[] = [];
  let rows = 0;
  let invalidCount = 0;
  const invalid: InvalidRow[] = [];
  let batch: unknown[][] = [];
  let previousEnd = 0;

  const flush = async () => {
    if (batch.length === 0) return;
    const width = used.length + 1;
    const values = batch.map((_, r) => `(${Array.from({ length: width }, (_, c) => `$${r * width + c + 1}`).join(', ')})`).join(', ');
    await tx.query(`insert into ${STAGE} (line, ${used.map((c) => quote(c.name)).join(', ')}) values ${values}`, batch.flat());
    batch = [];
  };

  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      // the line the record starts on (a quoted cell may span lines); blank lines are skipped
      const line = previousEnd + 1;
      previousEnd = info.lines;
      const badBytes = notUtf8(line, info.lines);
      if (!columns) {
        if (badBytes) {
          throw new ImportRejected(`nothing was imported: the header (line ${line}) is ${NOT_UTF8}`, 422, {
            invalid: [{ line, reason: `the header is ${NOT_UTF8}` }],
            invalidCount: 1,
            rows: 0,
          });
        }
        columns = mapHeader(spec, record);
        used = columns.filter((c): c is ImportColumn => c !== undefined);
        await tx.query(`drop table if exists ${STAGE}`);
        await tx.query(`create temp table ${STAGE} (line integer not null, ${used.map((c) => `${quote(c.name)} text`).join(', ')}) on commit drop`);
        continue;
      }
      rows += 1;
      if (badBytes) {
        invalidCount += 1;
        if (invalid.length < MAX_REPORTED) invalid.push({ line, reason: NOT_UTF8 });
        continue;
      }
      if (record.length > columns.length) {
        invalidCount += 1;
        if (invalid.length < MAX_REPORTED) invalid.push({ line, reason: `${record.length} cells, the header has ${columns.length}` });
        continue;
      }
      const values: unknown[] = [line];
      const reasons: string[] = [];
      columns.forEach((column, i) => {
        if (!column) return;
        const checked = checkCell(column, record[i]);
        if (checked.ok) values.push(checked.value);
        else reasons.push(checked.reason);
      });
      if (reasons.length) {
        invalidCount += 1;
        if (invalid.length < MAX_REPORTED) invalid.push({ line, reason: reasons.join('; ') });
        continue;
      }
      if (invalidCount > 0) continue; // nothing will be inserted: stop staging, keep validating
      batch.push(values);
      if (batch.length >= BATCH_ROWS) await flush();
    }
  } catch (error) {
    if (options.isTruncated?.()) throw new ImportRejected('the file is larger than the upload limit', 413);
    const code = (error as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('CSV_')) {
      throw new ImportRejected(`malformed CSV near line ${previousEnd + 1}: ${(error as Error).message.split('\n')[0]}`, 400);
    }
    throw error;
  }
  if (options.isTruncated?.()) throw new ImportRejected('the file is larger than the upload limit', 413);
  for (const line of utf8.badLines.slice(nextBad)) {
    // bytes after the last record (none is expected: any non-blank line is a record)
    invalidCount += 1;
    if (invalid.length < MAX_REPORTED) invalid.push({ line, reason: NOT_UTF8 });
  }
  if (!columns) throw new ImportRejected('the file is empty (a header row is required)', 400);
  if (invalidCount > 0) {
    throw new ImportRejected(
      `nothing was imported: ${invalidCount} invalid row${invalidCount > 1 ? 's' : ''}, the first on line ${invalid[0]!.line} (any invalid row rejects the whole file)`,
      422,
      { invalid, invalidCount, rows },
    );
  }
  await flush();
  const fileSha256 = hash.digest('hex');
  const report: ImportReport = {
    table: spec.table,
    fileSha256,
    rows,
    inserted: 0,
    duplicates: { inFile: 0, existing: 0, file: false },
    invalid: [],
    invalidCount: 0,
  };

  const seen = await tx.query('select 1 as seen from app.imports where table_name = $1 and file_sha256 = $2', [spec.table, fileSha256]);
  if (seen.rows.length > 0) {
    report.duplicates.file = true;
    return report;
  }

  const cast = (c: ImportColumn) => `${quote(c.name)}::${SQL_TYPES[c.type]}`;
  const dedup = spec.key
    ? spec.key.map((k) => cast(used.find((c) => c.name === k)!)).join(', ')
    : `app.content_hash(pg_catalog.jsonb_build_array(${used.map(cast).join(', ')}))`;
  const conflict = spec.key ? `(tenant_id, ${spec.key.map(quote).join(', ')})` : '(tenant_id, content_hash)';
  const distinct = await tx.query<{ n: number }>(`select count(*)::int as n from (select distinct ${dedup} from ${STAGE}) d`);
  const unique = distinct.rows[0]!.n;
  if (rows > 0) {
    const inserted = await tx.query(
      `insert into app.${quote(spec.table)} (${used.map((c) => quote(c.name)).join(', ')})
       select ${used.map((c) => quote(c.name)).join(', ')} from (
         select distinct on (${dedup}) ${used.map(cast).join(', ')}
           from ${STAGE}
          order by ${dedup}, line
       ) s
       on conflict ${conflict} do nothing`,
    );
    report.inserted = inserted.rowCount;
  }
  report.duplicates.inFile = rows - unique;
  report.duplicates.existing = unique - report.inserted;

  const ledger = await tx.query(
    `insert into app.imports (table_name, file_sha256, filename, rows_total, rows_inserted, duplicates_in_file, duplicates_existing)
     values ($1, $2, $3, $4, $5, $6, $7)
     on conflict (tenant_id, table_name, file_sha256) do nothing
     returning id`,
    [spec.table, fileSha256, (options.filename ?? '').slice(0, 255), rows, report.inserted, report.duplicates.inFile, report.duplicates.existing],
  );
  if (ledger.rows.length === 0) {
    // the same file was imported concurrently and committed first: this one inserts nothing
    throw new ImportRejected('the same file was imported at the same time', 409);
  }
  return report;
}
