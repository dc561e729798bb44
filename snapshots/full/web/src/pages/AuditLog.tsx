import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, type AuditEntry, type AuditFilter, type Member } from '../api.js';
import { Alert, Field, onSubmit } from '../ui.js';

const PAGE_SIZE = 50;
/** Tables a filter suggests (any audited table name may be typed). */
const KNOWN_TABLES = ['records', 'users', 'memberships', 'tenants', 'imports'];

type Filter = Required<Pick<AuditFilter, 'table' | 'actor' | 'action' | 'from' | 'to'>>;
const NO_FILTER: Filter = { table: '', actor: '', action: '', from: '', to: '' };

/** A `datetime-local` value (the browser's local time) as ISO 8601, or '' when empty. */
function isoOf(local: string): string {
  if (!local) return '';
  const time = new Date(local);
  return Number.isNaN(time.getTime()) ? '' : time.toISOString();
}

/**
 * The tenant's audit log (admins; the server and RLS decide: audit_log is admin/select/tenant).
 * Filters are applied on the server, pages are keyset pages (newest first); each change is shown as
 * the columns it changed, old value to new. Secret columns arrive as "[redacted]" from the server.
 */
export function AuditLog({ onUnauthenticated }: { onUnauthenticated: () => void }) {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [draft, setDraft] = useState<Filter>(NO_FILTER);
  const [filter, setFilter] = useState<Filter>(NO_FILTER);
  const [members, setMembers] = useState<Member[]>([]);
  const [error, setError] = useState('');
  const [loaded, setLoaded] = useState(false);

  const before = cursors[cursors.length - 1] ?? null;
  const load = useCallback(async () => {
    setError('');
    try {
      const page = await api.admin.audit({ ...filter, from: isoOf(filter.from), to: isoOf(filter.to), before, limit: PAGE_SIZE });
      setEntries(page.entries);
      setNext(page.next);
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 401) return onUnauthenticated();
      if (caught instanceof ApiError && caught.status === 404) setError('This app has no audit log API yet (GET /api/admin/audit).');
      else setError(caught instanceof ApiError ? caught.message : 'Could not load the audit log.');
    } finally {
      setLoaded(true);
    }
  }, [onUnauthenticated, filter, before]);

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    // the actor filter offers the tenant's members by e-mail
    api.admin.users().then(
      (list) => setMembers(list.filter((member) => member.email)),
      () => undefined,
    );
  }, []);

  const apply = onSubmit(() => {
    setFilter(draft);
    setCursors([null]);
  });
  const clear = () => {
    setDraft(NO_FILTER);
    setFilter(NO_FILTER);
    setCursors([null]);
  };
  const set = (key: keyof Filter) => (event: { target: { value: string } }) => setDraft({ ...draft, [key]: event.target.value });

  return (
    <section className="card">
      <h1>Audit log</h1>
      <form onSubmit={apply} className="form inline filters" aria-label="Filter the audit log">
        <Field label="Table">
          <input name="table" list="audit-tables" value={draft.table} onChange={set('table')} pattern="[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?" />
        </Field>
        <datalist id="audit-tables">
          {KNOWN_TABLES.map((table) => (
            <option key={table} value={table} />
          ))}
        </datalist>
        <Field label="Actor">
          <select name="actor" value={draft.actor} onChange={set('actor')}>
            <option value="">anyone</option>
            {members.map((member) => (
              <option key={member.id} value={member.id}>
                {member.email}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Action">
          <select name="action" value={draft.action} onChange={set('action')}>
            <option value="">any</option>
            <option value="INSERT">insert</option>
            <option value="UPDATE">update</option>
            <option value="DELETE">delete</option>
          </select>
        </Field>
        <Field label="From">
          <input name="from" type="datetime-local" value={draft.from} onChange={set('from')} />
        </Field>
        <Field label="To">
          <input name="to" type="datetime-local" value={draft.to} onChange={set('to')} />
        </Field>
        <button type="submit">Apply</button>
        <button type="button" className="secondary" onClick={clear}>
          Clear
        </button>
      </form>
      <Alert kind="error">{error}</Alert>
      {loaded && !error && entries.length === 0 && <p className="muted">No entries.</p>}
      {entries.length > 0 && (
        <div className="table-wrap" role="region" aria-label="Audit entries" tabIndex={0}>
          <table className="table audit" data-testid="audit">
            <thead>
              <tr>
                <th className="col-time">Time</th>
                <th className="col-actor">Actor</th>
                <th className="col-action">Action</th>
                <th className="col-table">Table</th>
                <th>Change</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry, index) => (
                <tr key={entry.id || index}>
                  <td>{entry.at ? new Date(entry.at).toLocaleString() : ''}</td>
                  <td className="wrap" title={entry.actorId ?? undefined}>
                    {entry.actorEmail ?? (entry.actorId ? <span className="mono">{entry.actorId}</span> : <span className="muted">system</span>)}
                  </td>
                  <td>{entry.action.toLowerCase()}</td>
                  <td className="wrap">{entry.table}</td>
                  <td>
                    <Change entry={entry} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav className="pager" aria-label="Pages">
        <button type="button" className="secondary" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous
        </button>
        <span className="muted">Page {cursors.length}</span>
        <button type="button" className="secondary" disabled={!next} onClick={() => setCursors([...cursors, next])}>
          Next
        </button>
      </nav>
    </section>
  );
}

type Row = Record<string, unknown>;

function show(value: unknown): string {
  if (value === null || value === undefined) return '∅';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * The change of one entry: for an update, each column whose value changed (old struck through, new
 * beside it); for an insert the new row, for a delete the old one.
 */
export function Change({ entry }: { entry: AuditEntry }) {
  const before = (entry.oldRow ?? null) as Row | null;
  const after = (entry.newRow ?? null) as Row | null;
  const columns = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])];
  const changed = before && after ? columns.filter((column) => show(before[column]) !== show(after[column])) : columns;
  if (changed.length === 0) return <span className="muted">no column changed</span>;
  return (
    <dl className="diff" data-testid="diff">
      {changed.map((column) => (
        <div key={column} className="diff-row">
          <dt>{column}</dt>
          <dd>
            {before && column in before && <del>{show(before[column])}</del>}
            {before && after && ' → '}
            {after && column in after && <ins>{show(after[column])}</ins>}
          </dd>
        </div>
      ))}
    </dl>
  );
}
