import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { api, ApiError, type PasswordPolicy } from './api.js';

/** A message from an error, for display (never the raw server body). */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return 'Something went wrong.';
}

export function Alert({ kind, children }: { kind: 'error' | 'ok' | 'info'; children: ReactNode }) {
  if (!children) return null;
  return (
    <p className={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </p>
  );
}

/**
 * Runs an async action with a busy flag and an error message. A 401 calls onUnauthenticated (the
 * session is gone); a 403 says so: the server is the one that decides.
 */
export function useAction(onUnauthenticated?: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>('');
  async function run<T>(action: () => Promise<T>): Promise<T | undefined> {
    setBusy(true);
    setError('');
    try {
      return await action();
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 401 && onUnauthenticated) {
        onUnauthenticated();
        return undefined;
      }
      if (caught instanceof ApiError && caught.status === 403) setError(`Not allowed: ${caught.message}`);
      else setError(errorText(caught));
      return undefined;
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, setError, run };
}

export function onSubmit(handler: () => void | Promise<void>) {
  return (event: FormEvent) => {
    event.preventDefault();
    void handler();
  };
}

export function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <label className="field">
      <span className="label">{label}</span>
      {children}
    </label>
  );
}

/**
 * The server's password rules, for the new-password fields: their minimum length and hint come from
 * the server's configuration (PASSWORD_MIN_LENGTH, PASSWORD_MIN_SCORE), never from a number here.
 * Undefined until the server answers; the server checks every password anyway.
 */
export function usePasswordPolicy(): PasswordPolicy | undefined {
  const [policy, setPolicy] = useState<PasswordPolicy>();
  useEffect(() => {
    let live = true;
    api.passwordPolicy().then(
      (answer) => live && setPolicy(answer),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, []);
  return policy;
}

/** The hint under a new-password field. */
export function passwordHint(policy: PasswordPolicy | undefined): string {
  return policy ? ` (at least ${policy.minLength} characters, hard to guess: a phrase of several unrelated words is best)` : '';
}
