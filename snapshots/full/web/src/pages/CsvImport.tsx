import { useState } from 'react';
import { api, ApiError, type ImportResult } from '../api.js';
import { CSV_EXPORT_PATH, CSV_IMPORT_PATH } from '../features.js';
import { Alert, errorText, onSubmit } from '../ui.js';

/**
 * CSV import of records: the file is streamed to the server, which de-duplicates (inside the file,
 * against existing rows, against a re-uploaded file), validates every line and inserts all or
 * nothing under the caller's own RLS identity. This page only uploads and shows the answer.
 */
export function CsvImport({ onUnauthenticated }: { onUnauthenticated: () => void }) {
  const [file, setFile] = useState<File | undefined>();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<ImportResult | undefined>();
  const [rejected, setRejected] = useState<{ message: string; report?: ImportResult } | undefined>();

  const submit = onSubmit(async () => {
    if (!file) return;
    setBusy(true);
    setResult(undefined);
    setRejected(undefined);
    try {
      setResult(await api.importCsv(CSV_IMPORT_PATH, file));
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return onUnauthenticated();
      const report = error instanceof ApiError ? (error.details as ImportResult | undefined) : undefined;
      setRejected({ message: errorText(error), report });
    } finally {
      setBusy(false);
    }
  });

  const problems = rejected?.report?.invalid ?? [];
  const more = (rejected?.report?.invalidCount ?? 0) - problems.length;
  const duplicates = result?.duplicates;

  return (
    <section className="card">
      <h1>Import CSV</h1>
      <p className="muted">
        Columns: <code>title</code> (required), <code>body</code>. Rows already present, repeated in the file, or a file uploaded
        before are skipped; any invalid line rejects the whole file. <a href={CSV_EXPORT_PATH}>Export records as CSV</a>
      </p>
      <form onSubmit={submit} className="form inline" aria-label="Import CSV">
        <input name="file" type="file" accept=".csv,text/csv" required onChange={(e) => setFile(e.target.files?.[0])} />
        <button type="submit" disabled={busy || !file}>
          {busy ? 'Importing…' : 'Import'}
        </button>
      </form>
      {result && (
        <div data-testid="import-result">
          <Alert kind="ok">
            {duplicates?.file
              ? 'This file was imported before: nothing new was inserted.'
              : `Inserted ${result.inserted ?? 0} of ${result.rows ?? 0} rows.`}
          </Alert>
          {duplicates && (
            <p>
              Duplicates skipped: {duplicates.inFile ?? 0} repeated in the file, {duplicates.existing ?? 0} already present.
            </p>
          )}
        </div>
      )}
      {rejected && (
        <div data-testid="import-rejected">
          <Alert kind="error">{rejected.message}</Alert>
          {problems.length > 0 && (
            <table className="table">
              <thead>
                <tr>
                  <th>Line</th>
                  <th>Problem</th>
                </tr>
              </thead>
              <tbody>
                {problems.map((problem, index) => (
                  <tr key={index}>
                    <td>{problem.line}</td>
                    <td>{problem.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {more > 0 && <p className="muted">… and {more} more invalid lines.</p>}
        </div>
      )}
    </section>
  );
}
