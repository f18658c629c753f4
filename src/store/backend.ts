import type { CommitLock } from "./commit-lock.js";
import { prepareDataDir } from "./data-dir.js";
import { storageError } from "./fs-errors.js";
import type * as lancedb from "./lance.js";
import { connectLance } from "./lance-connection.js";
import { MetadataDb } from "./metadata.js";
import type { MetadataStore } from "./metadata-store.js";
import { storePaths, type DataPaths } from "./paths.js";
import type { StoreLocation } from "./types.js";
import { WriterLock } from "./writer-lock.js";

/** What a store runs on: where its metadata and commit state live, the lock its Lance commits take, and its Lance database. */
export interface Backend {
  meta: MetadataStore;
  /** Null when this process may only read the store. */
  lock: CommitLock | null;
  connection: lancedb.Connection;
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
 * database (loaded only then), else the data directory's SQLite. Lance
 * tables are at `vectors` when given, else in the data directory.
 */
export async function openBackend(
  location: StoreLocation,
  options: { requireWritable?: boolean; log?: (message: string) => void } = {},
): Promise<Backend> {
  const paths = storePaths(location);
  if (location.database === undefined) return openLocalBackend(paths, options);
  const { openPostgresBackend } = await import("./postgres/backend.js");
  return openPostgresBackend(location.database, paths.lanceDir, options.log ?? (() => undefined));
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
