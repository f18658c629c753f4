import type { CommitLock } from "./commit-lock.js";
import { prepareDataDir } from "./data-dir.js";
import { storageError } from "./fs-errors.js";
import type * as lancedb from "./lance.js";
import { MetadataDb } from "./metadata.js";
import type { MetadataStore } from "./metadata-store.js";
import type { DataPaths } from "./paths.js";
import { openVectorStorage, type VectorStorage } from "./vector-storage.js";
import { vectorsLocation, type VectorsOptions } from "./vectors-location.js";
import { WriterLock } from "./writer-lock.js";

/** What a store runs on: where its metadata and commit state live, the lock its Lance commits take, and its Lance database. */
export interface Backend {
  meta: MetadataStore;
  /** Null when this process may only read the store. */
  lock: CommitLock | null;
  connection: lancedb.Connection;
  /** Where the Lance tables are, and how the object store there answered the start-up probe. */
  storage: VectorStorage;
  /** Why this process may only read the store; null when it may write. */
  readOnlyBecause: string | null;
  /** Closes everything; with `leaveLance`, the Lance connection is left to process exit (a native index build may still hold it). */
  close(options?: { leaveLance?: boolean }): void;
}

/**
 * The embedded backend: SQLite in the data directory, Lance tables in its
 * lance/ folder (or at `vectors`: another directory, or an s3:// prefix),
 * commits serialised by a lock on a file in the data directory. A directory
 * this user may read but not write opens read-only (`requireWritable`
 * refuses that instead, for commands that exist to write).
 */
export async function openLocalBackend(paths: DataPaths, options: { requireWritable?: boolean; vectors?: VectorsOptions } = {}): Promise<Backend> {
  const location = vectorsLocation(options.vectors ?? {}, paths.lanceDir);
  const access = prepareDataDir(paths, location.kind === "directory" ? location.uri : null);
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
    const { storage, connection } = await openVectorStorage(location, { writable: access.writable });
    const lock = access.writable ? new WriterLock(paths.writerLock) : null;
    return {
      meta,
      lock,
      connection,
      storage,
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
