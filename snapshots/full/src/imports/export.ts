/**
 * CSV export with formula injection neutralised: a cell beginning with =, +, -, @, tab, CR or LF is
 * prefixed with an apostrophe, so a spreadsheet shows it as text instead of evaluating it (OWASP
 * "CSV injection"). Values of numeric columns that are plain numbers (-5, -1.25) are left as they are.
 */
import type { PassThrough } from 'node:stream';
import { once } from 'node:events';
import type { Queryable } from '../db/client.js';
import type { ImportTable } from './types.js';

const FORMULA_START = /^[=+\-@\t\r\n]/;
const PLAIN_NUMBER = /^-?\d+(\.\d+)?$/;
const PAGE = 1000;

export function neutralise(value: string, numeric = false): string {
  if (numeric && PLAIN_NUMBER.test(value)) return value;
  return FORMULA_START.test(value) ? `'${value}` : value;
}

export function csvCell(value: unknown, numeric = false): string {
  if (value === null || value === undefined) return '';
  const text = neutralise(value instanceof Date ? value.toISOString() : String(value), numeric);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(values: unknown[], numeric: boolean[] = []): string {
  return `${values.map((v, i) => csvCell(v, numeric[i])).join(',')}\r\n`;
}

/** Writes the rows the caller may see, page by page (keyset on id), into `out`; memory stays flat. */
export async function exportCsv(tx: Queryable, spec: ImportTable, out: PassThrough): Promise<number> {
  const names = ['id', ...spec.columns.map((c) => c.name), 'created_at'];
  const numeric = [false, ...spec.columns.map((c) => ['int', 'bigint', 'numeric'].includes(c.type)), false];
  const write = async (chunk: string) => {
    if (!out.write(chunk)) await once(out, 'drain');
  };
  await write(csvLine(names));
  let last: string | null = null;
  let count = 0;
  for (;;) {
    const page: { rows: Record<string, unknown>[] } = await tx.query<Record<string, unknown>>(
      `select ${names.map((n) => `"${n}"`).join(', ')} from app."${spec.table}"
        where ($1::uuid is null or id > $1::uuid) order by id limit ${PAGE}`,
      [last],
    );
    for (const row of page.rows) await write(csvLine(names.map((n) => row[n]), numeric));
    count += page.rows.length;
    if (page.rows.length < PAGE) break;
    last = String(page.rows[page.rows.length - 1]!.id);
  }
  out.end();
  return count;
}
