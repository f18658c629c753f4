import type { CommitLock } from "./commit-lock.js";
import type * as lancedb from "./lance.js";
import type { LanceCacheUsage } from "./lance-connection.js";
import type { MetadataStore } from "./metadata-store.js";
import type { VectorStorage } from "./vector-storage.js";

/** What a store runs on: where its metadata and commit state live, the lock its Lance commits take, and its Lance database. */
export interface Backend {
  meta: MetadataStore;
  /** Null when this process may only read the store. */
  lock: CommitLock | null;
  connection: lancedb.Connection;
  /** What the Lance connection's caches hold now. */
  lanceCacheUsage(): LanceCacheUsage;
  /** Where the Lance tables are, and how the object store there answered the start-up probe. */
  storage: VectorStorage;
  /** Why this process may only read the store; null when it may write. */
  readOnlyBecause: string | null;
  /**
   * Null when every process that writes the store maintains it (the
   * embedded store: each compacts after its own commits). For a store that
   * replicas share: whether this replica leads the timed maintenance now,
   * taking the lead when no live replica holds it.
   */
  maintenanceLeader: (() => Promise<boolean>) | null;
  /** Closes everything; with `leaveLance`, the Lance connection is left to process exit (a native index build may still hold it). */
  close(options?: { leaveLance?: boolean }): Promise<void>;
}
