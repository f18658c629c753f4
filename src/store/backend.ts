import type { CommitLock } from "./commit-lock.js";
import { prepareDataDir } from "./data-dir.js";
import { storageError } from "./fs-errors.js";
import type * as lancedb from "./lance.js";
import { MetadataDb } from "./metadata.js";
import type { MetadataStore } from "./metadata-store.js";
import { dataPaths, type DataPaths } from "./paths.js";
import type { StoreLocation } from "./types.js";
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

/**
 * The backend a store's location asks for: PostgreSQL when it names a
 * database (its driver loaded only then), else the data directory's
 * SQLite. Lance tables are at `vectors` when given (a directory or an
 * s3:// prefix), else in the data directory's lance/ folder.
 */
export async function openBackend(location: StoreLocation, options: { requireWritable?: boolean; log?: (message: string) => void } = {}): Promise<Backend> {
  const paths = dataPaths(location.dataDir);
  if (location.database === undefined) return openLocalBackend(paths, { vectors: location, ...(options.requireWritable ? { requireWritable: true } : {}) });
  const { openPostgresBackend } = await import("./postgres/backend.js");
  return openPostgresBackend(location.database, vectorsLocation(location, paths.lanceDir), options.log ?? (() => undefined));
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
      maintenanceLeader: null,
      async close({ leaveLance = false } = {}) {
        if (!leaveLance) connection.close();
        await lock?.close();
        await meta.close();
      },
    };
  } catch (error) {
    await meta.close();
    throw error;
  }
}
