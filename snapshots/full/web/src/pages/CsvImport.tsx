import { useEffect, useState } from 'react';
import { api, ApiError, type ImportProgress, type ImportResult } from '../api.js';
import { CSV_EXPORT_PATH, CSV_IMPORT_PATH } from '../features.js';
import { Alert, errorText, onSubmit } from '../ui.js';

/**
 * CSV import of records: the file is streamed to the server, which de-duplicates (inside the file,
 * against existing rows, against a re-uploaded file), validates every line and inserts all or
 * nothing under the caller's own RLS identity. This page uploads, shows how far the upload and the
 * server are (bytes sent; rows read, polled from GET /api/imports/progress/:id) and the final report,
 * whose numbers add up to the rows read.
 */

const POLL_MS = 400;

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
export function CsvImport({ onUnauthenticated }: { onUnauthenticated: () => void }) {
  const [file, setFile] = useState<File | undefined>();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<ImportResult | undefined>();
  const [rejected, setRejected] = useState<{ message: string; report?: ImportResult } | undefined>();
  const [sent, setSent] = useState<{ bytes: number; total: number }>({ bytes: 0, total: 0 });
  const [progressId, setProgressId] = useState<string | undefined>();
  const [server, setServer] = useState<ImportProgress | undefined>();

  // while an import runs: ask the server how many rows it has read
  useEffect(() => {
    if (!progressId) return;
    let live = true;
    const timer = window.setInterval(() => {
      api.importProgress(progressId).then(
        (progress) => live && setServer(progress),
        () => undefined, // not started yet, or another instance: the upload progress stays
      );
    }, POLL_MS);
    return () => {
      live = false;
      window.clearInterval(timer);
    };
  }, [progressId]);

  const submit = onSubmit(async () => {
    if (!file) return;
    setBusy(true);
    setResult(undefined);
    setRejected(undefined);
    setServer(undefined);
    setSent({ bytes: 0, total: file.size });
    const id = crypto.randomUUID();
    setProgressId(id);
    try {
      setResult(await api.importCsv(CSV_IMPORT_PATH, file, { progressId: id, onUpload: (bytes, total) => setSent({ bytes, total }) }));
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return onUnauthenticated();
      const report = error instanceof ApiError ? (error.details as ImportResult | undefined) : undefined;
      setRejected({ message: errorText(error), report });
    } finally {
      setProgressId(undefined);
      setBusy(false);
    }
  });

  const uploaded = sent.total > 0 && sent.bytes >= sent.total;
  const status = !uploaded
    ? `Uploading ${size(sent.bytes)} of ${size(sent.total)}`
    : server?.phase === 'inserting'
      ? `Uploaded. Inserting: ${server.rows.toLocaleString()} rows read, checking for duplicates…`
      : `Uploaded. The server is reading the file: ${(server?.rows ?? 0).toLocaleString()} rows read so far…`;

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
      {busy && (
        <div className="progress" data-testid="import-progress">
          <progress aria-label="Upload" max={sent.total || 1} value={sent.bytes} />
          <p role="status" aria-live="polite">
            {status}
          </p>
        </div>
      )}
      {result && (
        <div data-testid="import-result">
          <Alert kind="ok">
            {duplicates?.file
              ? 'This file was imported before: nothing new was inserted.'
              : `Inserted ${(result.inserted ?? 0).toLocaleString()} of ${(result.rows ?? 0).toLocaleString()} rows.`}
          </Alert>
          <Report
            read={result.rows ?? 0}
            inserted={result.inserted ?? 0}
            inFile={duplicates?.inFile ?? 0}
            existing={duplicates?.file ? (result.rows ?? 0) : (duplicates?.existing ?? 0)}
            rejected={0}
            notInserted={0}
          />
        </div>
      )}
      {rejected && (
        <div data-testid="import-rejected">
          <Alert kind="error">{rejected.message}</Alert>
          {rejected.report?.rows !== undefined && rejected.report.invalidCount !== undefined && (
            <Report
              read={rejected.report.rows}
              inserted={0}
              inFile={0}
              existing={0}
              rejected={rejected.report.invalidCount}
              notInserted={rejected.report.rows - rejected.report.invalidCount}
            />
          )}
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

/**
 * The final numbers of an import; they add up to the rows read (each row is exactly one of:
 * inserted, repeated in the file, already present, rejected, or valid but not inserted because
 * another row was rejected).
 */
function Report(props: { read: number; inserted: number; inFile: number; existing: number; rejected: number; notInserted: number }) {
  const lines: [string, number][] = [
    ['Inserted', props.inserted],
    ['Repeated in the file (skipped)', props.inFile],
    ['Already present (skipped)', props.existing],
    ['Rejected (invalid)', props.rejected],
    ['Valid, not inserted (the file was rejected)', props.notInserted],
  ];
  return (
    <table className="table report" data-testid="import-report">
      <tbody>
        {lines
          .filter(([, count]) => count > 0)
          .map(([label, count]) => (
            <tr key={label}>
              <th scope="row">{label}</th>
              <td>{count.toLocaleString()}</td>
            </tr>
          ))}
        <tr>
          <th scope="row">Rows read</th>
          <td>{props.read.toLocaleString()}</td>
        </tr>
      </tbody>
    </table>
  );
}
