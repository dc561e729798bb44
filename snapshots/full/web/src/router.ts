import { useEffect, useState } from 'react';

/**
 * Hash routing (`/#/records`): the server serves the SPA only at `/` and at the paths e-mailed links
 * open (`/reset-password#token=...`, `/invitation#token=...`, `/verify-email#token=...`), so no other
 * path needs to be public.
 */
export type Route =
  | 'login' | 'signup' | 'forgot-password' | 'records' | 'users' | 'audit' | 'import' | 'sessions' | 'reset-password' | 'invitation'
  | 'verify-email' | 'not-found';

const ROUTES: readonly Route[] = ['login', 'signup', 'forgot-password', 'records', 'users', 'audit', 'import', 'sessions'];

export function currentRoute(): Route | undefined {
  if (window.location.pathname === '/reset-password') return 'reset-password';
  if (window.location.pathname === '/invitation') return 'invitation';
  if (window.location.pathname === '/verify-email') return 'verify-email';
  // any other path reached the SPA through the server's 404 (src/routes/public/ui.ts)
  if (window.location.pathname !== '/') return 'not-found';
  const name = window.location.hash.replace(/^#\/?/, '').split(/[?/]/)[0] ?? '';
  if (!name) return undefined;
  return (ROUTES as readonly string[]).includes(name) ? (name as Route) : 'not-found';
}

export function navigate(route: Route): void {
  if (window.location.pathname !== '/') {
    window.history.replaceState(null, '', `/#/${route}`);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    return;
  }
  window.location.hash = `#/${route}`;
}

export function useRoute(): Route | undefined {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    window.addEventListener('hashchange', update);
    window.addEventListener('popstate', update);
    return () => {
      window.removeEventListener('hashchange', update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return route;
}

export function href(route: Route): string {
  return `/#/${route}`;
}
