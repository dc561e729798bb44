import type { ImportTable } from '../types.js';

/** app.records from CSV: title (required), body; de-duplicated by the content hash of the row. */
export const records: ImportTable = {
  table: 'records',
  columns: [
    { name: 'title', type: 'text', required: true, nullable: false, minLength: 1, maxLength: 500 },
    { name: 'body', type: 'text', required: false, nullable: false, maxLength: 100000 },
  ],
  key: null,
  owner: 'owner_id',
};
