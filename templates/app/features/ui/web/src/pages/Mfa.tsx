import { useCallback, useEffect, useState } from 'react';
import { ApiError } from '../api.js';
import { mfaApi, type Enrolment } from '../mfa-api.js';
import { passkeyApi, type SecondFactors } from '../passkey-api.js';
import { Alert, Field, onSubmit, useAction } from '../ui.js';

/**
 * The second step of a log-in (after the password): the user's passkey when they have one, or a code
 * of the authenticator app, or a recovery code.
 */
export function MfaLoginStep({ onLoggedIn, onRestart, passkey }: { onLoggedIn: () => Promise<void>; onRestart: () => void; passkey: boolean }) {
  const [code, setCode] = useState('');
  const { busy, error, run } = useAction();
  const submit = onSubmit(async () => {
    const done = await run(() => mfaApi.loginStep(code.trim()));
    if (done) await onLoggedIn();
  });
  const usePasskey = async () => {
    const done = await run(() => passkeyApi.loginStep());
    if (done) await onLoggedIn();
  };
  return (
    <section className="card narrow">
      <h1>Second factor</h1>
      {passkey && (
        <p>
          <button type="button" disabled={busy} onClick={() => void usePasskey()}>
            Use your passkey
          </button>
        </p>
      )}
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

/**
 * A new passkey: a name for it, then the browser's own dialog (@simplewebauthn/browser). Returns the
 * recovery codes when it is the account's first second factor.
 */
function AddPasskey({ onAdded, onUnauthenticated }: { onAdded: (recoveryCodes: string[] | undefined) => void | Promise<void>; onUnauthenticated: () => void }) {
  const [name, setName] = useState('Passkey');
  const { busy, error, run } = useAction(onUnauthenticated);
  const submit = onSubmit(async () => {
    const result = await run(() => passkeyApi.register(name.trim()));
    if (result) await onAdded(result.recoveryCodes);
  });
  return (
    <form onSubmit={submit} className="form" aria-label="Add a passkey">
      <Field label="Passkey name">
        <input name="passkey-name" required maxLength={64} value={name} onChange={(e) => setName(e.target.value)} />
      </Field>
      <Alert kind="error">{error}</Alert>
      <button type="submit" disabled={busy || !name.trim()}>
        {busy ? 'Waiting for the passkey…' : 'Add a passkey'}
      </button>
    </form>
  );
}

/** Enrolment: the QR code and the key, a code to confirm, then the recovery codes; or a passkey. */
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
          <h2>Or a passkey</h2>
          <p>A passkey on this device or a security key, confirmed by the browser.</p>
          <AddPasskey onUnauthenticated={onUnauthenticated} onAdded={(recoveryCodes) => (recoveryCodes ? setCodes(recoveryCodes) : onEnrolled())} />
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

/** The account's second factors, on the sessions page: the authenticator app, passkeys, new recovery codes, removal. */
export function MfaSection({ onUnauthenticated, onRemoved }: { onUnauthenticated: () => void; onRemoved: () => void | Promise<void> }) {
  const [status, setStatus] = useState<SecondFactors>();
  const [enrolling, setEnrolling] = useState(false);
  const [codes, setCodes] = useState<string[]>();
  const [proof, setProof] = useState('');
  const { busy, error, run, setError } = useAction(onUnauthenticated);

  const load = useCallback(async () => {
    try {
      setStatus(await passkeyApi.status());
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
  const removed = async (result: SecondFactors | undefined) => {
    if (!result) return;
    setProof('');
    setStatus(result);
    // no factor left and the role requires one: this session can now only enrol again
    if (result.required && !result.enrolled) await onRemoved();
  };
  const remove = async () => removed(await run(async () => {
    await mfaApi.remove(proofOf(proof));
    return passkeyApi.status();
  }));
  const removePasskey = async (id: string) => removed(await run(() => passkeyApi.remove(id, proofOf(proof))));

  return (
    <section className="card" aria-label="Second factor">
      <h2>Second factor</h2>
      <Alert kind="error">{error}</Alert>
      {codes ? (
        <RecoveryCodes codes={codes} onDone={() => setCodes(undefined)} />
      ) : (
        <>
          <p>
            {status.enrolled ? `On. ${status.recoveryCodesLeft} recovery code(s) left.` : 'Off.'}
            {status.required ? ' Your role requires a second factor.' : status.enrolled ? '' : ' A second factor makes a stolen password useless.'}
          </p>
          <h3>Authenticator app</h3>
          {status.totp ? (
            <p>On: an authenticator app.</p>
          ) : (
            <button type="button" onClick={() => setEnrolling(true)}>
              Set up
            </button>
          )}
          <h3>Passkeys</h3>
          {status.passkeys.length > 0 && (
            <ul className="passkeys" data-testid="passkeys">
              {status.passkeys.map((p) => (
                <li key={p.id}>
                  <strong>{p.name}</strong> <span className="muted">added {new Date(p.createdAt).toLocaleDateString()}, {p.lastUsedAt ? `last used ${new Date(p.lastUsedAt).toLocaleString()}` : 'not used yet'}</span>{' '}
                  <button type="button" className="danger" disabled={busy || !proof} onClick={() => void removePasskey(p.id)} aria-label={`Remove passkey ${p.name}`}>
                    Remove
                  </button>
                </li>
              ))}
            </ul>
          )}
          <AddPasskey
            onUnauthenticated={onUnauthenticated}
            onAdded={async (recoveryCodes) => {
              await load();
              if (recoveryCodes) setCodes(recoveryCodes);
            }}
          />
          {status.enrolled && (
            <>
              <Field label="Current code (or your password to remove)">
                <input name="mfa-proof" type="password" autoComplete="off" value={proof} onChange={(e) => setProof(e.target.value)} />
              </Field>
              <div className="actions">
                <button type="button" className="secondary" disabled={busy || !/^\d{6}$/.test(proof.trim())} onClick={() => void renew()}>
                  New recovery codes
                </button>
                {status.totp && (
                  <button type="button" className="danger" disabled={busy || !proof} onClick={() => void remove()}>
                    Remove the authenticator app
                  </button>
                )}
              </div>
            </>
          )}
        </>
      )}
    </section>
  );
}
