/** A piece of native Lance work the store is waiting for: an index build or an optimize. */
export interface WatchedWork {
  kind: string;
  started_at: string;
  running_ms: number;
  /** Running past its time limit: reported, no longer waited for. */
  stuck: boolean;
}

interface Entry {
  kind: string;
  started: number;
  limitMs: number;
  /** Logged as maybe stuck: its end is logged too. */
  late: boolean;
}

/**
 * Native work that can hang (on a 2-core machine LanceDB's default thread
 * pool never finished a full-text index over 50,000 rows) must not hang the
 * store with it. Each piece of work is waited for up to its limit; past
 * it, the caller moves on, the work is reported as stuck in status and the
 * log, and it is left to finish (or not) on its own: Lance commits are
 * atomic, so a build that completes late lands whole.
 */
export class Watchdog {
  private readonly running = new Set<Entry>();

  constructor(private readonly log: (message: string) => void) {}

  /** Resolves with the work's result, or with `undefined` once it has run past `limitMs`. */
  async watch<T>(kind: string, limitMs: number, work: () => Promise<T>): Promise<T | undefined> {
    const entry: Entry = { kind, started: Date.now(), limitMs, late: false };
    this.running.add(entry);
    const done = work().finally(() => {
      this.running.delete(entry);
      // Decided by the stuck line, not by the clock again: work ending in the very millisecond of its limit
      // was reported stuck and never reported finished (seen in CI with a 20 ms limit).
      if (entry.late) this.log(`${kind} finished after ${Math.round((Date.now() - entry.started) / 1000)} s, past its limit of ${Math.round(limitMs / 1000)} s`);
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => {
        entry.late = true;
        this.log(
          `${kind} has been running for ${Math.round(limitMs / 1000)} s and may be stuck; the store goes on without waiting for it. ` +
            `If it never finishes, check LANCE_CPU_THREADS (now ${process.env.LANCE_CPU_THREADS ?? "unset"}): with a single thread LanceDB's full-text index build deadlocks; the store sets 8 unless told otherwise.`,
        );
        resolve(undefined);
      }, limitMs);
      timer.unref();
    });
    try {
      return await Promise.race([done, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** What is running now, for status. */
  report(): WatchedWork[] {
    const now = Date.now();
    return [...this.running].map((e) => ({ kind: e.kind, started_at: new Date(e.started).toISOString(), running_ms: now - e.started, stuck: now - e.started >= e.limitMs }));
  }
}
