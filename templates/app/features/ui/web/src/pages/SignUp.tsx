import { useState } from 'react';
import { api } from '../api.js';
import { href } from '../router.js';
import { CheckEmail } from './Account.js';
import { Alert, Field, onSubmit, passwordHint, useAction, usePasswordPolicy } from '../ui.js';

/** Sign-up creates a new tenant whose first user is its admin (src/routes/public/auth.ts); then "check your e-mail". */
export function SignUp() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [tenantName, setTenantName] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [done, setDone] = useState('');
  const { busy, error, run } = useAction();
  const policy = usePasswordPolicy();

  const submit = onSubmit(async () => {
    const result = await run(() => api.signup({ email: email.trim(), password, tenantName: tenantName.trim(), displayName: displayName.trim() }));
    if (result) {
      setPassword('');
      setDone(result.message);
    }
  });

  // the account works once its address is confirmed: the link is in the mailbox
  if (done) return <CheckEmail email={email.trim()} message={done} />;

  return (
    <section className="card narrow">
      <h1>Sign up</h1>
      <form onSubmit={submit} className="form" aria-label="Sign up">
        <Field label="Organisation">
          <input name="tenantName" required maxLength={200} value={tenantName} onChange={(e) => setTenantName(e.target.value)} />
        </Field>
        <Field label="Your name">
          <input name="displayName" maxLength={200} autoComplete="name" value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
        </Field>
        <Field label="E-mail">
          <input name="email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </Field>
        <Field label={`Password${passwordHint(policy)}`}>
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
          {busy ? 'Signing up…' : 'Sign up'}
        </button>
      </form>
      <p className="muted">
        Already registered? <a href={href('login')}>Log in</a>
      </p>
    </section>
  );
}
