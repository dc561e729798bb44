import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { api, type User } from './api.js';
import { APP_NAME, FEATURES } from './features.js';
import { href, navigate, useRoute, type Route } from './router.js';
import { Login } from './pages/Login.js';
import { SignUp } from './pages/SignUp.js';
import { ResetPassword } from './pages/ResetPassword.js';
import { Invitation } from './pages/Invitation.js';
import { ForgotPassword } from './pages/ForgotPassword.js';
import { Sessions } from './pages/Sessions.js';
import { Records } from './pages/Records.js';
import { AdminUsers } from './pages/AdminUsers.js';
import { AuditLog } from './pages/AuditLog.js';
import { CsvImport } from './pages/CsvImport.js';
import { EmailChange, TenantSwitcher, VerifyEmail } from './pages/Account.js';
import { NotFound } from './pages/NotFound.js';
import { may } from './gates.js';
import { MfaEnrol, MfaSection } from './pages/Mfa.js';

type SessionState = { status: 'loading' } | { status: 'anonymous' } | { status: 'signed-in'; user: User };

const PUBLIC_PAGES: readonly Route[] = ['login', 'signup', 'forgot-password', 'reset-password', 'invitation', 'verify-email', 'not-found'];

export function App() {
  const route = useRoute();
  const [session, setSession] = useState<SessionState>({ status: 'loading' });
  // the address a confirmation link just verified: the log-in form starts with it
  const [confirmedEmail, setConfirmedEmail] = useState('');

  const refresh = useCallback(async () => {
    try {
      setSession({ status: 'signed-in', user: await api.me() });
    } catch {
      // 401 (no live session) or the server unreachable: the login page
      setSession({ status: 'anonymous' });
    }
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  // any 401 from a page means the session ended (expired, revoked): back to the login page
  const onUnauthenticated = useCallback(() => {
    setSession({ status: 'anonymous' });
    navigate('login');
  }, []);

  useEffect(() => {
    if (session.status === 'anonymous' && (!route || !PUBLIC_PAGES.includes(route))) navigate('login');
    if (session.status === 'signed-in' && (!route || route === 'login' || route === 'signup' || route === 'forgot-password')) navigate('records');
  }, [session, route]);

  if (route === 'reset-password' || route === 'invitation') {
    return <Shell>{route === 'invitation' ? <Invitation /> : <ResetPassword kind="reset" />}</Shell>;
  }
  if (route === 'verify-email') {
    const onVerified = (email: string) => {
      setConfirmedEmail(email);
      navigate(session.status === 'signed-in' ? 'records' : 'login');
      void refresh();
    };
    return (
      <Shell>
        <VerifyEmail onVerified={onVerified} />
      </Shell>
    );
  }
  if (route === 'not-found') {
    return (
      <Shell>
        <NotFound />
      </Shell>
    );
  }
  if (session.status === 'loading') {
    return (
      <Shell>
        <p className="muted">Loading…</p>
      </Shell>
    );
  }
  if (session.status === 'anonymous') {
    return <Shell>{route === 'signup' ? <SignUp /> : route === 'forgot-password' ? <ForgotPassword /> : <Login onLoggedIn={refresh} email={confirmedEmail} />}</Shell>;
  }

  const user = session.user;
  // UX only: the server refuses every admin route to a non-admin session (403)
  const isAdmin = user.role === 'admin';
  const logout = async () => {
    try {
      await api.logout();
    } finally {
      setSession({ status: 'anonymous' });
      navigate('login');
    }
  };

  let page;
  // a session that must enrol a second factor reaches nothing else (the server refuses the rest)
  if (user.mfaEnrolmentRequired) page = <MfaEnrol required onEnrolled={refresh} onUnauthenticated={onUnauthenticated} />;
  else if (route === 'users' && isAdmin && FEATURES.admin) page = <AdminUsers self={user} onUnauthenticated={onUnauthenticated} />;
  else if (route === 'audit' && isAdmin && FEATURES.admin) page = <AuditLog onUnauthenticated={onUnauthenticated} />;
  else if (route === 'sessions') page = <><Sessions onUnauthenticated={onUnauthenticated} /><MfaSection onUnauthenticated={onUnauthenticated} onRemoved={refresh} /><EmailChange onUnauthenticated={onUnauthenticated} /></>;
  else if (route === 'import' && FEATURES.csvImport) page = <CsvImport onUnauthenticated={onUnauthenticated} />;
  else page = <Records user={user} onUnauthenticated={onUnauthenticated} />;

  return (
    <Shell
      nav={
        <nav className="nav" aria-label="Main">
          <a href={href('records')} className={route === 'records' ? 'active' : undefined}>
            Records
          </a>
          {FEATURES.csvImport && may(user.role, 'records', 'insert') && (
            <a href={href('import')} className={route === 'import' ? 'active' : undefined}>
              Import CSV
            </a>
          )}
          {isAdmin && FEATURES.admin && (
            <>
              <a href={href('users')} className={route === 'users' ? 'active' : undefined}>
                Users
              </a>
              {may(user.role, 'audit_log', 'select') && (
                <a href={href('audit')} className={route === 'audit' ? 'active' : undefined}>
                  Audit log
                </a>
              )}
            </>
          )}
          <span className="spacer" />
          <a href={href('sessions')} className={route === 'sessions' ? 'active' : undefined}>
            Sessions
          </a>
          {/* a new session for another of the user's tenants: every page starts again from the server */}
          <TenantSwitcher onSwitched={async () => window.location.reload()} onUnauthenticated={onUnauthenticated} />
          <span className="muted" data-testid="whoami">
            {user.email ?? user.displayName ?? user.id} ({user.role})
          </span>
          <button type="button" className="link" onClick={() => void logout()}>
            Log out
          </button>
        </nav>
      }
    >
      {page}
    </Shell>
  );
}

function Shell({ nav, children }: { nav?: ReactNode; children: ReactNode }) {
  return (
    <div className="shell">
      <header className="header">
        <strong className="brand">{APP_NAME}</strong>
        {nav}
      </header>
      <main className="main">{children}</main>
    </div>
  );
}
