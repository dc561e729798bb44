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
  const [notice, setNotice] = useState('');
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

  // links travel only by e-mail: the page says where one went, never shows it
  const create = onSubmit(async () => {
    setNotice('');
    const result = await run(() => api.admin.createUser({ email: email.trim(), role, displayName: displayName.trim() }));
    if (result) {
      setEmail('');
      setDisplayName('');
      setNotice(`Invitation sent to ${result.user.email} (valid ${result.expiresInHours} h).`);
      await load();
    }
  });

  const resend = async (user: Member) => {
    setNotice('');
    if (await run(() => api.admin.resendInvitation(user.id))) {
      setNotice(`A new invitation was sent to ${user.email ?? user.id}; the previous link no longer works.`);
      await load();
    }
  };

  const revoke = async (user: Member) => {
    if (!window.confirm(`Revoke the invitation of ${user.email ?? user.id}? Its link stops working.`)) return;
    setNotice('');
    const revoked = await run(async () => {
      await api.admin.revokeInvitation(user.id);
      return true;
    });
    if (revoked) {
      setNotice(`The invitation of ${user.email ?? user.id} was revoked.`);
      await load();
    }
  };

  const changeRole = async (user: Member, next: string) => {
    if (next === user.role) return;
    if (await run(() => api.admin.setRole(user.id, next))) await load();
  };

  const deactivate = async (user: Member) => {
    if (!window.confirm(`Deactivate ${user.email ?? user.id}? They are logged out at once.`)) return;
    if (await run(() => api.admin.deactivate(user.id))) await load();
  };

  const resetPassword = async (user: Member) => {
    setNotice('');
    const result = await run(() => api.admin.resetPassword(user.id));
    if (result) setNotice(`A password reset link was sent to ${user.email ?? user.id}; their sessions were ended.`);
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
      <Alert kind="ok">{notice}</Alert>
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
                <td>{user.email}</td>
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
                <td data-testid="status">{statusText(user)}</td>
                <td className="actions">
                  {user.status === 'pending' || user.status === 'expired' ? (
                    <>
                      <button type="button" className="secondary" disabled={busy} onClick={() => void resend(user)}>
                        Resend invitation
                      </button>
                      <button type="button" className="danger" disabled={busy} onClick={() => void revoke(user)}>
                        Revoke
                      </button>
                    </>
                  ) : (
                    <button type="button" className="secondary" disabled={busy} onClick={() => void resetPassword(user)}>
                      Reset password
                    </button>
                  )}
                  {!isSelf && user.status === 'active' && (
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

/** "active", "deactivated", "pending (expires …)" or "invitation expired". */
function statusText(user: Member): string {
  if (user.status === 'pending' && user.invitationExpiresAt) {
    return `pending (expires ${new Date(user.invitationExpiresAt).toLocaleString()})`;
  }
  if (user.status === 'expired') return 'invitation expired';
  return user.status;
}
