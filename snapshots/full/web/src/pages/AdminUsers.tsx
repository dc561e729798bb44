import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, type Member, type User } from '../api.js';
import { Alert, Field, onSubmit, useAction } from '../ui.js';

const ROLES = ['admin', 'member'];

/**
 * Admin functions (src/routes/admin): the page is shown to admins only, as a convenience. The
 * server checks the session's role on every one of these routes (403 otherwise) and RLS bounds
 * each to the admin's tenant.
 */
export function AdminUsers({ self, onUnauthenticated }: { self: User; onUnauthenticated: () => void }) {
  const [users, setUsers] = useState<Member[]>([]);
  const [email, setEmail] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [role, setRole] = useState('member');
  const [link, setLink] = useState<{ label: string; url: string; hours: number } | undefined>();
  const { busy, error, run, setError } = useAction(onUnauthenticated);

  const load = useCallback(async () => {
    try {
      setUsers(await api.admin.users());
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 401) return onUnauthenticated();
      setError(caught instanceof ApiError ? caught.message : 'Could not load the users.');
    }
  }, [onUnauthenticated, setError]);

  useEffect(() => {
    void load();
  }, [load]);

  const absolute = (path: string) => new URL(path, window.location.origin).toString();

  const create = onSubmit(async () => {
    const result = await run(() => api.admin.createUser({ email: email.trim(), role, displayName: displayName.trim() }));
    if (result) {
      setEmail('');
      setDisplayName('');
      setLink({ label: `Invitation link for ${result.user.email}`, url: absolute(result.invitationLink), hours: result.expiresInHours });
      await load();
    }
  });

  const changeRole = async (user: Member, next: string) => {
    if (next === user.role) return;
    if (await run(() => api.admin.setRole(user.id, next))) await load();
  };

  const deactivate = async (user: Member) => {
    if (!window.confirm(`Deactivate ${user.email ?? user.id}? They are logged out at once.`)) return;
    if (await run(() => api.admin.deactivate(user.id))) await load();
  };

  const resetPassword = async (user: Member) => {
    const result = await run(() => api.admin.resetPassword(user.id));
    if (result) setLink({ label: `Password reset link for ${user.email ?? user.id}`, url: absolute(result.resetLink), hours: result.expiresInHours });
  };

  return (
    <section className="card">
      <h1>Users</h1>
      <form onSubmit={create} className="form inline" aria-label="New user">
        <Field label="E-mail">
          <input name="email" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </Field>
        <Field label="Name">
          <input name="displayName" maxLength={200} value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
        </Field>
        <Field label="Role">
          <select name="role" value={role} onChange={(e) => setRole(e.target.value)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </Field>
        <button type="submit" disabled={busy}>
          Create user
        </button>
      </form>
      <Alert kind="error">{error}</Alert>
      {link && (
        <div className="alert alert-info" role="status">
          <p>
            {link.label} (single use, expires in {link.hours} h). Hand it over in person or through a channel you trust:
          </p>
          <input className="mono" readOnly value={link.url} onFocus={(e) => e.target.select()} aria-label="Link" />
          <button type="button" className="link" onClick={() => setLink(undefined)}>
            Dismiss
          </button>
        </div>
      )}
      <table className="table" data-testid="users">
        <thead>
          <tr>
            <th>E-mail</th>
            <th>Name</th>
            <th>Role</th>
            <th>Status</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {users.map((user) => {
            const isSelf = user.id === self.id;
            return (
              <tr key={user.id} className={user.active ? undefined : 'inactive'}>
                <td>{user.email ?? <span className="muted">invitation pending</span>}</td>
                <td>{user.displayName}</td>
                <td>
                  <select
                    aria-label={`Role of ${user.email ?? user.id}`}
                    value={user.role}
                    disabled={isSelf || busy}
                    onChange={(e) => void changeRole(user, e.target.value)}
                  >
                    {[...new Set([...ROLES, user.role])].map((r) => (
                      <option key={r} value={r}>
                        {r}
                      </option>
                    ))}
                  </select>
                </td>
                <td>{user.active ? 'active' : 'deactivated'}</td>
                <td className="actions">
                  <button type="button" className="secondary" disabled={busy} onClick={() => void resetPassword(user)}>
                    Reset password
                  </button>
                  {!isSelf && user.active && (
                    <button type="button" className="danger" disabled={busy} onClick={() => void deactivate(user)}>
                      Deactivate
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
