/**
 * Memoises an expensive asynchronous load (a dynamic import, dictionaries built once) so every caller
 * shares one promise. A failed load is not kept: the callers of that attempt see the failure (a
 * password check or passkey ceremony fails closed) and the next call tries again, so one transient
 * error does not disable the feature until a restart.
 */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    if (pending) return pending;
    const loading = load();
    pending = loading;
    loading.catch(() => {
      if (pending === loading) pending = undefined;
    });
    return loading;
  };
}
