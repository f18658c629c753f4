import type { Backend } from "./backend-contract.js";
import { prepareDataDir } from "./data-dir.js";
import { storageError } from "./fs-errors.js";
import { MetadataDb } from "./metadata.js";
import { dataPaths, type DataPaths } from "./paths.js";
import type { StoreLocation } from "./types.js";
import { openVectorStorage } from "./vector-storage.js";
import { vectorsLocation, type VectorsOptions } from "./vectors-location.js";
import { WriterLock } from "./writer-lock.js";

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
    const { storage, connection, cacheUsage } = await openVectorStorage(location, { writable: access.writable });
    const lock = access.writable ? new WriterLock(paths.writerLock) : null;
    return {
      meta,
      lock,
      connection,
      lanceCacheUsage: cacheUsage,
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
