import { useState } from 'react';
import { api } from '../api.js';
import { href } from '../router.js';
import { Alert, Field, onSubmit, passwordHint, useAction, usePasswordPolicy } from '../ui.js';

/**
 * `/reset-password#token=...`: the link an admin hands out (invitation or reset). The token is in
 * the fragment, so it never reaches a server log; it is read once into memory and removed from the
 * address bar at once (not kept in history, storage or a Referer).
 */
function takeToken(): string {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (match) window.history.replaceState(null, '', window.location.pathname);
  return match ? decodeURIComponent(match[1] ?? '') : '';
}

export function ResetPassword() {
  const [token] = useState(takeToken);
  const [password, setPassword] = useState('');
  const [done, setDone] = useState('');
  const { busy, error, run } = useAction();
  const policy = usePasswordPolicy();

  const submit = onSubmit(async () => {
    const result = await run(() => api.resetPassword(token, password));
    if (result) {
      setPassword('');
      setDone(result.message);
    }
  });

  return (
    <section className="card narrow">
      <h1>Choose a password</h1>
      {done ? (
        <>
          <Alert kind="ok">{done}</Alert>
          <a href={href('login')}>Log in</a>
        </>
      ) : !token ? (
        <Alert kind="error">This link is incomplete. Ask an administrator for a new one.</Alert>
      ) : (
        <form onSubmit={submit} className="form" aria-label="Choose a password">
          <Field label={`New password${passwordHint(policy)}`}>
            <input
              name="password"
              type="password"
              autoComplete="new-password"
              required
              minLength={policy?.minLength}
              maxLength={1024}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </Field>
          <Alert kind="error">{error}</Alert>
          <button type="submit" disabled={busy}>
            Set password
          </button>
        </form>
      )}
    </section>
  );
}
