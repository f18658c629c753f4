/**
 * Serialises Lance commits across every process that writes a store: two
 * writers that check for the same new generation at once both append it, and an
 * object store that ignores conditional writes loses one of two concurrent
 * commits outright. A holder that dies must release it (the OS or the
 * database does, never a timeout). WriterLock (a SQLite lock on a local
 * file) is one; PostgreSQL's session advisory lock (postgres/locks.ts)
 * another.
 */
export interface CommitLock {
  /** Runs `work` holding the lock; waiting for it never blocks the event loop. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Ends the lock's own connection (a file handle, a database session). */
  close(): Promise<void>;
}

/**
 * One holder at a time inside this process, in call order: a commit lock's
 * callers queue here before they contend with other processes, so one
 * connection never stacks its own locks.
 */
export class TurnQueue {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(work: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise((resolve) => (release = resolve));
    await previous;
    try {
      return await work();
    } finally {
      release();
    }
  }

  /** Settles once every turn queued so far has ended. */
  idle(): Promise<void> {
    return this.tail;
  }
}
