// Unit tests of the generated app's CSV import helpers (templates/app/features/csv-import/src/imports),
// run from the repo: cell validation and normalisation, header mapping, formula neutralisation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkCell, normaliseHeader } from '../../templates/app/features/csv-import/src/imports/validate.js';
import { csvCell, csvLine, neutralise } from '../../templates/app/features/csv-import/src/imports/export.js';
import type { ImportColumn } from '../../templates/app/features/csv-import/src/imports/types.js';

const col = (type: ImportColumn['type'], extra: Partial<ImportColumn> = {}): ImportColumn => ({ name: 'c', type, required: false, nullable: true, ...extra });

test('formula injection: =, +, -, @, tab, CR and LF get a leading apostrophe', () => {
  for (const value of ['=1+2', '+SUM(A1)', '-2+3', '@cmd', '\tx', '\rx', '\nx']) assert.is(neutralise(value), `'${value}`);
  for (const value of ['plain', '1+2', "'=already", '']) assert.is(neutralise(value), value);
  assert.is(neutralise('-5', true), '-5', 'a plain number in a numeric column stays');
  assert.is(neutralise('-5+1', true), "'-5+1");
  assert.is(neutralise('-5'), "'-5", 'text columns neutralise everything');
});

test('CSV cells are quoted when needed; NULL is empty', () => {
  assert.is(csvCell(null), '');
  assert.is(csvCell('a,b'), '"a,b"');
  assert.is(csvCell('say "hi"'), '"say ""hi"""');
  assert.is(csvCell('two\r\nlines'), '"two\r\nlines"');
  assert.is(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
  assert.is(csvLine(['a', 1, null], [false, true, false]), 'a,1,\r\n');
});

test('cells are validated by type and normalised', () => {
  assert.equal(checkCell(col('int'), '007'), { ok: true, value: '7' });
  assert.equal(checkCell(col('int'), '2147483648').ok, false);
  assert.equal(checkCell(col('int'), '1.5').ok, false);
  assert.equal(checkCell(col('bigint'), '-0042'), { ok: true, value: '-42' });
  assert.equal(checkCell(col('numeric'), '1.50'), { ok: true, value: '1.50' });
  assert.equal(checkCell(col('numeric'), '1e5').ok, false);
  assert.equal(checkCell(col('boolean'), 'Yes'), { ok: true, value: 'true' });
  assert.equal(checkCell(col('boolean'), 'maybe').ok, false);
  assert.equal(checkCell(col('date'), '2024-02-29'), { ok: true, value: '2024-02-29' });
  assert.equal(checkCell(col('date'), '2023-02-29').ok, false);
  assert.equal(checkCell(col('timestamptz'), '2024-01-31T12:00:00Z'), { ok: true, value: '2024-01-31T12:00:00.000Z' });
  assert.equal(checkCell(col('uuid'), '00000000-0000-4000-8000-00000000000A'), { ok: true, value: '00000000-0000-4000-8000-00000000000a' });
  assert.equal(checkCell(col('uuid'), 'nope').ok, false);
  assert.equal(checkCell(col('text', { maxLength: 3 }), 'abcd').ok, false);
  assert.equal(checkCell(col('text', { minLength: 2 }), 'a').ok, false);
  assert.equal(checkCell(col('text'), 'a\u0000b').ok, false);
});

test('text lengths are in characters: a character outside the BMP (two UTF-16 units) counts once', () => {
  const emoji = (n: number) => '\u{1F600}'.repeat(n);
  const ok = (extra: Partial<ImportColumn>, value: string) => checkCell(col('text', extra), value).ok;
  // at most 3: as many units as the bound, twice as many, and one character more either way
  assert.ok(ok({ maxLength: 3 }, 'abc'));
  assert.not.ok(ok({ maxLength: 3 }, 'abcd'));
  assert.ok(ok({ maxLength: 3 }, emoji(3)), 'six units, three characters');
  assert.not.ok(ok({ maxLength: 3 }, emoji(4)));
  assert.ok(ok({ maxLength: 3 }, `a${emoji(2)}`));
  // at least 3: half as many units as the bound is not enough, whatever the units' count
  assert.ok(ok({ minLength: 3 }, emoji(3)));
  assert.not.ok(ok({ minLength: 3 }, emoji(2)), 'four units, two characters');
  assert.not.ok(ok({ minLength: 3 }, `a${emoji(1)}`), 'three units, two characters');
  assert.ok(ok({ minLength: 3 }, `ab${emoji(1)}`));
  assert.match((checkCell(col('text', { minLength: 3 }), emoji(2)) as { reason: string }).reason, /shorter than 3 characters/);
  assert.match((checkCell(col('text', { maxLength: 3 }), emoji(4)) as { reason: string }).reason, /longer than 3 characters/);
  // a lone surrogate is one character
  assert.ok(ok({ minLength: 2, maxLength: 2 }, 'a\ud800'));
});

test('empty cells: required is an error, nullable is NULL, otherwise empty text', () => {
  assert.match((checkCell(col('text', { required: true }), '') as { reason: string }).reason, /c is required/);
  assert.equal(checkCell(col('int'), ''), { ok: true, value: null });
  assert.equal(checkCell(col('text', { nullable: false }), ''), { ok: true, value: '' });
  assert.equal(checkCell(col('int', { nullable: false }), '').ok, false);
});

test('headers are matched trimmed, case-insensitively, spaces and dashes as _', () => {
  assert.is(normaliseHeader('  Unit Price '), 'unit_price');
  assert.is(normaliseHeader('due-date'), 'due_date');
});

test.run();
