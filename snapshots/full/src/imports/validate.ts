import type { ImportColumn } from './types.js';

const INT = /^[+-]?\d{1,10}$/;
const BIGINT = /^[+-]?\d{1,18}$/;
const NUMERIC = /^[+-]?(\d{1,30}(\.\d{0,30})?|\.\d{1,30})$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TRUE = new Set(['true', 't', 'yes', 'y', '1']);
const FALSE = new Set(['false', 'f', 'no', 'n', '0']);

export type Checked = { ok: true; value: string | null } | { ok: false; reason: string };

/**
 * Validates and normalises one cell (already trimmed by the parser). The value goes to the staging
 * table as text in a canonical spelling; the insert casts it to the column's type.
 */
export function checkCell(column: ImportColumn, raw: string | undefined): Checked {
  const cell = raw ?? '';
  if (cell === '') {
    if (column.required) return { ok: false, reason: `${column.name} is required` };
    if (column.nullable) return { ok: true, value: null };
    if (column.type === 'text' && !column.minLength) return { ok: true, value: '' };
    return { ok: false, reason: `${column.name} must not be empty` };
  }
  if (cell.includes('\u0000')) return { ok: false, reason: `${column.name} contains a NUL character` };
  switch (column.type) {
    case 'text': {
      const min = column.minLength ?? 0;
      const max = column.maxLength ?? 10000;
      // n UTF-16 units are n/2 to n characters: they are counted only when that range reaches a bound
      if (cell.length > max || Math.ceil(cell.length / 2) < min) {
        const length = codePoints(cell);
        if (length < min) return { ok: false, reason: `${column.name} is shorter than ${min} characters` };
        if (length > max) return { ok: false, reason: `${column.name} is longer than ${max} characters` };
      }
      return { ok: true, value: cell };
    }
    case 'int': {
      const n = Number(cell);
      if (!INT.test(cell) || n < -2147483648 || n > 2147483647) return { ok: false, reason: `${column.name} is not an integer: "${clip(cell)}"` };
      return { ok: true, value: String(n) };
    }
    case 'bigint':
      if (!BIGINT.test(cell)) return { ok: false, reason: `${column.name} is not an integer: "${clip(cell)}"` };
      return { ok: true, value: BigInt(cell).toString() };
    case 'numeric':
      if (!NUMERIC.test(cell)) return { ok: false, reason: `${column.name} is not a number: "${clip(cell)}"` };
      return { ok: true, value: cell };
    case 'boolean': {
      const lower = cell.toLowerCase();
      if (TRUE.has(lower)) return { ok: true, value: 'true' };
      if (FALSE.has(lower)) return { ok: true, value: 'false' };
      return { ok: false, reason: `${column.name} is not true or false: "${clip(cell)}"` };
    }
    case 'date': {
      const m = DATE.exec(cell);
      const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
      if (!m || !d || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) {
        return { ok: false, reason: `${column.name} is not a date (YYYY-MM-DD): "${clip(cell)}"` };
      }
      return { ok: true, value: cell };
    }
    case 'timestamptz':
      if (!TIMESTAMP.test(cell) || Number.isNaN(Date.parse(cell.replace(' ', 'T')))) {
        return { ok: false, reason: `${column.name} is not a timestamp (ISO 8601): "${clip(cell)}"` };
      }
      return { ok: true, value: new Date(cell.replace(' ', 'T')).toISOString() };
    case 'uuid':
      if (!UUID.test(cell)) return { ok: false, reason: `${column.name} is not a UUID: "${clip(cell)}"` };
      return { ok: true, value: cell.toLowerCase() };
  }
}

/** Characters (code points) of a string, counted without building an array of them. */
function codePoints(value: string): number {
  let surrogates = 0;
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit >= 0xdc00 && unit <= 0xdfff && i > 0 && value.charCodeAt(i - 1) >= 0xd800 && value.charCodeAt(i - 1) <= 0xdbff) surrogates += 1;
  }
  return value.length - surrogates;
}

function clip(value: string): string {
  return value.length > 40 ? `${value.slice(0, 40)}...` : value;
}

/** Header spelling -> column name: trimmed, lower case, runs of spaces and dashes as one _. */
export function normaliseHeader(header: string): string {
  return header.trim().toLowerCase().replace(/[\s-]+/g, '_');
}
