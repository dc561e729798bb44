import { useEffect, useState } from 'react';
import { api, type TenantOption } from '../api.js';
import { href } from '../router.js';
import { Alert, Field, onSubmit, useAction } from '../ui.js';

/**
 * The account pages around the log-in (src/auth/email.ts, src/auth/tenants.ts):
 *   VerifyEmail     /verify-email#token=...: confirms the address with one click; the token stays in
 *                   the address bar until it is used, so a reload keeps working
 *   CheckEmail      after sign-up (or a log-in refused for an unconfirmed address): where the link
 *                   went, and a button that sends a new one
 *   TenantPicker    at log-in, for a user who belongs to several tenants
 *   TenantSwitcher  in the header: a new session for another of the user's tenants
 *   EmailChange     on the sessions page: a new address, confirmed with the password; it takes effect
 *                   when the link sent to it is followed (VerifyEmail), and the current address is told
 */
function readToken(): string {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  return match ? decodeURIComponent(match[1] ?? '') : '';
}

export function VerifyEmail({ onVerified }: { onVerified: (email: string) => void }) {
  const [token] = useState(readToken);
  const [done, setDone] = useState<{ email: string; purpose: 'signup' | 'change' }>();
  const { busy, error, run } = useAction();

  const confirm = onSubmit(async () => {
    const result = await run(() => api.verifyEmail(token));
    if (result) {
      setDone(result);
      // used: the link is dead now; drop it from the address bar and this history entry
      window.history.replaceState(null, '', window.location.pathname);
    }
  });

  return (
    <section className="card narrow">
      <h1>Confirm your e-mail address</h1>
      {done ? (
        <>
          <Alert kind="ok">{done.purpose === 'signup' ? `${done.email} is confirmed.` : `Your address is now ${done.email}.`}</Alert>
          <button type="button" onClick={() => onVerified(done.email)}>
            Continue
          </button>
        </>
      ) : !token ? (
        <Alert kind="error">This link is incomplete. Log in to ask for a new one.</Alert>
      ) : (
        <form onSubmit={confirm} className="form" aria-label="Confirm your e-mail address">
          <Alert kind="error">{error}</Alert>
          <button type="submit" disabled={busy}>
            {busy ? 'Confirming…' : 'Confirm my address'}
          </button>
        </form>
      )}
    </section>
  );
}

export function CheckEmail({ email, message }: { email: string; message?: string }) {
  const [sent, setSent] = useState('');
  const { busy, error, run } = useAction();
  const resend = async () => {
    const result = await run(() => api.resendVerification(email));
    if (result) setSent(result.message);
  };
  return (
    <section className="card narrow" data-testid="check-email">
      <h1>Check your e-mail</h1>
      <Alert kind="info">{message ?? `Confirm your address first: follow the link we sent to ${email}.`}</Alert>
      <p>
        We sent a link to <strong>{email}</strong>. Open it to confirm the address; then log in.
      </p>
      <Alert kind="ok">{sent}</Alert>
      <Alert kind="error">{error}</Alert>
      <button type="button" className="secondary" disabled={busy} onClick={() => void resend()}>
        Send the link again
      </button>
      <p className="muted">
        <a href={href('login')}>Back to log in</a>
      </p>
    </section>
  );
}

export function TenantPicker({ tenants, onPick, busy }: { tenants: TenantOption[]; onPick: (tenantId: string) => void; busy: boolean }) {
  const [chosen, setChosen] = useState(tenants[0]?.id ?? '');
  return (
    <form onSubmit={onSubmit(() => onPick(chosen))} className="form" aria-label="Choose an organisation">
      <Field label="Organisation">
        <select name="tenant" value={chosen} onChange={(e) => setChosen(e.target.value)}>
          {tenants.map((tenant) => (
            <option key={tenant.id} value={tenant.id}>
              {tenant.name} ({tenant.role})
            </option>
          ))}
        </select>
      </Field>
      <button type="submit" disabled={busy || !chosen}>
        Open
      </button>
    </form>
  );
}

/** Shown only to a user with several tenants; switching replaces the session, then reloads the user. */
export function TenantSwitcher({ onSwitched, onUnauthenticated }: { onSwitched: () => Promise<void>; onUnauthenticated: () => void }) {
  const [tenants, setTenants] = useState<Array<TenantOption & { current: boolean }>>([]);
  const { busy, error, run } = useAction(onUnauthenticated);
  useEffect(() => {
    let live = true;
    api.tenants.list().then(
      (answer) => live && setTenants(answer),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, []);
  if (tenants.length < 2) return null;
  const current = tenants.find((tenant) => tenant.current)?.id ?? '';
  const change = async (tenantId: string) => {
    if (tenantId === current) return;
    if (await run(() => api.tenants.switch(tenantId))) await onSwitched();
  };
  return (
    <span className="tenant-switcher">
      <select aria-label="Organisation" value={current} disabled={busy} onChange={(e) => void change(e.target.value)}>
        {tenants.map((tenant) => (
          <option key={tenant.id} value={tenant.id}>
            {tenant.name}
          </option>
        ))}
      </select>
      {error && <span className="alert alert-error" role="alert">{error}</span>}
    </span>
  );
}

/** A new e-mail address for the signed-in user (POST /api/account/email). */
export function EmailChange({ onUnauthenticated }: { onUnauthenticated: () => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [notice, setNotice] = useState('');
  const { busy, error, run } = useAction(onUnauthenticated);

  const submit = onSubmit(async () => {
    setNotice('');
    const result = await run(() => api.changeEmail(email.trim(), password));
    if (result) {
      // the password never stays in the page; the address stays until the user leaves
      setPassword('');
      setNotice(result.message);
    }
  });

  return (
    <section className="card" aria-label="E-mail address">
      <h2>E-mail address</h2>
      <form onSubmit={submit} className="form" aria-label="Change e-mail address">
        <Field label="New e-mail address">
          <input name="new-email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </Field>
        <Field label="Your current password">
          <input
            name="current-password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </Field>
        <Alert kind="error">{error}</Alert>
        <Alert kind="ok">{notice}</Alert>
        <button type="submit" disabled={busy}>
          {busy ? 'Sending…' : 'Send a confirmation link'}
        </button>
      </form>
    </section>
  );
}
