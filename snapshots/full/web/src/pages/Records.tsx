import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, type RecordRow, type User } from '../api.js';
import { Alert, Field, onSubmit, useAction } from '../ui.js';

/**
 * app.records of the caller's tenant. What a user may change is decided by RLS on the server (a
 * member changes only their own records): the edit buttons are hints, a refused change shows the
 * server's answer.
 */
export function Records({ user, onUnauthenticated }: { user: User; onUnauthenticated: () => void }) {
  const [records, setRecords] = useState<RecordRow[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [missing, setMissing] = useState(false);
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const [editing, setEditing] = useState<RecordRow | undefined>();
  const { busy, error, run } = useAction(onUnauthenticated);

  const load = useCallback(async () => {
    try {
      setRecords(await api.records.list());
      setMissing(false);
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 401) return onUnauthenticated();
      if (caught instanceof ApiError && caught.status === 404) setMissing(true);
    } finally {
      setLoaded(true);
    }
  }, [onUnauthenticated]);

  useEffect(() => {
    void load();
  }, [load]);

  const create = onSubmit(async () => {
    const created = await run(() => api.records.create({ title: title.trim(), body }));
    if (created) {
      setTitle('');
      setBody('');
      await load();
    }
  });

  const save = onSubmit(async () => {
    if (!editing) return;
    const saved = await run(() => api.records.update(editing.id, { title: editing.title.trim(), body: editing.body }));
    if (saved) {
      setEditing(undefined);
      await load();
    }
  });

  const remove = async (record: RecordRow) => {
    if (!window.confirm(`Delete "${record.title}"?`)) return;
    const done = await run(async () => {
      await api.records.remove(record.id);
      return true;
    });
    if (done) await load();
  };

  const mayChange = (record: RecordRow) => user.role === 'admin' || !record.ownerId || record.ownerId === user.id;

  if (missing) {
    return (
      <section className="card">
        <h1>Records</h1>
        <Alert kind="info">This app has no records API yet (GET /api/records).</Alert>
      </section>
    );
  }

  return (
    <section className="card">
      <h1>Records</h1>
      <form onSubmit={create} className="form inline" aria-label="New record">
        <Field label="Title">
          <input name="title" required maxLength={500} value={title} onChange={(e) => setTitle(e.target.value)} />
        </Field>
        <Field label="Body">
          <textarea name="body" rows={2} maxLength={100000} value={body} onChange={(e) => setBody(e.target.value)} />
        </Field>
        <button type="submit" disabled={busy}>
          Add record
        </button>
      </form>
      <Alert kind="error">{error}</Alert>
      {!loaded ? (
        <p className="muted">Loading…</p>
      ) : records.length === 0 ? (
        <p className="muted">No records yet.</p>
      ) : (
        <table className="table" data-testid="records">
          <thead>
            <tr>
              <th>Title</th>
              <th>Body</th>
              <th>Updated</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {records.map((record) =>
              editing?.id === record.id ? (
                <tr key={record.id}>
                  <td colSpan={4}>
                    <form onSubmit={save} className="form inline" aria-label="Edit record">
                      <Field label="Title">
                        <input
                          name="title"
                          required
                          maxLength={500}
                          value={editing.title}
                          onChange={(e) => setEditing({ ...editing, title: e.target.value })}
                        />
                      </Field>
                      <Field label="Body">
                        <textarea name="body" rows={2} value={editing.body} onChange={(e) => setEditing({ ...editing, body: e.target.value })} />
                      </Field>
                      <button type="submit" disabled={busy}>
                        Save
                      </button>
                      <button type="button" className="secondary" onClick={() => setEditing(undefined)}>
                        Cancel
                      </button>
                    </form>
                  </td>
                </tr>
              ) : (
                <tr key={record.id}>
                  <td>{record.title}</td>
                  <td className="pre">{record.body}</td>
                  <td className="muted">{record.updatedAt ? new Date(record.updatedAt).toLocaleString() : ''}</td>
                  <td className="actions">
                    {mayChange(record) && (
                      <>
                        <button type="button" className="secondary" onClick={() => setEditing(record)}>
                          Edit
                        </button>
                        <button type="button" className="danger" onClick={() => void remove(record)}>
                          Delete
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              ),
            )}
          </tbody>
        </table>
      )}
    </section>
  );
}
