// The progress of a CSV import (src/imports/progress.ts, GET /api/imports/progress/:id), as the page
// that uploads a file polls it: rows read while the server reads, the insert, then done; per user.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { multipartFile, startTestApp, type TestApp, type TestUser } from '../helpers/app.js';
import { withRequestTransaction } from '../../src/db/request.js';
import { importCsv, type ImportProgress } from '../../src/imports/csv-import.js';
import { ImportProgressBoard } from '../../src/imports/progress.js';
import { IMPORT_TABLES } from '../../src/imports/tables/index.js';

let t: TestApp;
test.before(async () => {
  t = await startTestApp();
});
test.after(async () => {
  await t?.close();
});

const csvOf = (rows: number, tag: string) =>
  `title,body\n${Array.from({ length: rows }, (_, i) => `${tag} ${i},body ${i}`).join('\n')}\n`;

function upload(user: TestUser, csv: string, progress?: string) {
  const body = multipartFile('file', 'records.csv', csv);
  return t.call(user, 'POST', `/api/imports/records${progress ? `?progress=${progress}` : ''}`, body.payload, body.headers);
}

test('importCsv reports rows read every 500 rows, then the insert', async () => {
  const user = await t.user({ role: 'admin' });
  const seen: ImportProgress[] = [];
  const report = await withRequestTransaction(t.db, { sessionToken: user.token, dbRole: 'admin' }, (tx) =>
    importCsv(tx, IMPORT_TABLES.records!, Readable.from([csvOf(1_250, 'progress')]), { onProgress: (p) => seen.push({ ...p }) }),
  );
  assert.equal(seen, [
    { phase: 'staging', rows: 500 },
    { phase: 'staging', rows: 1000 },
    { phase: 'inserting', rows: 1250 },
  ]);
  assert.is(report.rows, 1250);
  assert.is(report.inserted + report.duplicates.inFile + report.duplicates.existing, report.rows, 'the numbers agree');
});

test('GET /api/imports/progress/:id: the caller\'s own import only, done with its rows; bad ids 400', async () => {
  const user = await t.user({ role: 'admin' });
  const other = await t.user({ role: 'admin', tenantId: user.tenantId });
  const id = randomUUID();
  assert.is((await t.call(user, 'GET', `/api/imports/progress/${id}`)).statusCode, 404, 'nothing before the upload');
  const imported = await upload(user, csvOf(1_200, `http ${id}`), id);
  assert.is(imported.statusCode, 200, imported.body);
  const progress = await t.call(user, 'GET', `/api/imports/progress/${id}`);
  assert.is(progress.statusCode, 200);
  assert.equal(progress.json(), { phase: 'done', rows: 1200 });
  assert.is((await t.call(other, 'GET', `/api/imports/progress/${id}`)).statusCode, 404, 'another user learns nothing');
  assert.is((await t.call(null, 'GET', `/api/imports/progress/${id}`)).statusCode, 401);
  assert.is((await t.call(user, 'GET', '/api/imports/progress/not-a-uuid')).statusCode, 400);
  assert.is((await upload(user, csvOf(2, 'bad id'), 'not-a-uuid')).statusCode, 400);
});

test('a rejected import ends its progress too', async () => {
  const user = await t.user({ role: 'admin' });
  const id = randomUUID();
  const rejected = await upload(user, 'title,body\n,missing title\n', id);
  assert.is(rejected.statusCode, 422);
  assert.equal((await t.call(user, 'GET', `/api/imports/progress/${id}`)).json(), { phase: 'done', rows: 1 });
});

test('the board: per user, a finished import forgotten after a minute', () => {
  let now = 0;
  const board = new ImportProgressBoard(() => now);
  board.set('alice', 'a', { phase: 'staging', rows: 500 });
  assert.equal(board.get('alice', 'a'), { phase: 'staging', rows: 500 });
  assert.is(board.get('bob', 'a'), undefined);
  now = 3_600_000;
  assert.equal(board.get('alice', 'a'), { phase: 'staging', rows: 500 }, 'a running import is kept');
  board.end('alice', 'a', 800);
  assert.equal(board.get('alice', 'a'), { phase: 'done', rows: 800 });
  now += 60_001;
  assert.is(board.get('alice', 'a'), undefined);
  board.end('alice', 'never-started', 1);
  assert.is(board.get('alice', 'never-started'), undefined);
});

test.run();
