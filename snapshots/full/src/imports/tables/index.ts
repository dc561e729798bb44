import type { ImportTable } from '../types.js';
import { records } from './records.js';
// xms:import-table-imports (`xms add csv-import <table>` adds its import above this line)

/** The tables that accept CSV imports and exports, by name. Only these can be imported into. */
export const IMPORT_TABLES: Record<string, ImportTable> = {
  records,
  // xms:import-tables (`xms add csv-import <table>` adds its table above this line)
};
