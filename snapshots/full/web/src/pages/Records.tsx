import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, type RecordRow, type User } from '../api.js';
import { CSV_EXPORT_PATH, FEATURES } from '../features.js';
import { may, mayChangeRow } from '../gates.js';
import { Alert, Field, onSubmit, useAction } from '../ui.js';

const PAGE_SIZE = 50;

/**
 * app.records of the caller's tenant. What a user may change is decided by RLS on the server (a
 * member changes only their own records): the edit buttons are hints, a refused change shows the
 * server's answer.
 *
 * The list is paged on the server (keyset: each page names the cursor of the next), so a tenant with
 * 100,000 records loads 50 at a time; "Previous" goes back through the cursors already seen.
 */
export function Records({ user, onUnauthenticated }: { user: User; onUnauthenticated: () => void }) {
  const [records, setRecords] = useState<RecordRow[]>([]);
  const [total, setTotal] = useState(0);
  const [next, setNext] = useState<string | null>(null);
  // the `after` cursor of every page up to the current one (null: the first page)
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [search, setSearch] = useState('');
  const [query, setQuery] = useState('');
  // the number of the page's first row, set with its rows (never ahead of them)
  const [first, setFirst] = useState(1);
  const [loaded, setLoaded] = useState(false);
  const [missing, setMissing] = useState(false);
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const [editing, setEditing] = useState<RecordRow | undefined>();
  const { busy, error, run } = useAction(onUnauthenticated);

  const after = cursors[cursors.length - 1] ?? null;
  const pageIndex = cursors.length - 1;
  const load = useCallback(async () => {
    try {
      const page = await api.records.page({ limit: PAGE_SIZE, after, q: query });
      setRecords(page.rows);
      setTotal(page.total);
      setNext(page.next);
      setFirst(pageIndex * PAGE_SIZE + 1);
      setMissing(false);
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 401) return onUnauthenticated();
      if (caught instanceof ApiError && caught.status === 404) setMissing(true);
    } finally {
      setLoaded(true);
    }
  }, [onUnauthenticated, after, pageIndex, query]);

  useEffect(() => {
    void load();
  }, [load]);

  const find = onSubmit(() => {
    setQuery(search.trim());
    setCursors([null]);
  });

  const create = onSubmit(async () => {
    const created = await run(() => api.records.create({ title: title.trim(), body }));
    if (created) {
      setTitle('');
      setBody('');
      // the new record is the newest: show the first page
      if (cursors.length > 1 || query) {
        setQuery('');
        setSearch('');
        setCursors([null]);
      } else await load();
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
    if (done) {
      // the last record of a later page: step back
      if (records.length === 1 && cursors.length > 1) setCursors(cursors.slice(0, -1));
      else await load();
    }
  };


  // hints from the compiled matrix (src/generated/permissions.ts); RLS decides on the server
  const mayEdit = (record: RecordRow) => mayChangeRow(user.role, 'records', 'update', record.ownerId, user.id);
  const mayDelete = (record: RecordRow) => mayChangeRow(user.role, 'records', 'delete', record.ownerId, user.id);
  const mayCreate = may(user.role, 'records', 'insert');

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
      {mayCreate && (
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
      )}
      <Alert kind="error">{error}</Alert>
      <div className="toolbar">
        <form onSubmit={find} className="form inline" role="search" aria-label="Search">
          <Field label="Search records">
            <input name="q" type="search" maxLength={200} value={search} onChange={(e) => setSearch(e.target.value)} />
          </Field>
          <button type="submit" className="secondary">
            Search
          </button>
        </form>
        {FEATURES.csvImport && (
          <a className="button-link" href={CSV_EXPORT_PATH} download>
            Export CSV
          </a>
        )}
      </div>
      <p className="muted" role="status" data-testid="records-count">
        {!loaded ? 'Loading…' : `${total.toLocaleString()} ${total === 1 ? 'record' : 'records'}${query ? ` matching "${query}"` : ''}`}
        {loaded && records.length > 0 && ` · showing ${first.toLocaleString()}–${(first + records.length - 1).toLocaleString()}`}
      </p>
      {loaded && records.length === 0 ? (
        <p className="muted">{query ? 'No record matches.' : 'No records yet.'}</p>
      ) : (
        <div className="table-wrap" role="region" aria-label="Records" tabIndex={0}>
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
                      {mayEdit(record) && (
                        <button type="button" className="secondary" onClick={() => setEditing(record)}>
                          Edit
                        </button>
                      )}
                      {mayDelete(record) && (
                        <button type="button" className="danger" onClick={() => void remove(record)}>
                          Delete
                        </button>
                      )}
                    </td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </div>
      )}
      <nav className="pager" aria-label="Pages">
        <button type="button" className="secondary" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous
        </button>
        <span className="muted">Page {cursors.length.toLocaleString()}</span>
        <button type="button" className="secondary" disabled={!next} onClick={() => setCursors([...cursors, next])}>
          Next
        </button>
      </nav>
    </section>
  );
}
