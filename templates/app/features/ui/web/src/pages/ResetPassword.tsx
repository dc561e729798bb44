import { useState } from 'react';
import { api } from '../api.js';
import { href } from '../router.js';
import { Alert, Field, onSubmit, passwordHint, useAction, usePasswordPolicy } from '../ui.js';

/**
 * The pages e-mailed links open: `/reset-password#token=...` ("forgot password", an admin's reset)
 * and `/invitation#token=...` (an admin's invitation to a new address: ./Invitation.tsx decides). The token is in the fragment, which the
 * browser sends to no server and puts in no Referer. It stays in the address bar until the link is
 * used, so reloading the page keeps working (a refused password, a closed tab); once the password is
 * set it is removed from the address bar and the history entry.
 */
export function readToken(): string {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  return match ? decodeURIComponent(match[1] ?? '') : '';
}

const TEXT = {
  reset: { heading: 'Choose a new password', button: 'Set password', missing: 'This link is incomplete. Ask for a new one on the log-in page.' },
  invitation: { heading: 'Accept your invitation', button: 'Accept and set password', missing: 'This link is incomplete. Ask your administrator to resend the invitation.' },
} as const;

export function ResetPassword({ kind }: { kind: 'reset' | 'invitation' }) {
  const [token] = useState(readToken);
  const [password, setPassword] = useState('');
  const [done, setDone] = useState('');
  const { busy, error, run } = useAction();
  const policy = usePasswordPolicy();
  const text = TEXT[kind];

  const submit = onSubmit(async () => {
    const result = await run(() => api.resetPassword(token, password));
    if (result) {
      setPassword('');
      setDone(result.message);
      // used: the link is dead now; drop it from the address bar and this history entry
      window.history.replaceState(null, '', window.location.pathname);
    }
  });

  return (
    <section className="card narrow">
      <h1>{text.heading}</h1>
      {done ? (
        <>
          <Alert kind="ok">{done}</Alert>
          <a href={href('login')}>Log in</a>
        </>
      ) : !token ? (
        <Alert kind="error">{text.missing}</Alert>
      ) : (
        <form onSubmit={submit} className="form" aria-label={text.heading}>
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
            {text.button}
          </button>
        </form>
      )}
    </section>
  );
}
