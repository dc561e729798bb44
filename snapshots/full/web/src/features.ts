/**
 * Which optional pages this app has: written by create-xms-app from the features chosen at
 * scaffold time. A page is shown only when its API exists; the server enforces every rule anyway.
 */
/** The app's name, shown in the header. */
export const APP_NAME = 'xms-snapshot';

export const FEATURES = {
  /** admin users and the audit log (the `admin` feature's routes under /api/admin) */
  admin: true,
  /** CSV import (the `csv-import` feature's upload endpoint) */
  csvImport: true,
} as const;

/** The CSV import of app.records (src/routes/api/imports.ts): upload (multipart, one file) and export. */
export const CSV_IMPORT_PATH = '/api/imports/records';
export const CSV_EXPORT_PATH = '/api/exports/records';
