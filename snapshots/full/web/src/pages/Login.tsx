import { useState } from 'react';
import { api } from '../api.js';
import { href } from '../router.js';
import { Alert, Field, onSubmit, useAction } from '../ui.js';
import { MfaLoginStep } from './Mfa.js';

export function Login({ onLoggedIn }: { onLoggedIn: () => Promise<void> }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [secondStep, setSecondStep] = useState(false);
  const { busy, error, run } = useAction();

  const submit = onSubmit(async () => {
    const done = await run(() => api.login(email.trim(), password));
    if (done) {
      setPassword('');
      // a user with a second factor has no session yet: the code comes next
      if ((done as { status?: string }).status === 'mfa_required') setSecondStep(true);
      else await onLoggedIn();
    }
  });

  if (secondStep) return <MfaLoginStep onLoggedIn={onLoggedIn} onRestart={() => setSecondStep(false)} />;

  return (
    <section className="card narrow">
      <h1>Log in</h1>
      <form onSubmit={submit} className="form" aria-label="Log in">
        <Field label="E-mail">
          <input name="email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </Field>
        <Field label="Password">
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </Field>
        <Alert kind="error">{error}</Alert>
        <button type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
      <p className="muted">
        <a href={href('forgot-password')}>Forgot password?</a>
      </p>
      <p className="muted">
        No account? <a href={href('signup')}>Sign up</a>
      </p>
    </section>
  );
}
