import type { CommitLock } from "./commit-lock.js";
import { prepareDataDir } from "./data-dir.js";
import { storageError } from "./fs-errors.js";
import type * as lancedb from "./lance.js";
import { connectLance } from "./lance-connection.js";
import { MetadataDb } from "./metadata.js";
import type { MetadataStore } from "./metadata-store.js";
import type { DataPaths } from "./paths.js";
import { WriterLock } from "./writer-lock.js";

/** What a store runs on: where its metadata and commit state live, the lock its Lance commits take, and its Lance database. */
export interface Backend {
  meta: MetadataStore;
  /** Null when this process may only read the store. */
  lock: CommitLock | null;
  connection: lancedb.Connection;
  /** Why this process may only read the store; null when it may write. */
  readOnlyBecause: string | null;
  /** Closes everything; with `leaveLance`, the Lance connection is left to process exit (a native index build may still hold it). */
  close(options?: { leaveLance?: boolean }): void;
}

/**
 * The embedded backend: SQLite in the data directory, Lance tables in its
 * lance/ folder, commits serialised by a lock on a file there. A directory
 * this user may read but not write opens read-only (`requireWritable`
 * refuses that instead, for commands that exist to write).
 */
export async function openLocalBackend(paths: DataPaths, options: { requireWritable?: boolean } = {}): Promise<Backend> {
  const access = prepareDataDir(paths);
  if (options.requireWritable && !access.writable) {
    throw storageError(Object.assign(new Error(access.readOnlyBecause ?? "read-only"), { code: "EACCES" }), paths.root, "opening the store for writing", "Nothing was written.")!;
  }
  let meta: MetadataDb;
  try {
    meta = new MetadataDb(paths.metadataDb, { readOnly: !access.writable });
  } catch (error) {
    throw storageError(error, paths.root, "opening the store", "Nothing was written.") ?? error;
  }
  try {
    const connection = await connectLance(paths.lanceDir);
    const lock = access.writable ? new WriterLock(paths.writerLock) : null;
    return {
      meta,
      lock,
      connection,
      readOnlyBecause: access.readOnlyBecause,
      close({ leaveLance = false } = {}) {
        if (!leaveLance) connection.close();
        lock?.close();
        meta.close();
      },
    };
  } catch (error) {
    meta.close();
    throw error;
  }
}
