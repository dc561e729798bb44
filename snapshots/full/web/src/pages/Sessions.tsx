import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, type SessionInfo } from '../api.js';
import { Alert, useAction } from '../ui.js';

/** The caller's live sessions (src/routes/api/sessions.ts): end one of the others, or all of them. */
export function Sessions({ onUnauthenticated }: { onUnauthenticated: () => void }) {
  const [sessions, setSessions] = useState<SessionInfo[]>([]);
  const [notice, setNotice] = useState('');
  const { busy, error, run, setError } = useAction(onUnauthenticated);

  const load = useCallback(async () => {
    try {
      setSessions(await api.sessions.list());
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 401) return onUnauthenticated();
      setError(caught instanceof ApiError ? caught.message : 'Could not load the sessions.');
    }
  }, [onUnauthenticated, setError]);

  useEffect(() => {
    void load();
  }, [load]);

  const end = async (session: SessionInfo) => {
    setNotice('');
    const ended = await run(async () => {
      await api.sessions.end(session.id);
      return true;
    });
    if (ended) {
      setNotice('Session ended.');
      await load();
    }
  };

  const endOthers = async () => {
    setNotice('');
    const result = await run(() => api.sessions.endOthers());
    if (result) {
      setNotice(`${result.ended} other session(s) ended.`);
      await load();
    }
  };

  return (
    <section className="card">
      <h1>Sessions</h1>
      <Alert kind="error">{error}</Alert>
      <Alert kind="ok">{notice}</Alert>
      <table className="table" data-testid="sessions">
        <thead>
          <tr>
            <th>Browser</th>
            <th>Signed in</th>
            <th>Last seen</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {sessions.map((session) => (
            <tr key={session.id}>
              <td>{session.userAgent ?? 'unknown'}</td>
              <td>{new Date(session.createdAt).toLocaleString()}</td>
              <td>{new Date(session.lastSeenAt).toLocaleString()}</td>
              <td className="actions">
                {session.current ? (
                  <span className="muted">this browser</span>
                ) : (
                  <button type="button" className="danger" disabled={busy} onClick={() => void end(session)}>
                    End
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" className="secondary" disabled={busy || sessions.length < 2} onClick={() => void endOthers()}>
        End all other sessions
      </button>
    </section>
  );
}
