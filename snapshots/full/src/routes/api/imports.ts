import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import multipart from '@fastify/multipart';
import { PassThrough } from 'node:stream';
import { can, type Table } from '../../generated/permissions.js';
import { importCsv, ImportRejected } from '../../imports/csv-import.js';
import { exportCsv } from '../../imports/export.js';
import { IMPORT_TABLES } from '../../imports/tables/index.js';
import { ImportProgressBoard } from '../../imports/progress.js';
import { ErrorBody, errorResponses, IdParams, Strict, StringEnum, Uuid } from '../../server/schemas.js';

/**
 * CSV import and export (protected scope, prefix /api):
 *
 *   POST /api/imports/:table   multipart/form-data with one file field; imports it all or nothing
 *                              (?progress=<uuid>: the page's name for it, for the next route)
 *   GET  /api/imports/progress/:id   rows read so far of the caller's running import (src/imports/progress.ts)
 *   GET  /api/exports/:table   the rows the caller may see, as CSV (formula injection neutralised)
 *
 * Only tables of src/imports/tables/index.ts; the server refuses early (403) when permissions.yml
 * gives the role no insert (import) or select (export) on the table, and RLS decides the rest: rows
 * are written with the caller's tenant and owner, in the caller's request transaction.
 *
 * Answers of the import: 200 { inserted, duplicates: { inFile, existing, file }, ... };
 * 422 { error: 'invalid_rows', invalid: [{ line, reason }] } (nothing inserted: any invalid row
 * rejects the file); 400 bad header or malformed CSV; 413 file over IMPORT_MAX_BYTES (default 10 MiB).
 */
const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;

export function importMaxBytes(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.IMPORT_MAX_BYTES;
  if (raw === undefined || raw === '') return DEFAULT_MAX_BYTES;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 1024 * 1024 * 1024) {
    throw new Error(`IMPORT_MAX_BYTES must be an integer between 1 and 1073741824 (got "${raw}")`);
  }
  return value;
}

const ProgressQuery = Strict({ progress: Type.Optional(Uuid) });
const TableParams = Type.Object({ table: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }) });
const Progress = Type.Object({ phase: StringEnum(['staging', 'inserting', 'done']), rows: Type.Integer() });

const InvalidRows = {
  invalid: Type.Array(Type.Object({ line: Type.Integer(), reason: Type.String() })),
  invalidCount: Type.Integer(),
};
/** The import's report (src/imports/csv-import.ts ImportReport) */
const ImportReport = Type.Object({
  table: Type.String(),
  fileSha256: Type.String(),
  rows: Type.Integer(),
  inserted: Type.Integer(),
  duplicates: Type.Object({ inFile: Type.Integer(), existing: Type.Integer(), file: Type.Boolean() }),
  ...InvalidRows,
});
/** A refused file: the error, and the rows that made it so (422) */
const Rejected = Type.Composite([ErrorBody, Type.Partial(Type.Object({ rows: Type.Integer(), ...InvalidRows }))]);

export const importRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const maxBytes = importMaxBytes();
  await app.register(multipart, { limits: { fileSize: maxBytes, files: 1, fields: 0, parts: 1, headerPairs: 100 } });

  const refuse = (reply: FastifyReply, status: number, error: string, message: string) => reply.code(status).send({ error, message });
  const board = new ImportProgressBoard();

  app.get('/imports/progress/:id', { schema: { params: IdParams, response: { 200: Progress, ...errorResponses } } }, async (request, reply) => {
    const { id } = request.params;
    const state = request.session ? board.get(request.session.userId, id) : undefined;
    return state ?? refuse(reply, 404, 'not_found', 'No import of yours under this id (yet).');
  });

  const importSchema = { params: TableParams, querystring: ProgressQuery, response: { 200: ImportReport, '4xx': Rejected, '5xx': ErrorBody } };
  app.post('/imports/:table', { schema: importSchema }, async (request, reply) => {
    const { table } = request.params;
    const spec = IMPORT_TABLES[table];
    if (!spec) return refuse(reply, 404, 'not_found', 'This table does not accept imports.');
    if (!can(request.session?.role, table as Table, 'insert')) return refuse(reply, 403, 'forbidden', 'Not allowed.');
    if (!request.isMultipart()) return refuse(reply, 415, 'unsupported_media_type', 'Send the CSV as multipart/form-data.');
    const part = await request.file();
    if (!part) return refuse(reply, 400, 'bad_request', 'No file in the upload.');
    const { progress: progressId } = request.query;
    const userId = request.session!.userId;
    let rowsRead = 0;
    const onProgress = progressId
      ? (progress: { phase: 'staging' | 'inserting'; rows: number }) => {
          rowsRead = progress.rows;
          board.set(userId, progressId, progress);
        }
      : undefined;
    if (progressId) board.set(userId, progressId, { phase: 'staging', rows: 0 });
    try {
      const report = await request.withDb((tx) =>
        importCsv(tx, spec, part.file, { filename: part.filename, isTruncated: () => part.file.truncated, ...(onProgress ? { onProgress } : {}) }),
      );
      if (progressId) board.end(userId, progressId, report.rows);
      return report;
    } catch (error) {
      if (progressId) board.end(userId, progressId, error instanceof ImportRejected ? (error.report?.rows ?? rowsRead) : rowsRead);
      part.file.resume(); // drain what is left of the upload
      if (error instanceof ImportRejected) {
        const code = error.status === 422 ? 'invalid_rows' : error.status === 413 ? 'too_large' : error.status === 409 ? 'conflict' : 'bad_request';
        return reply.code(error.status).send({ error: code, message: error.message, ...(error.report ?? {}) });
      }
      const pgCode = (error as { code?: string }).code;
      if (typeof pgCode === 'string' && pgCode.startsWith('23')) {
        return refuse(reply, 422, 'rejected_by_database', 'Nothing was imported: the database refused a row (a constraint failed).');
      }
      if (pgCode === '42501') return refuse(reply, 403, 'forbidden', 'Nothing was imported: not allowed.');
      throw error;
    }
  });

  // the answer is a CSV stream (no response schema: nothing to serialize)
  app.get('/exports/:table', { schema: { params: TableParams } }, async (request, reply) => {
    const { table } = request.params;
    const spec = IMPORT_TABLES[table];
    if (!spec) return refuse(reply, 404, 'not_found', 'This table has no export.');
    if (!can(request.session?.role, table as Table, 'select')) return refuse(reply, 403, 'forbidden', 'Not allowed.');
    const out = new PassThrough();
    reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="${table}.csv"`)
      .send(out);
    request.withDb((tx) => exportCsv(tx, spec, out)).catch((error) => {
      request.log.error(error);
      out.destroy(error as Error);
    });
    return reply;
  });
};
