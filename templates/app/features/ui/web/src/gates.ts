import { scopeOf, type Action, type Table } from '../../src/generated/permissions.js';

/**
 * What the page offers a role, from the compiled permission matrix (permissions.yml ->
 * src/generated/permissions.ts, the same map the server's guards read). UX only: a hidden button
 * is a hint, and the server and RLS refuse on their own whatever the page shows.
 */
export function may(role: string | undefined, table: Table, action: Action): boolean {
  return scopeOf(role, table, action) !== 'none';
}

/** May `role` change (update/delete) a row owned by `ownerId`, as user `userId`? */
export function mayChangeRow(role: string | undefined, table: Table, action: Action, ownerId: string | undefined, userId: string): boolean {
  const scope = scopeOf(role, table, action);
  if (scope === 'none') return false;
  // 'own': only the caller's rows; 'tenant' / 'all': any row the caller can see
  return scope !== 'own' || !ownerId || ownerId === userId;
}
