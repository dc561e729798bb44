// CSV import into app.products over HTTP (written by `xms add csv-import products`).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { multipartFile, startTestApp, type TestApp } from '../helpers/app.js';
import { can } from '../../src/generated/permissions.js';

let t: TestApp;
test.before(async () => {
  t = await startTestApp();
});
test.after(async () => {
  await t?.close();
});

const header = ["sku","qty","notes"];
const row = ["sample","7","sample"];
const csv = `${header.join(',')}\r\n${row.join(',')}\r\n${row.join(',')}\r\n`;

test('products: a file with a repeated row inserts it once; the same file again inserts nothing', async () => {
  if (!can('admin', 'products', 'insert')) return; // the matrix was edited: nothing to try
  const admin = await t.user({ role: 'admin' });
  const upload = multipartFile('file', 'products.csv', csv);
  const first = await t.call(admin, 'POST', '/api/imports/products', upload.payload, upload.headers);
  assert.is(first.statusCode, 200, first.body);
  assert.is(first.json().inserted, 1);
  assert.is(first.json().duplicates.inFile, 1);
  const again = await t.call(admin, 'POST', '/api/imports/products', upload.payload, upload.headers);
  assert.is(again.statusCode, 200, again.body);
  assert.is(again.json().inserted, 0);
  assert.is(again.json().duplicates.file, true);
  const exported = await t.call(admin, 'GET', '/api/exports/products');
  assert.is(exported.statusCode, 200);
  assert.is(exported.body.trim().split('\r\n').length, 2);
});

test('products: a row with bytes that are not UTF-8 rejects the file, naming its line', async () => {
  if (!can('admin', 'products', 'insert')) return;
  const admin = await t.user({ role: 'admin' });
  const file = Buffer.concat([Buffer.from(`${header.join(',')}\r\n${row.join(',')}\r\n`), Buffer.from([0xff]), Buffer.from(`${row.join(',')}\r\n`)]);
  const upload = multipartFile('file', 'products-latin1.csv', file);
  const res = await t.call(admin, 'POST', '/api/imports/products', upload.payload, upload.headers);
  assert.is(res.statusCode, 422, res.body);
  assert.equal(res.json().invalid.map((r: { line: number }) => r.line), [3]);
  const exported = await t.call(admin, 'GET', '/api/exports/products');
  assert.is(exported.body.trim().split('\r\n').length, 1);
});

test('products: no session, no import', async () => {
  const upload = multipartFile('file', 'products.csv', csv);
  assert.is((await t.call(null, 'POST', '/api/imports/products', upload.payload, upload.headers)).statusCode, 401);
});

test.run();
