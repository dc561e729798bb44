/**
 * CSV import (invariant I14). One call imports one file into one table, inside the caller's request
 * transaction (their role, their session: RLS decides), all or nothing:
 *
 *   1. stream the upload through SHA-256 and a UTF-8 check, then csv-parse (quotes, embedded newlines,
 *      BOM, CRLF); neither the file nor its rows are ever held in memory: rows stream into a TEMP
 *      staging table as they are parsed (node-postgres: one COPY FROM STDIN; PGlite: multi-row
 *      inserts of STAGE_ROWS rows); a row holding bytes that are not UTF-8 is an invalid row (step 2);
 *   2. map the header row to columns (unknown or missing required columns reject the file) and
 *      validate every cell; any invalid row rejects the whole file (nothing is inserted) and the
 *      answer lists up to MAX_REPORTED invalid rows with their line numbers and reasons;
 *   3. a file whose SHA-256 is already in the tenant's ledger (app.imports) for this table inserts
 *      nothing (re-upload);
 *   4. one INSERT ... SELECT DISTINCT ON (key) ... ON CONFLICT DO NOTHING: rows repeated in the file
 *      are inserted once (the first one), rows already in the tenant (same natural key, or same
 *      content hash) are skipped; the same statement counts the file's distinct rows. tenant_id and
 *      owner_id are the session's, read once in the database and passed as parameters (not a
 *      session lookup per row); RLS still checks every row against the session;
 *   5. the ledger row (file hash, who, when, counts) is written in the same transaction: a
 *      concurrent upload of the same file waits on its unique index and then inserts nothing.
 * Any failure (a constraint, a trigger, the connection) throws and the request transaction rolls
 * back: the table is as it was. COPY goes only into the staging table: COPY FROM is not allowed on
 * tables under RLS, and the insert into the real table is the RLS-checked, audited statement.
 */
import { createHash } from 'node:crypto';
import { pipeline, Transform, type Readable } from 'node:stream';
import { parse } from 'csv-parse';
import type { Queryable } from '../db/client.js';
import { SQL_TYPES, type ImportColumn, type ImportTable } from './types.js';
import { Utf8Lines } from './utf8.js';
import { checkCell, normaliseHeader } from './validate.js';

export const MAX_REPORTED = 100;
/** PGlite (no COPY FROM STDIN): rows per staging insert */
const STAGE_ROWS = 2000;
/** node-postgres: bytes of COPY data per chunk handed to the connection */
const COPY_CHUNK = 64 * 1024;
/** the de-duplication sort of one import: in memory for files of a few hundred thousand rows */
const WORK_MEM = '64MB';
const STAGE = 'pg_temp.xms_import_stage';

/** A value in COPY's text format: NULL is \N; backslash, tab and line breaks are escaped. */
const copyValue = (value: string | null) => (value === null ? '\\N' : value.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]!));
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

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

/** Where an import is: rows read so far (every PROGRESS_EVERY rows), then the insert, then done. */
export interface ImportProgress {
  phase: 'staging' | 'inserting';
  rows: number;
}
const PROGRESS_EVERY = 500;

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

/** A record of csv-parse with `info: true` (info.lines: the line the record ends on) */
type ParsedRecord = { record: string[]; info: { lines: number } };

/** The first record of the parser (the header), read without starting the flow of the others. */
function firstRecord(parser: Readable): Promise<ParsedRecord | undefined> {
  return new Promise((resolve, reject) => {
    const settle = (error: Error | null, record?: ParsedRecord) => {
      parser.off('readable', read).off('end', end).off('error', settle);
      if (error) reject(error);
      else resolve(record);
    };
    const read = () => {
      const record = parser.read() as ParsedRecord | null;
      if (record !== null) settle(null, record);
    };
    const end = () => settle(null);
    parser.on('readable', read).once('end', end).once('error', settle);
  });
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
  options: { filename?: string; isTruncated?: () => boolean; onProgress?: (progress: ImportProgress) => void } = {},
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
  // a parse error is reported by what reads the parser (firstRecord, then the staging pipeline,
  // which sees an error raised between the two too): this listener only keeps it from being unhandled
  parser.on('error', () => {});
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
  let previousEnd = 0;
  const reject = (line: number, reason: string) => {
    invalidCount += 1;
    if (invalid.length < MAX_REPORTED) invalid.push({ line, reason });
  };
  /** The line a record starts on (a quoted cell may span lines; blank lines are skipped) and whether its bytes are UTF-8. */
  const locate = (record: ParsedRecord) => {
    const line = previousEnd + 1;
    previousEnd = record.info.lines;
    return { line, badBytes: notUtf8(line, previousEnd) };
  };

  /**
   * One data row: [line, ...values] (text in a canonical spelling) when valid, while counting and
   * reporting the invalid ones; after the first invalid row nothing more is staged (nothing will be
   * inserted) but every row is still checked, for the report.
   */
  const validRow = (mapped: (ImportColumn | undefined)[], parsed: ParsedRecord): (string | null)[] | undefined => {
    const { line, badBytes } = locate(parsed);
    const { record } = parsed;
    rows += 1;
    if (rows % PROGRESS_EVERY === 0) options.onProgress?.({ phase: 'staging', rows });
    if (badBytes) return void reject(line, NOT_UTF8);
    if (record.length > mapped.length) return void reject(line, `${record.length} cells, the header has ${mapped.length}`);
    const values: (string | null)[] = [String(line)];
    const reasons: string[] = [];
    mapped.forEach((column, i) => {
      if (!column) return;
      const checked = checkCell(column, record[i]);
      if (checked.ok) values.push(checked.value);
      else reasons.push(checked.reason);
    });
    if (reasons.length) return void reject(line, reasons.join('; '));
    return invalidCount === 0 ? values : undefined;
  };

  /**
   * The rows after the header, validated and batched by a stream transform: per row only
   * synchronous work (no promise or async iterator step per row, which would cost more than
   * parsing it); the staging query gets a batch at a time. Buffered: one batch (readable side) and
   * the parser's few records, so the reading never runs far ahead of the staging (backpressure).
   */
  const batches = <B>(mapped: (ImportColumn | undefined)[], add: (values: (string | null)[]) => B | undefined, rest: () => B | undefined) =>
    pipeline(
      parser,
      new Transform({
        writableObjectMode: true,
        readableObjectMode: true,
        readableHighWaterMark: 1,
        transform(parsed: ParsedRecord, _encoding, done) {
          const values = validRow(mapped, parsed);
          const full = values ? add(values) : undefined;
          done(null, full);
        },
        flush(done) {
          done(null, rest());
        },
      }),
      () => {}, // an error reaches the consumer through the stream it iterates
    );
  const stageColumns = () => `line, ${used.map((c) => quote(c.name)).join(', ')}`;
  /** node-postgres: the rows as COPY text, in chunks of about COPY_CHUNK bytes. */
  const copyText = (mapped: (ImportColumn | undefined)[]): AsyncIterable<string> => {
    let chunk = '';
    const take = () => {
      const full = chunk || undefined;
      chunk = '';
      return full;
    };
    return batches(mapped, (values) => {
      chunk += `${values.map(copyValue).join('\t')}\n`;
      return chunk.length >= COPY_CHUNK ? take() : undefined;
    }, take);
  };
  /** PGlite: STAGE_ROWS rows per insert, one array parameter per column. */
  const insertBatches = async (mapped: (ImportColumn | undefined)[]) => {
    const width = used.length + 1;
    const sql = `insert into ${STAGE} (${stageColumns()}) select * from rows from (pg_catalog.unnest($1::integer[]), ${used.map((_, i) => `pg_catalog.unnest($${i + 2}::text[])`).join(', ')})`;
    let batch: (string | null)[][] = Array.from({ length: width }, () => []);
    const take = () => {
      const full = batch[0]!.length > 0 ? batch : undefined;
      batch = Array.from({ length: width }, () => []);
      return full;
    };
    const source = batches(mapped, (values) => {
      values.forEach((v, i) => batch[i]!.push(v));
      return batch[0]!.length >= STAGE_ROWS ? take() : undefined;
    }, take);
    for await (const full of source as AsyncIterable<(string | null)[][]>) await tx.query(sql, full);
  };

  try {
    const first = await firstRecord(parser);
    if (first) {
      const header = locate(first);
      if (header.badBytes) {
        throw new ImportRejected(`nothing was imported: the header (line ${header.line}) is ${NOT_UTF8}`, 422, {
          invalid: [{ line: header.line, reason: `the header is ${NOT_UTF8}` }],
          invalidCount: 1,
          rows: 0,
        });
      }
      columns = mapHeader(spec, first.record);
      used = columns.filter((c): c is ImportColumn => c !== undefined);
      await tx.query(`drop table if exists ${STAGE}`);
      await tx.query(`create temp table ${STAGE} (line integer not null, ${used.map((c) => `${quote(c.name)} text`).join(', ')}) on commit drop`);
      if (tx.copyFrom) await tx.copyFrom(`copy ${STAGE} (${stageColumns()}) from stdin`, copyText(columns));
      else await insertBatches(columns);
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
    reject(line, NOT_UTF8);
  }
  if (!columns) throw new ImportRejected('the file is empty (a header row is required)', 400);
  if (invalidCount > 0) {
    throw new ImportRejected(
      `nothing was imported: ${invalidCount} invalid row${invalidCount > 1 ? 's' : ''}, the first on line ${invalid[0]!.line} (any invalid row rejects the whole file)`,
      422,
      { invalid, invalidCount, rows },
    );
  }
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

  if (rows > 0) {
    options.onProgress?.({ phase: 'inserting', rows });
    const cast = (c: ImportColumn) => `${quote(c.name)}::${SQL_TYPES[c.type]}`;
    // rows are the same when their normalised values are: the typed values' jsonb text, which is
    // what the table's content_hash column hashes (compared byte for byte: collation "C")
    const dedup = spec.key
      ? spec.key.map((k) => cast(used.find((c) => c.name === k)!)).join(', ')
      : `pg_catalog.jsonb_build_array(${used.map(cast).join(', ')})::text collate "C"`;
    const conflict = spec.key ? `(tenant_id, ${spec.key.map(quote).join(', ')})` : '(tenant_id, content_hash)';
    const names = used.map((c) => quote(c.name));
    // the caller's tenant and user, read once (not a default evaluated per row); RLS checks each row
    const who = await tx.query<{ tenant_id: string | null; user_id: string | null }>(
      'select app.current_tenant_id() as tenant_id, app.current_user_id() as user_id',
    );
    const { tenant_id: tenantId, user_id: userId } = who.rows[0]!;
    const system = ['tenant_id', ...(spec.owner ? [spec.owner] : [])];
    const systemValues = ['$1::uuid', ...(spec.owner ? ['$2::uuid'] : [])];
    await tx.query(`set local work_mem = '${WORK_MEM}'`); // this transaction only (and safe behind a transaction pooler)
    // one statement: the distinct rows (the first of each in the file), inserted, and both counted;
    // `returning 1` reads no column, so it needs no select right on the table
    const result = await tx.query<{ distinct_rows: number; inserted: number }>(
      `with distinct_rows as (
         select distinct on (${dedup}) ${used.map((c) => `${cast(c)} as ${quote(c.name)}`).join(', ')}
           from ${STAGE}
          order by ${dedup}, line
       ), inserted as (
         insert into app.${quote(spec.table)} (${[...system.map(quote), ...names].join(', ')})
         select ${[...systemValues, ...names].join(', ')} from distinct_rows
         on conflict ${conflict} do nothing
         returning 1
       )
       select (select count(*) from distinct_rows)::int as distinct_rows, (select count(*) from inserted)::int as inserted`,
      spec.owner ? [tenantId, userId] : [tenantId],
    );
    const { distinct_rows: unique, inserted } = result.rows[0]!;
    report.inserted = inserted;
    report.duplicates.inFile = rows - unique;
    report.duplicates.existing = unique - inserted;
  }

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
