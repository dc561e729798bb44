import { useState } from 'react';
import { api, ApiError, type TenantOption } from '../api.js';
import { href } from '../router.js';
import { Alert, Field, onSubmit, useAction } from '../ui.js';
import { CheckEmail, TenantPicker } from './Account.js';
import { MfaLoginStep } from './Mfa.js';

/**
 * The password, then (src/auth/tenants.ts) the tenant when the user belongs to several, then the
 * second factor when the user has one (src/auth/login.ts); an address not confirmed yet leads to
 * "check your e-mail" (src/auth/email.ts).
 */
export function Login({ onLoggedIn, email: initialEmail = '' }: { onLoggedIn: () => Promise<void>; email?: string }) {
  const [email, setEmail] = useState(initialEmail);
  const [password, setPassword] = useState('');
  const [tenants, setTenants] = useState<TenantOption[]>();
  const [unconfirmed, setUnconfirmed] = useState(false);
  // the second factor's step, and whether the user has a passkey to offer there
  const [secondStep, setSecondStep] = useState<{ passkey: boolean }>();
  const { busy, error, run } = useAction();

  const attempt = async (tenantId?: string) => {
    const done = await run(async () => {
      try {
        return await api.login(email.trim(), password, tenantId);
      } catch (caught) {
        if (caught instanceof ApiError && caught.code === 'choose_tenant') {
          setTenants((caught.details as { tenants: TenantOption[] }).tenants);
          return undefined;
        }
        if (caught instanceof ApiError && caught.code === 'email_not_verified') {
          setUnconfirmed(true);
          return undefined;
        }
        throw caught;
      }
    });
    if (done) {
      setPassword('');
      // a user with a second factor has no session yet: the code comes next
      const answer = done as { status?: string; passkey?: boolean };
      if (answer.status === 'mfa_required') setSecondStep({ passkey: answer.passkey === true });
      else await onLoggedIn();
    }
  };
  const submit = onSubmit(() => attempt());

  if (unconfirmed) return <CheckEmail email={email.trim()} />;
  // after the tenant (if asked), the second factor (src/auth/login.ts)
  if (secondStep) return <MfaLoginStep onLoggedIn={onLoggedIn} passkey={secondStep.passkey} onRestart={() => setSecondStep(undefined)} />;
  if (tenants) {
    return (
      <section className="card narrow">
        <h1>Choose an organisation</h1>
        <TenantPicker tenants={tenants} busy={busy} onPick={(tenantId) => void attempt(tenantId)} />
        <Alert kind="error">{error}</Alert>
      </section>
    );
  }

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
