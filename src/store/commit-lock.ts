/**
 * Serialises Lance commits across every process that writes a store: two
 * writers that MergeInsert the same new key at once both insert it, and an
 * object store that ignores conditional writes loses one of two concurrent
 * commits outright. A holder that dies must release it (the OS or the
 * database does, never a timeout). WriterLock (a SQLite lock on a local
 * file) is one; a backend on a database server holds it there.
 */
export interface CommitLock {
  /** Runs `work` holding the lock; waiting for it never blocks the event loop. */
  run<T>(work: () => Promise<T>): Promise<T>;
  close(): void;
}
