import { useState } from 'react';
import { api } from '../api.js';
import { href } from '../router.js';
import { Alert, Field, onSubmit, useAction } from '../ui.js';

/**
 * "Forgot password": the server answers the same for every address (it never says whether one has
 * an account) and e-mails a single-use link to a registered one.
 */
export function ForgotPassword() {
  const [email, setEmail] = useState('');
  const [done, setDone] = useState('');
  const { busy, error, run } = useAction();

  const submit = onSubmit(async () => {
    const result = await run(() => api.forgotPassword(email.trim()));
    if (result) setDone(result.message);
  });

  return (
    <section className="card narrow">
      <h1>Forgot password</h1>
      {done ? (
        <Alert kind="ok">{done}</Alert>
      ) : (
        <form onSubmit={submit} className="form" aria-label="Forgot password">
          <Field label="E-mail">
            <input name="email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
          </Field>
          <Alert kind="error">{error}</Alert>
          <button type="submit" disabled={busy}>
            Send me a link
          </button>
        </form>
      )}
      <p className="muted">
        <a href={href('login')}>Back to log in</a>
      </p>
    </section>
  );
}
