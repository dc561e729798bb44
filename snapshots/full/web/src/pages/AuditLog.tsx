import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, type AuditEntry } from '../api.js';
import { Alert } from '../ui.js';

/** The tenant's audit log (admins; the server and RLS decide: audit_log is admin/select/tenant). */
export function AuditLog({ onUnauthenticated }: { onUnauthenticated: () => void }) {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [error, setError] = useState('');
  const [loaded, setLoaded] = useState(false);

  const load = useCallback(async () => {
    setError('');
    try {
      setEntries(await api.admin.audit());
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 401) return onUnauthenticated();
      if (caught instanceof ApiError && caught.status === 404) setError('This app has no audit log API yet (GET /api/admin/audit).');
      else setError(caught instanceof ApiError ? caught.message : 'Could not load the audit log.');
    } finally {
      setLoaded(true);
    }
  }, [onUnauthenticated]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <section className="card">
      <h1>Audit log</h1>
      <p>
        <button type="button" className="secondary" onClick={() => void load()}>
          Refresh
        </button>
      </p>
      <Alert kind="error">{error}</Alert>
      {loaded && !error && entries.length === 0 && <p className="muted">No entries.</p>}
      {entries.length > 0 && (
        <table className="table" data-testid="audit">
          <thead>
            <tr>
              <th>Time</th>
              <th>Actor</th>
              <th>Action</th>
              <th>Table</th>
              <th>Row</th>
              <th>Change</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((entry, index) => (
              <tr key={entry.id || index}>
                <td className="nowrap">{entry.at ? new Date(entry.at).toLocaleString() : ''}</td>
                <td className="mono">{entry.actorId ?? 'system'}</td>
                <td>{entry.action}</td>
                <td>{entry.table}</td>
                <td className="mono">{entry.rowKey}</td>
                <td>
                  <details>
                    <summary>show</summary>
                    <pre className="pre">{JSON.stringify({ old: entry.oldRow, new: entry.newRow }, null, 2)}</pre>
                  </details>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
