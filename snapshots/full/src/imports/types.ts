/**
 * How a table is imported from CSV (one file per table in src/imports/tables/, registered in
 * src/imports/tables/index.ts; `xms add csv-import <table>` writes both).
 */
export type ImportValueType = 'text' | 'int' | 'bigint' | 'numeric' | 'boolean' | 'date' | 'timestamptz' | 'uuid';

export interface ImportColumn {
  /** the table column (a validated identifier) */
  name: string;
  type: ImportValueType;
  /** the CSV must have this column and every row a value */
  required: boolean;
  /** an empty cell becomes NULL (otherwise '' for text, an error for other types) */
  nullable: boolean;
  minLength?: number;
  maxLength?: number;
  /** other header spellings accepted for this column (compared after normalising: trimmed, lower case, spaces as _) */
  aliases?: string[];
}

export interface ImportTable {
  /** table of schema app */
  table: string;
  columns: ImportColumn[];
  /**
   * The natural key: rows whose key is already in the tenant (or earlier in the file) are skipped.
   * The table needs a unique index on (tenant_id, ...key). null: the content hash of the normalised
   * row (the table's content_hash column, unique per tenant, a generated column).
   */
  key: string[] | null;
  /**
   * The column naming who created the row (owner_id of an xms table): the import sets it to the
   * caller once per file instead of evaluating its default per row. Omitted: the column's default.
   */
  owner?: string;
}

/** PostgreSQL type of each value type (staging holds text; the insert casts). */
export const SQL_TYPES: Record<ImportValueType, string> = {
  text: 'text',
  int: 'integer',
  bigint: 'bigint',
  numeric: 'numeric',
  boolean: 'boolean',
  date: 'date',
  timestamptz: 'timestamptz',
  uuid: 'uuid',
};
