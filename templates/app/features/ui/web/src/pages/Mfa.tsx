import { useCallback, useEffect, useState } from 'react';
import { ApiError } from '../api.js';
import { mfaApi, type Enrolment, type MfaStatus } from '../mfa-api.js';
import { Alert, Field, onSubmit, useAction } from '../ui.js';

/** The second step of a log-in (after the password): a code of the authenticator app, or a recovery code. */
export function MfaLoginStep({ onLoggedIn, onRestart }: { onLoggedIn: () => Promise<void>; onRestart: () => void }) {
  const [code, setCode] = useState('');
  const { busy, error, run } = useAction();
  const submit = onSubmit(async () => {
    const done = await run(() => mfaApi.loginStep(code.trim()));
    if (done) await onLoggedIn();
  });
  return (
    <section className="card narrow">
      <h1>Second factor</h1>
      <form onSubmit={submit} className="form" aria-label="Second factor">
        <Field label="Code or recovery code">
          <input name="code" autoComplete="one-time-code" required maxLength={40} value={code} onChange={(e) => setCode(e.target.value)} />
        </Field>
        <p className="muted">The six digits your authenticator app shows, or one of your recovery codes.</p>
        <Alert kind="error">{error}</Alert>
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Continue'}
        </button>
      </form>
      <p className="muted">
        <button type="button" className="link" onClick={onRestart}>
          Start again
        </button>
      </p>
    </section>
  );
}

/** Recovery codes, shown once. */
function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  return (
    <div>
      <p>Keep these recovery codes somewhere safe. Each one logs you in once if you lose your authenticator. They are shown only now.</p>
      <ul className="codes" data-testid="recovery-codes">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ul>
      <button type="button" onClick={onDone}>
        I have saved them
      </button>
    </div>
  );
}

/** Enrolment: the QR code and the key, a code to confirm, then the recovery codes. */
export function MfaEnrol({ required, onEnrolled, onUnauthenticated }: { required: boolean; onEnrolled: () => void | Promise<void>; onUnauthenticated: () => void }) {
  const [enrolment, setEnrolment] = useState<Enrolment>();
  const [codes, setCodes] = useState<string[]>();
  const [code, setCode] = useState('');
  const { busy, error, run } = useAction(onUnauthenticated);

  const start = async () => setEnrolment(await run(() => mfaApi.start()));
  const confirm = onSubmit(async () => {
    const result = await run(() => mfaApi.confirm(code.trim()));
    if (result) setCodes(result.recoveryCodes);
  });

  return (
    <section className="card narrow">
      <h1>Set up a second factor</h1>
      {required && !codes && <Alert kind="info">Your account needs a second factor before you can go on.</Alert>}
      <Alert kind="error">{error}</Alert>
      {codes ? (
        <RecoveryCodes codes={codes} onDone={() => void onEnrolled()} />
      ) : !enrolment ? (
        <>
          <p>Use an authenticator app (any TOTP app) to log in with a code as well as your password.</p>
          <button type="button" disabled={busy} onClick={() => void start()}>
            Start
          </button>
        </>
      ) : (
        <form onSubmit={confirm} className="form" aria-label="Confirm the second factor">
          <p>Scan this code with your authenticator app, or type the key.</p>
          <img className="qr" src={enrolment.qr} alt="QR code of the authenticator key" width={200} height={200} />
          <p>
            Key: <code data-testid="mfa-secret">{enrolment.secret}</code>
          </p>
          <Field label="Code from the app">
            <input name="code" inputMode="numeric" autoComplete="one-time-code" required maxLength={6} value={code} onChange={(e) => setCode(e.target.value)} />
          </Field>
          <button type="submit" disabled={busy}>
            Confirm
          </button>
        </form>
      )}
    </section>
  );
}

/** The account's second factor, on the sessions page: its state, new recovery codes, removal. */
export function MfaSection({ onUnauthenticated, onRemoved }: { onUnauthenticated: () => void; onRemoved: () => void | Promise<void> }) {
  const [status, setStatus] = useState<MfaStatus>();
  const [enrolling, setEnrolling] = useState(false);
  const [codes, setCodes] = useState<string[]>();
  const [proof, setProof] = useState('');
  const { busy, error, run, setError } = useAction(onUnauthenticated);

  const load = useCallback(async () => {
    try {
      setStatus(await mfaApi.status());
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 401) return onUnauthenticated();
      setError(caught instanceof ApiError ? caught.message : 'Could not load the second factor.');
    }
  }, [onUnauthenticated, setError]);
  useEffect(() => {
    void load();
  }, [load]);

  if (!status) return null;
  if (enrolling) {
    return (
      <MfaEnrol
        required={status.required}
        onUnauthenticated={onUnauthenticated}
        onEnrolled={async () => {
          setEnrolling(false);
          await load();
        }}
      />
    );
  }
  // six digits: a code; anything else: the password
  const proofOf = (value: string) => (/^\d{6}$/.test(value.trim()) ? { code: value.trim() } : { password: value });
  const renew = async () => {
    const result = await run(() => mfaApi.newRecoveryCodes(proof.trim()));
    if (result) {
      setProof('');
      setCodes(result.recoveryCodes);
    }
  };
  const remove = async () => {
    const result = await run(() => mfaApi.remove(proofOf(proof)));
    if (result) {
      setProof('');
      setStatus(result);
      // a role that requires a second factor: this session can now only enrol again
      if (result.required) await onRemoved();
    }
  };

  return (
    <section className="card" aria-label="Second factor">
      <h2>Second factor</h2>
      <Alert kind="error">{error}</Alert>
      {codes ? (
        <RecoveryCodes codes={codes} onDone={() => setCodes(undefined)} />
      ) : status.enrolled ? (
        <>
          <p>
            On: an authenticator app. {status.recoveryCodesLeft} recovery code(s) left.
            {status.required ? ' Your role requires a second factor.' : ''}
          </p>
          <Field label="Current code (or your password to remove)">
            <input name="mfa-proof" type="password" autoComplete="off" value={proof} onChange={(e) => setProof(e.target.value)} />
          </Field>
          <div className="actions">
            <button type="button" className="secondary" disabled={busy || !/^\d{6}$/.test(proof.trim())} onClick={() => void renew()}>
              New recovery codes
            </button>
            <button type="button" className="danger" disabled={busy || !proof} onClick={() => void remove()}>
              Remove
            </button>
          </div>
        </>
      ) : (
        <>
          <p>Off. {status.required ? 'Your role requires one.' : 'A code from an authenticator app makes a stolen password useless.'}</p>
          <button type="button" onClick={() => setEnrolling(true)}>
            Set up
          </button>
        </>
      )}
    </section>
  );
}
