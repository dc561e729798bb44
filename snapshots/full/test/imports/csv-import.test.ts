// CSV import and export of app.records over HTTP, as low-privilege users (invariant I14).
import { parse } from 'csv-parse/sync';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Readable } from 'node:stream';
import { multipartFile, startTestApp, type TestApp, type TestUser } from '../helpers/app.js';
import type { Queryable } from '../../src/db/client.js';
import { withRequestTransaction } from '../../src/db/request.js';
import { importCsv, ImportRejected } from '../../src/imports/csv-import.js';
import { IMPORT_TABLES } from '../../src/imports/tables/index.js';

// A row titled "boom" makes the database fail mid-import (a trigger, as a broken constraint would);
// one titled "stall" holds its import's transaction open for a second, its other rows uncommitted.
const FAIL_ON_BOOM = `
set role xms_owner;
create or replace function app.test_fail_on_boom() returns trigger language plpgsql security invoker set search_path = '' as $$
begin
  if new.title = 'boom' then raise exception 'boom refused by the database'; end if;
  if new.title = 'stall' then perform pg_catalog.pg_sleep(1); end if;
  return new;
end $$;
drop trigger if exists records_test_fail_on_boom on app.records;
create trigger records_test_fail_on_boom before insert on app.records for each row execute function app.test_fail_on_boom();
reset role;
-- what the audit log holds for an actor's inserts into app.records (tests only: the log is not readable by request roles)
create or replace function app.test_audited_record_inserts(actor uuid) returns integer language sql security definer set search_path = '' as $$
  select count(*)::integer from audit.log where table_name = 'app.records' and action = 'INSERT' and actor_id = actor
$$;
grant execute on function app.test_audited_record_inserts(uuid) to xms_request;`;

let t: TestApp;
test.before(async () => {
  t = await startTestApp({ setupSql: FAIL_ON_BOOM });
});
test.after(async () => {
  await t?.close();
});

function upload(user: TestUser | null, csv: string | Buffer, filename = 'records.csv', table = 'records') {
  const body = multipartFile('file', filename, csv);
  return t.call(user, 'POST', `/api/imports/${table}`, body.payload, body.headers);
}

/** The rows of the export (header excluded): [id, title, body, created_at] each. */
async function exported(user: TestUser): Promise<string[][]> {
  const res = await t.call(user, 'GET', '/api/exports/records');
  assert.is(res.statusCode, 200, res.body);
  assert.match(String(res.headers['content-type']), /^text\/csv/);
  const rows = parse(res.body) as string[][];
  assert.equal(rows[0], ['id', 'title', 'body', 'created_at']);
  return rows.slice(1);
}

test('no session: import and export answer 401', async () => {
  assert.is((await upload(null, 'title\r\na\r\n')).statusCode, 401);
  assert.is((await t.call(null, 'GET', '/api/exports/records')).statusCode, 401);
});

test('quotes, embedded newlines, backslashes, a BOM and CRLF are parsed; the same file again inserts 0 rows', async () => {
  const member = await t.user({ role: 'member' });
  const csv = Buffer.concat([
    Buffer.from([0xef, 0xbb, 0xbf]),
    // a backslash before n or t stays itself (COPY's text format would read \n as a line break)
    Buffer.from('Title,Body\r\n"Quoted, with comma","two\r\nlines"\r\nplain,"say ""hi"""\r\nback\\slash,C:\\new\\tab\r\n'),
  ]);
  const first = await upload(member, csv);
  assert.is(first.statusCode, 200, first.body);
  assert.equal(first.json().inserted, 3);
  assert.equal(first.json().duplicates, { inFile: 0, existing: 0, file: false });
  const again = await upload(member, csv);
  assert.is(again.statusCode, 200, again.body);
  assert.is(again.json().inserted, 0);
  assert.is(again.json().duplicates.file, true);
  const rows = await exported(member);
  assert.equal(
    rows.map((r) => [r[1], r[2]]).sort(),
    [['Quoted, with comma', 'two\r\nlines'], ['back\\slash', 'C:\\new\\tab'], ['plain', 'say "hi"']],
  );
});

test('rows repeated in the file are inserted once; rows already there are skipped', async () => {
  const member = await t.user({ role: 'member' });
  const res = await upload(member, 'title,body\na,x\nb,y\na,x\n  a  ,x\n');
  assert.is(res.statusCode, 200, res.body);
  assert.is(res.json().inserted, 2);
  assert.is(res.json().duplicates.inFile, 2); // the trimmed "  a  " is the same row
  const overlap = await upload(member, 'title,body\nb,y\nc,z\n', 'other.csv');
  assert.is(overlap.statusCode, 200, overlap.body);
  assert.is(overlap.json().inserted, 1);
  assert.is(overlap.json().duplicates.existing, 1);
  assert.is((await exported(member)).length, 3);
});

test('invalid rows are reported with their line numbers and nothing is inserted', async () => {
  const member = await t.user({ role: 'member' });
  const csv = 'title,body\ngood,1\n,missing title\n"multi\nline",ok\n' + `${'x'.repeat(501)},too long\nalso good,2,extra\n`;
  const res = await upload(member, csv);
  assert.is(res.statusCode, 422, res.body);
  const body = res.json();
  assert.is(body.error, 'invalid_rows');
  assert.is(body.invalidCount, 3);
  assert.equal(body.invalid.map((r: { line: number }) => r.line), [3, 6, 7]);
  assert.match(body.invalid[0].reason, /title is required/);
  assert.match(body.invalid[1].reason, /longer than 500/);
  assert.match(body.invalid[2].reason, /3 cells/);
  assert.is((await exported(member)).length, 0);
});

test('bytes that are not UTF-8 are a 422 naming the line the row starts on; nothing is inserted', async () => {
  const member = await t.user({ role: 'member' });
  const bad = (before: string, after: string, bytes = [0xff]) => Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]);
  // a lone invalid byte on line 3
  const res = await upload(member, bad('title,body\nfine,1\ncaf', 'e,2\nlast,3\n'));
  assert.is(res.statusCode, 422, res.body);
  assert.is(res.json().error, 'invalid_rows');
  assert.match(res.json().message, /line 3\b/);
  assert.equal(res.json().invalid, [{ line: 3, reason: 'not valid UTF-8 (save the file as UTF-8)' }]);
  // a quoted cell spanning lines 3-4, the bad byte on line 4: the row starts on line 3
  const spanning = await upload(member, bad('title,body\r\nfine,1\r\n"two\r\nline', 's",2\r\n'), 'spanning.csv');
  assert.is(spanning.statusCode, 422, spanning.body);
  assert.equal(spanning.json().invalid.map((r: { line: number }) => r.line), [3]);
  // a sequence cut short by the line break, by the end of the file, an overlong encoding of "/", a lone \r as line break
  for (const [file, line] of [
    [bad('title\nok\ncut', '\nok too\n', [0xe2, 0x82]), 3],
    [bad('title\nok\nok too\nend', '', [0xf0, 0x9f, 0x98]), 4],
    [bad('title\nok\nover', 'long\n', [0xc0, 0xaf]), 3],
    [bad('title\rok\rbad', '\rok\r', [0x80]), 3],
    [bad('tit', 'le\nok\n', [0xfe]), 1],
  ] as const) {
    const r = await upload(member, file, `case-${line}.csv`);
    assert.is(r.statusCode, 422, r.body);
    assert.equal(r.json().invalid.map((i: { line: number }) => i.line), [line], r.body);
  }
  assert.is((await exported(member)).length, 0);
});

test('a multi-byte character split across stream chunks is not an error', async () => {
  const member = await t.user({ role: 'member' });
  const titles = Array.from({ length: 60 }, (_, i) => `é€😀 ${i} ñ`);
  const file = Buffer.from(`title,body\n${titles.map((title, i) => `${title},"ü\n${i}"`).join('\n')}\n`);
  // chunks of 1 to 7 bytes: every boundary position inside 2-, 3- and 4-byte characters occurs
  const chunks: Buffer[] = [];
  for (let at = 0, size = 1; at < file.length; at += size, size = (size % 7) + 1) chunks.push(file.subarray(at, at + size));
  const report = await withRequestTransaction(t.db, { sessionToken: member.token, dbRole: 'member' }, (tx) =>
    importCsv(tx, IMPORT_TABLES.records!, Readable.from(chunks)),
  );
  assert.is(report.inserted, titles.length);
  const rows = await exported(member);
  assert.equal(rows.map((r) => r[1]).sort(), [...titles].sort());
  assert.ok(rows.every((r) => /^ü\n\d+$/.test(r[2]!)));
  // a sequence cut by a chunk boundary and never completed (the next chunk goes on with ASCII) is an error
  const cut = [Buffer.from('title\nfine\nbro'), Buffer.from([0xe2, 0x82]), Buffer.from('ken\nfine too\n')];
  const rejected = await withRequestTransaction(t.db, { sessionToken: member.token, dbRole: 'member' }, (tx) =>
    importCsv(tx, IMPORT_TABLES.records!, Readable.from(cut)).then(
      () => undefined,
      (error: unknown) => error,
    ),
  );
  assert.instance(rejected, ImportRejected);
  assert.is((rejected as ImportRejected).status, 422);
  assert.equal((rejected as ImportRejected).report?.invalid.map((r) => r.line), [3]);
  // over HTTP, a file of several upload chunks full of multi-byte characters
  const many = Array.from({ length: 6000 }, (_, i) => `ж€😀 row ${i},ü${'€'.repeat(i % 13)}`);
  const big = await upload(member, `title,body\n${many.join('\n')}\n`, 'big.csv');
  assert.is(big.statusCode, 200, big.body);
  assert.is(big.json().inserted, many.length);
});

test('a bad header is refused: unknown columns (tenant_id, owner_id) and missing required ones', async () => {
  const member = await t.user({ role: 'member' });
  const other = await t.user({ role: 'admin' });
  const forged = await upload(member, `title,tenant_id\nx,${other.tenantId}\n`);
  assert.is(forged.statusCode, 400, forged.body);
  assert.match(forged.json().message, /unknown column "tenant_id"/);
  assert.is((await upload(member, `title,owner_id\nx,${other.id}\n`)).statusCode, 400);
  assert.is((await upload(member, 'body\nx\n')).statusCode, 400);
  assert.is((await upload(member, '')).statusCode, 400);
  assert.is((await upload(member, 'title\n"unterminated\n')).statusCode, 400);
  assert.is((await upload(member, 'title\nx\n', 'x.csv', 'tenants')).statusCode, 404);
});

test('the database failing on one row mid-import leaves nothing behind', async () => {
  const member = await t.user({ role: 'member' });
  const rows = Array.from({ length: 1200 }, (_, i) => `row ${i}`);
  rows.splice(900, 0, 'boom');
  const res = await upload(member, `title\n${rows.join('\n')}\n`);
  assert.ok(res.statusCode >= 400, `expected a failure, got ${res.statusCode}`);
  assert.is((await exported(member)).length, 0);
  // no ledger row either: the corrected file imports
  const fixed = await upload(member, `title\n${rows.filter((r) => r !== 'boom').join('\n')}\n`);
  assert.is(fixed.statusCode, 200, fixed.body);
  assert.is(fixed.json().inserted, 1200);
});

test('the same file uploaded twice at once: one import inserts its rows, the other nothing', async () => {
  const member = await t.user({ role: 'member' });
  const colleague = await t.user({ role: 'member', tenantId: member.tenantId });
  // "stall" sorts after the other rows: the first import inserts them, then waits a second before
  // it commits, while the second upload is read, checked against the ledger and inserted
  const csv = `title,body\nstall,first\n${Array.from({ length: 500 }, (_, i) => `race ${i},body ${i}`).join('\n')}\n`;
  const answers = await Promise.all([upload(member, csv, 'race.csv'), upload(colleague, csv, 'race.csv')]);
  const [done, other] = answers[0].statusCode === 200 && answers[0].json().inserted > 0 ? answers : [answers[1], answers[0]];
  assert.is(done.statusCode, 200, done.body);
  assert.is(done.json().inserted, 501);
  if (t.db.kind === 'postgres') {
    // the second waited on the first's rows and then on its ledger row: refused, nothing inserted
    assert.is(other.statusCode, 409, other.body);
    assert.is(other.json().error, 'conflict');
  } else {
    // PGlite has one connection: the second import runs after the first commits, and finds its ledger row
    assert.is(other.statusCode, 200, other.body);
    assert.equal({ inserted: other.json().inserted, file: other.json().duplicates.file }, { inserted: 0, file: true });
  }
  // once in the table, once in the audit log, once in the ledger
  assert.is((await exported(member)).length, 501);
  const counts = await withRequestTransaction(t.db, { sessionToken: member.token, dbRole: 'member' }, (tx) =>
    tx.query<{ audited: number; imports: number }>(
      `select app.test_audited_record_inserts($1) + app.test_audited_record_inserts($2) as audited,
              (select count(*) from app.imports where filename = 'race.csv')::int as imports`,
      [member.id, colleague.id],
    ),
  );
  assert.equal(counts.rows[0], { audited: 501, imports: 1 });
});

test('imports stay in the importer\'s tenant; another tenant sees nothing and may import the same file', async () => {
  const member = await t.user({ role: 'member' });
  const outsider = await t.user({ role: 'admin' });
  const csv = 'title,body\nshared,file\n';
  assert.is((await upload(member, csv)).json().inserted, 1);
  assert.is((await exported(outsider)).length, 0);
  const theirs = await upload(outsider, csv);
  assert.is(theirs.json().inserted, 1, theirs.body);
  assert.is(theirs.json().duplicates.file, false);
  assert.is((await exported(member)).length, 1);
});

test('export neutralises formula injection', async () => {
  const member = await t.user({ role: 'member' });
  const res = await upload(member, 'title,body\n=1+2,+SUM(A1)\n@cmd,-2+3\n"\tTAB",ok\n');
  assert.is(res.statusCode, 200, res.body);
  const cells = (await exported(member)).map((r) => [r[1], r[2]]).sort();
  assert.equal(cells, [["'\tTAB", 'ok'], ["'=1+2", "'+SUM(A1)"], ["'@cmd", "'-2+3"]]);
});

test('the file is streamed with bounded memory: staging never lags far behind the reading', async () => {
  const member = await t.user({ role: 'member' });
  const ROWS = 20_000;
  const PAD = 'p'.repeat(100);
  let produced = 0;
  /** bytes of the file up to the end of row k (header included) */
  const ends: number[] = [];
  async function* source() {
    const header = Buffer.from('title,body\n');
    produced += header.length;
    yield header;
    for (let i = 0; i < ROWS; i += 100) {
      const lines = Array.from({ length: 100 }, (_, j) => `streamed ${i + j},${PAD} ${i + j}\n`);
      for (const line of lines) ends.push((ends[ends.length - 1] ?? header.length) + Buffer.byteLength(line));
      produced += Buffer.byteLength(lines.join(''));
      yield Buffer.from(lines.join(''));
    }
  }
  // at each staging step: how far the reading is ahead of the rows staged so far
  let staged = 0;
  let maxAhead = 0;
  let producedAtFirstBatch: number | undefined;
  const staging = (rows: number) => {
    producedAtFirstBatch ??= produced;
    maxAhead = Math.max(maxAhead, produced - (staged === 0 ? 0 : ends[staged - 1]!));
    staged += rows;
  };
  let copied = false;
  const report = await withRequestTransaction(t.db, { sessionToken: member.token, dbRole: 'member' }, (tx) => {
    const watched: Queryable = {
      query: (sql, params) => {
        if (/^insert into pg_temp\.xms_import_stage/.test(sql)) staging((params![0] as unknown[]).length);
        return tx.query(sql, params);
      },
      exec: (sql) => tx.exec(sql),
    };
    // node-postgres stages with COPY FROM STDIN: each chunk as it is handed to the connection
    const copyFrom = tx.copyFrom;
    if (copyFrom) {
      watched.copyFrom = (sql, data) => {
        copied = /^copy pg_temp\.xms_import_stage /.test(sql);
        return copyFrom(sql, (async function* () {
          for await (const chunk of data) {
            staging(chunk.split('\n').length - 1); // a line break inside a value is escaped as \n
            yield chunk;
          }
        })());
      };
    }
    return importCsv(watched, IMPORT_TABLES.records!, Readable.from(source()));
  });
  assert.is(report.inserted, ROWS);
  assert.is(staged, ROWS);
  assert.is(copied, t.db.kind === 'postgres');
  assert.ok(producedAtFirstBatch !== undefined && producedAtFirstBatch < produced / 4, `first batch staged after ${producedAtFirstBatch} of ${produced} bytes`);
  // the file is 2.5 MB: neither it nor its rows pile up in memory
  assert.ok(maxAhead < 512 * 1024, `reading ran ${maxAhead} bytes ahead of staging`);
});

test('a bad row at the end of a large file: the rows staged before it are rolled back, nothing is inserted', async () => {
  const member = await t.user({ role: 'member' });
  const ROWS = 30_000;
  async function* source() {
    yield Buffer.from('title,body\n');
    for (let i = 0; i < ROWS; i += 1000) {
      yield Buffer.from(Array.from({ length: 1000 }, (_, j) => `staged ${i + j},row ${i + j}\n`).join(''));
    }
    yield Buffer.from(',no title\n');
  }
  let staged = -1;
  const rejected = await withRequestTransaction(t.db, { sessionToken: member.token, dbRole: 'member' }, async (tx) => {
    const error = await importCsv(tx, IMPORT_TABLES.records!, Readable.from(source())).then(() => undefined, (e: unknown) => e);
    // the rows before the bad one did reach the staging table (streamed, COPY on PostgreSQL) ...
    staged = (await tx.query<{ n: number }>('select count(*)::int as n from pg_temp.xms_import_stage')).rows[0]!.n;
    return error;
  }).catch((error: unknown) => error);
  assert.instance(rejected, ImportRejected);
  assert.is((rejected as ImportRejected).status, 422);
  assert.equal((rejected as ImportRejected).report?.invalid, [{ line: ROWS + 2, reason: 'title is required' }]);
  assert.ok(staged > 0, `${staged} rows staged`);
  // ... and none of them was inserted, audited or recorded in the ledger
  assert.is((await exported(member)).length, 0);
  const left = await withRequestTransaction(t.db, { sessionToken: member.token, dbRole: 'member' }, (tx) =>
    tx.query<{ audited: number; imports: number }>(
      `select app.test_audited_record_inserts($1) as audited, (select count(*) from app.imports)::int as imports`,
      [member.id],
    ),
  );
  assert.equal(left.rows[0], { audited: 0, imports: 0 });
});

test('malformed CSV half-way through a COPY-staged file: 400, nothing inserted, the connection is usable again', async () => {
  const member = await t.user({ role: 'member' });
  const rows = Array.from({ length: 5000 }, (_, i) => `row ${i},body ${i}`);
  const res = await upload(member, `title,body\n${rows.join('\n')}\n"unterminated,x\n`);
  assert.is(res.statusCode, 400, res.body);
  assert.match(res.json().message, /malformed CSV/);
  assert.is((await exported(member)).length, 0);
  const fixed = await upload(member, `title,body\n${rows.join('\n')}\n`);
  assert.is(fixed.statusCode, 200, fixed.body);
  assert.is(fixed.json().inserted, rows.length);
});

test('every imported row is audited with the importer as actor; owner and tenant are the importer\'s', async () => {
  const member = await t.user({ role: 'member' });
  const res = await upload(member, 'title,body\naudited one,1\naudited two,2\naudited one,1\n');
  assert.is(res.statusCode, 200, res.body);
  assert.is(res.json().inserted, 2);
  const seen = await withRequestTransaction(t.db, { sessionToken: member.token, dbRole: 'member' }, async (tx) => ({
    rows: (await tx.query<{ owner_id: string; tenant_id: string; content_hash: string; expected: string }>(
      `select owner_id, tenant_id, content_hash, app.content_hash(pg_catalog.jsonb_build_array(title, body)) as expected
         from app.records order by title`,
    )).rows,
    audited: (await tx.query<{ n: number }>('select app.test_audited_record_inserts($1) as n', [member.id])).rows[0]!.n,
  }));
  assert.is(seen.rows.length, 2);
  for (const row of seen.rows) {
    assert.is(row.owner_id, member.id);
    assert.is(row.tenant_id, member.tenantId);
    // content_hash is generated: the hash of the row's normalised values
    assert.is(row.content_hash, row.expected);
  }
  assert.is(seen.audited, 2);
  // and nobody can write it
  const forged = await withRequestTransaction(t.db, { sessionToken: member.token, dbRole: 'member' }, (tx) =>
    tx.query(`insert into app.records (title, content_hash) values ('forged', 'not the hash')`),
  ).then(() => 'inserted', (e: Error) => e.message);
  assert.match(forged, /content_hash/);
});

test('an oversized file is refused with 413 and nothing is inserted', async () => {
  const previous = process.env.IMPORT_MAX_BYTES;
  process.env.IMPORT_MAX_BYTES = '2048';
  const small = await startTestApp();
  try {
    const member = await small.user({ role: 'member' });
    const big = multipartFile('file', 'big.csv', `title\n${Array.from({ length: 400 }, (_, i) => `row ${i}`).join('\n')}\n`);
    const res = await small.call(member, 'POST', '/api/imports/records', big.payload, big.headers);
    assert.is(res.statusCode, 413, res.body);
    const ok = multipartFile('file', 'ok.csv', 'title\nfits\n');
    assert.is((await small.call(member, 'POST', '/api/imports/records', ok.payload, ok.headers)).json().inserted, 1);
    const list = await small.call(member, 'GET', '/api/exports/records');
    assert.is((parse(list.body) as string[][]).length, 2);
  } finally {
    if (previous === undefined) delete process.env.IMPORT_MAX_BYTES;
    else process.env.IMPORT_MAX_BYTES = previous;
    await small.close();
  }
});

test.run();
