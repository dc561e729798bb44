/**
 * CSV import (invariant I14). One call imports one file into one table, inside the caller's request
 * transaction (their role, their session: RLS decides), all or nothing:
 *
 *   1. stream the upload through SHA-256 and a UTF-8 check, then csv-parse (quotes, embedded newlines,
 *      BOM, CRLF); neither the file nor its rows are ever held in memory: rows stream into a TEMP
 *      staging table as they are parsed (node-postgres: one COPY FROM STDIN; PGlite: multi-row
 *      inserts); a row holding bytes that are not UTF-8 is an invalid row (step 2);
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
import { Transform, type Readable } from 'node:stream';
import { Parser, type Options as ParseOptions } from 'csv-parse';
import type { Queryable } from '../db/client.js';
import { SQL_TYPES, type ImportColumn, type ImportTable } from './types.js';
import { Utf8Lines } from './utf8.js';
import { checkCell, normaliseHeader } from './validate.js';

export const MAX_REPORTED = 100;
/**
 * Rows are staged in batches of about this much text: a COPY chunk (node-postgres), the parameters
 * of one insert (PGlite). A few batches are in memory at a time, whatever the file's size.
 */
const BATCH_BYTES = 64 * 1024;
/** PGlite: rows per staging insert at most (short rows) */
const STAGE_ROWS = 2000;
/** the de-duplication sort of one import: in memory for files of a few hundred thousand rows */
const WORK_MEM = '64MB';
const STAGE = 'pg_temp.xms_import_stage';

/**
 * A value in COPY's text format: NULL is \N; backslash, tab and line breaks are escaped. Most values
 * have none of them: a test first spares them replace()'s slow path for a function replacer
 * (measured on the bench's 300k-row file: ~150 ms of CPU for its 600k values, ~50 ms with the test).
 */
const copyValue = (value: string | null) => (value === null ? '\\N' : COPY_SPECIAL.test(value) ? value.replace(COPY_SPECIALS, (c) => COPY_ESCAPES[c]!) : value);
// test() of a global expression would carry lastIndex from one value to the next: one of each
const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIALS = new RegExp(COPY_SPECIAL.source, 'g');
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

/** Staged rows collected into batches: add() answers a batch once it is full, take() what is left. */
interface Batcher<B> {
  add(values: (string | null)[]): B | undefined;
  take(): B | undefined;
}

/** node-postgres: rows as COPY text, in chunks of about BATCH_BYTES. */
function copyTextBatcher(): Batcher<string> {
  let chunk = '';
  const take = () => {
    const full = chunk || undefined;
    chunk = '';
    return full;
  };
  return {
    add(values) {
      chunk += `${values.map(copyValue).join('\t')}\n`;
      return chunk.length >= BATCH_BYTES ? take() : undefined;
    },
    take,
  };
}

/** PGlite: about BATCH_BYTES of values (STAGE_ROWS rows at most) per batch, one array per column (one insert's parameters). */
function columnBatcher(): Batcher<(string | null)[][]> {
  let batch: (string | null)[][] = [];
  let size = 0;
  const take = () => {
    const full = batch.length > 0 && batch[0]!.length > 0 ? batch : undefined;
    batch = [];
    size = 0;
    return full;
  };
  return {
    add(values) {
      if (batch.length === 0) batch = values.map(() => []);
      values.forEach((v, i) => {
        batch[i]!.push(v);
        size += v?.length ?? 0;
      });
      return size >= BATCH_BYTES || batch[0]!.length >= STAGE_ROWS ? take() : undefined;
    },
    take,
  };
}

/**
 * csv-parse's stream, handing each record to `handle` as it is parsed, with the line it ends on,
 * and emitting only what `handle` returns (full batches), then what `rest` returns at the end.
 * csv-parse's own way to a record's line (the `info` or `on_record` option) builds an object per
 * record by object spread: that costs more CPU than parsing the row, and V8 promotes those objects
 * to the old generation, where they pile up as garbage until a full collection (measured on a
 * 1M-row import: over 100 MiB of peak RSS). The line is read from the parser as it emits the record.
 */
class RecordParser<B> extends Parser {
  constructor(
    options: ParseOptions,
    private readonly handle: (record: string[], endLine: number) => B | undefined,
    private readonly rest: () => B | undefined,
  ) {
    // one emitted batch waits at most before the parser stops taking input (backpressure)
    super({ ...options, readableHighWaterMark: 1 } as ParseOptions);
  }

  override push(record: unknown, encoding?: BufferEncoding): boolean {
    if (this.destroyed) return false;
    try {
      if (record === null) {
        const last = this.rest();
        if (last !== undefined) super.push(last);
        return super.push(null, encoding);
      }
      const batch = this.handle(record as string[], this.info.lines);
      return batch === undefined || super.push(batch, encoding);
    } catch (error) {
      // thrown inside csv-parse's loop, which does not expect it: end the stream with it instead
      this.destroy(error as Error);
      return false;
    }
  }
}

/** The next item of a stream, or undefined at its end, read without starting its flow. */
function nextItem<T>(stream: Readable): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const settle = (error: Error | null, item?: T) => {
      stream.off('readable', read).off('end', end).off('error', settle);
      if (error) reject(error);
      else resolve(item);
    };
    const read = () => {
      const item = stream.read() as T | null;
      if (item !== null) settle(null, item);
    };
    const end = () => settle(null);
    stream.on('readable', read).once('end', end).once('error', settle);
  });
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
  const locate = (endLine: number) => {
    const line = previousEnd + 1;
    previousEnd = endLine;
    return { line, badBytes: notUtf8(line, previousEnd) };
  };

  /** The header row: maps it to the table's columns, or throws ImportRejected. */
  const readHeader = (record: string[], endLine: number) => {
    const header = locate(endLine);
    if (header.badBytes) {
      throw new ImportRejected(`nothing was imported: the header (line ${header.line}) is ${NOT_UTF8}`, 422, {
        invalid: [{ line: header.line, reason: `the header is ${NOT_UTF8}` }],
        invalidCount: 1,
        rows: 0,
      });
    }
    columns = mapHeader(spec, record);
    used = columns.filter((c): c is ImportColumn => c !== undefined);
  };

  /**
   * One data row: [line, ...values] (text in a canonical spelling) when valid, while counting and
   * reporting the invalid ones; after the first invalid row nothing more is staged (nothing will be
   * inserted) but every row is still checked, for the report.
   */
  const validRow = (mapped: (ImportColumn | undefined)[], record: string[], endLine: number): (string | null)[] | undefined => {
    const { line, badBytes } = locate(endLine);
    rows += 1;
    if (rows % PROGRESS_EVERY === 0) options.onProgress?.({ phase: 'staging', rows });
    if (badBytes) return void reject(line, NOT_UTF8);
    if (record.length > mapped.length) return void reject(line, `${record.length} cells, the header has ${mapped.length}`);
    const values: (string | null)[] = [String(line)];
    let reasons: string[] | undefined;
    for (let i = 0; i < mapped.length; i++) {
      const column = mapped[i];
      if (!column) continue;
      const checked = checkCell(column, record[i]);
      if (checked.ok) values.push(checked.value);
      else (reasons ??= []).push(checked.reason);
    }
    if (reasons) return void reject(line, reasons.join('; '));
    return invalidCount === 0 ? values : undefined;
  };

  /**
   * Reads the file into the staging table, in batches that `send` hands to the database. Every
   * record is handled as the parser produces it: the header mapped, the row validated and added to
   * the current batch; the parser emits only full batches and holds one at most, so the reading
   * never runs far ahead of the staging (backpressure) and memory stays flat however long the file.
   */
  const stage = async <B>(batcher: Batcher<B>, send: (stageColumns: string, batches: AsyncIterable<B>) => Promise<unknown>) => {
    const parser = new RecordParser<B>(
      { bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, max_record_size: 1024 * 1024 },
      (record, endLine) => {
        if (!columns) return void readHeader(record, endLine);
        const values = validRow(columns, record, endLine);
        return values ? batcher.add(values) : undefined;
      },
      () => batcher.take(),
    );
    file.on('error', (error) => parser.destroy(error));
    // a parse error (or the header's ImportRejected) is reported by what reads the parser: this
    // listener only keeps it from being unhandled
    parser.on('error', () => {});
    file.pipe(hashing).pipe(parser);
    // the first batch, or the end: either way the header has been read by then
    const first = await nextItem<B>(parser);
    if (!columns) return;
    await tx.query(`drop table if exists ${STAGE}`);
    await tx.query(`create temp table ${STAGE} (line integer not null, ${used.map((c) => `${quote(c.name)} text`).join(', ')}) on commit drop`);
    const batches = async function* () {
      if (first === undefined) return;
      yield first;
      yield* parser as AsyncIterable<B>;
    };
    await send(`line, ${used.map((c) => quote(c.name)).join(', ')}`, batches());
  };

  try {
    const copyFrom = tx.copyFrom?.bind(tx);
    if (copyFrom) {
      // node-postgres: one COPY FROM STDIN, fed a chunk of COPY text at a time
      await stage(copyTextBatcher(), (stageColumns, batches) => copyFrom(`copy ${STAGE} (${stageColumns}) from stdin`, batches));
    } else {
      // PGlite (no COPY FROM STDIN): one insert per batch, an array parameter per column
      await stage(columnBatcher(), async (stageColumns, batches) => {
        const sql = `insert into ${STAGE} (${stageColumns}) select * from rows from (pg_catalog.unnest($1::integer[]), ${used.map((_, i) => `pg_catalog.unnest($${i + 2}::text[])`).join(', ')})`;
        for await (const batch of batches) await tx.query(sql, batch);
      });
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
