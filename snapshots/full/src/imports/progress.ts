import type { ImportProgress } from './csv-import.js';

/**
 * The progress of running imports, for the page that uploads them: the page names its import with a
 * random id (`?progress=<uuid>` on the upload) and polls GET /api/imports/progress/:id while the
 * server reads the file. Entries are kept per user (another user's id finds nothing), in memory of
 * this process (behind several instances a poll may find nothing: the page then shows the upload
 * only), bounded in number and forgotten a minute after the import ends.
 */
export type ProgressState = ImportProgress | { phase: 'done'; rows: number };

const KEEP_MS = 60_000;
const MAX_ENTRIES = 10_000;

export class ImportProgressBoard {
  private readonly entries = new Map<string, { state: ProgressState; expires: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  private key(userId: string, id: string): string {
    return `${userId}/${id}`;
  }

  set(userId: string, id: string, state: ProgressState): void {
    this.sweep();
    const key = this.key(userId, id);
    // a full board takes no new import (its page shows the upload only); running ones keep reporting
    if (!this.entries.has(key) && this.entries.size >= MAX_ENTRIES) return;
    // a running import is kept until it ends; an ended one a minute more, for the page's last poll
    this.entries.set(key, { state, expires: state.phase === 'done' ? this.now() + KEEP_MS : Number.POSITIVE_INFINITY });
  }

  /** Ends an import's entry (finished or failed): kept a minute for the last poll. */
  end(userId: string, id: string, rows: number): void {
    const key = this.key(userId, id);
    if (this.entries.has(key)) this.entries.set(key, { state: { phase: 'done', rows }, expires: this.now() + KEEP_MS });
  }

  get(userId: string, id: string): ProgressState | undefined {
    this.sweep();
    return this.entries.get(this.key(userId, id))?.state;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expires <= now) this.entries.delete(key);
  }
}
