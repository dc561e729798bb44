import { useEffect, useState } from 'react';
import { ApiError } from '../api.js';
import { invitationApi, type InvitationInfo } from '../invitation-api.js';
import { Alert, errorText, Field, onSubmit, useAction } from '../ui.js';
import { readToken, ResetPassword } from './ResetPassword.js';

/**
 * `/invitation#token=...`: the page asks the server what the link is for. A new address chooses its
 * password (ResetPassword); an address that already has an account joins with that account's own
 * password, and its second factor when it has one (src/auth/invitations.ts): the link alone sets no
 * password and joins nothing. Joined, the session is in the new organisation.
 */
export function Invitation() {
  const [token, setToken] = useState(readToken);
  const [info, setInfo] = useState<InvitationInfo>();
  const [problem, setProblem] = useState('');

  // another link opened in the same tab changes only the fragment: the page follows it
  useEffect(() => {
    const update = () => setToken(readToken());
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);

  useEffect(() => {
    setInfo(undefined);
    setProblem('');
    if (!token) return;
    let live = true;
    invitationApi.info(token).then(
      (answer) => live && setInfo(answer),
      (caught: unknown) => live && setProblem(errorText(caught)),
    );
    return () => {
      live = false;
    };
  }, [token]);

  if (problem) {
    return (
      <section className="card narrow">
        <h1>Accept your invitation</h1>
        <Alert kind="error">{problem}</Alert>
      </section>
    );
  }
  if (!token || (info && !info.existingAccount)) return <ResetPassword key={token} kind="invitation" />;
  if (!info) {
    return (
      <section className="card narrow">
        <p className="muted">Loading…</p>
      </section>
    );
  }
  return <JoinTenant key={token} token={token} info={info} />;
}

function JoinTenant({ token, info }: { token: string; info: InvitationInfo }) {
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [needsCode, setNeedsCode] = useState(false);
  const { busy, error, run } = useAction();

  const submit = onSubmit(async () => {
    const joined = await run(async () => {
      try {
        return await invitationApi.join(token, password, needsCode ? code.trim() : undefined);
      } catch (caught) {
        if (caught instanceof ApiError && caught.code === 'mfa_required') {
          setNeedsCode(true);
          return undefined;
        }
        throw caught;
      }
    });
    if (joined) {
      // used: the link is dead; the session is in the organisation joined (or can only enrol)
      window.location.replace('/#/records');
    }
  });

  return (
    <section className="card narrow">
      <h1 className="wrap">Join {info.tenantName}</h1>
      <p>
        You already have an account (<span className="wrap">{info.email}</span>): enter your password to join {info.tenantName}. Your
        password and your other organisations stay as they are.
      </p>
      <form onSubmit={submit} className="form" aria-label={`Join ${info.tenantName}`}>
        <Field label="Your password">
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            maxLength={1024}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </Field>
        {needsCode && (
          <Field label="Code from your authenticator app, or a recovery code">
            <input
              name="code"
              autoComplete="one-time-code"
              inputMode="text"
              required
              maxLength={40}
              value={code}
              onChange={(e) => setCode(e.target.value)}
              autoFocus
            />
          </Field>
        )}
        <Alert kind="error">{error}</Alert>
        <button type="submit" disabled={busy}>
          {busy ? 'Joining…' : `Join ${info.tenantName}`}
        </button>
      </form>
    </section>
  );
}
