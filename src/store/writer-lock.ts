import Database from "better-sqlite3";
import { TurnQueue, type CommitLock } from "./commit-lock.js";

const RETRY_MIN_MS = 2;
const RETRY_MAX_MS = 10;

/**
 * Serialises Lance writers across processes (and across stores in one
 * process). LanceDB has no cross-process lock, and two processes that
 * check for the same new generation at once both append it. The lock is SQLite's
 * RESERVED lock on a file that holds no data: the OS drops it when the
 * holder dies, even on kill -9, so a crashed writer never wedges the store.
 *
 * Waiting is asynchronous (busy_timeout 0 plus our own back-off) so a
 * server keeps answering reads while another process writes.
 */
export class WriterLock implements CommitLock {
  private readonly db: Database.Database;
  private readonly turns = new TurnQueue();

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma("busy_timeout = 0");
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    return this.turns.run(async () => {
      await this.acquire();
      try {
        return await work();
      } finally {
        this.db.exec("ROLLBACK");
      }
    });
  }

  private async acquire(): Promise<void> {
    let wait = RETRY_MIN_MS;
    for (;;) {
      try {
        this.db.exec("BEGIN IMMEDIATE");
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== "SQLITE_BUSY") throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(RETRY_MAX_MS, wait * 2);
    }
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
