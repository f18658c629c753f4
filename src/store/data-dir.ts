import { accessSync, constants, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { StoreError } from "./errors.js";
import { currentUser, storageError } from "./fs-errors.js";
import type { DataPaths } from "./paths.js";

export interface DataDirAccess {
  writable: boolean;
  /** Why the store can only be read, for messages; null when writable. */
  readOnlyBecause: string | null;
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function notADirectory(root: string, culprit: string): StoreError {
  const where = culprit === root ? `${root} is a file, not a directory` : `${culprit}, a parent of ${root}, is a file, not a directory`;
  return new StoreError(
    "data_dir_invalid",
    `The data directory cannot be used: ${where}. Point --data-dir (or RETRIEVAL_MCP_DATA_DIR) at a directory, which is created if missing, or move the file out of the way.`,
  );
}

/** The nearest existing ancestor that is not a directory, to name in the message. */
function fileAmongAncestors(path: string): string {
  for (let p = path; p !== dirname(p); p = dirname(p)) {
    if (existsSync(p) && !statSync(p).isDirectory()) return p;
  }
  return path;
}

function canWrite(path: string): string | null {
  try {
    accessSync(path, constants.W_OK);
    return null;
  } catch (error) {
    return errnoCode(error) === "EROFS" ? `${path} is on a read-only file system` : `${currentUser()} may not write ${path}`;
  }
}

/**
 * Checks the data directory before the store opens it, so file-system
 * trouble is reported in words with the path rather than as a raw errno
 * from whichever library met it first: a file where the directory should
 * be, a directory this user cannot read, or one it cannot create. A store
 * this user may read but not write (another user's, or on a read-only
 * mount) opens read-only; a new store needs write access. `vectorsDir` is
 * the directory of the Lance tables, created here too; null when they are
 * on object storage.
 */
export function prepareDataDir(paths: DataPaths, vectorsDir: string | null): DataDirAccess {
  const { root } = paths;
  const readable = (path: string) => {
    try {
      accessSync(path, path === root ? constants.R_OK | constants.X_OK : constants.R_OK);
    } catch (error) {
      throw storageError(error, root, "reading the store", "Nothing was read or written.") ?? error;
    }
  };
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(root, { throwIfNoEntry: false });
  } catch (error) {
    if (errnoCode(error) === "ENOTDIR") throw notADirectory(root, fileAmongAncestors(root));
    throw storageError(error, root, "reading the store", "Nothing was read or written.") ?? error;
  }
  if (stats && !stats.isDirectory()) throw notADirectory(root, root);
  if (stats) readable(root);
  const storeExists = existsSync(paths.metadataDb);
  if (storeExists) {
    readable(paths.metadataDb);
    const readOnlyBecause = [root, paths.metadataDb, vectorsDir].filter((p): p is string => p !== null && existsSync(p)).map(canWrite).find((reason) => reason !== null) ?? null;
    if (readOnlyBecause) return { writable: false, readOnlyBecause };
  }
  try {
    mkdirSync(vectorsDir ?? root, { recursive: true });
  } catch (error) {
    if (errnoCode(error) === "ENOTDIR" || errnoCode(error) === "EEXIST") throw notADirectory(root, fileAmongAncestors(vectorsDir ?? root));
    throw storageError(error, root, storeExists ? "opening the store" : "creating a new store", "Nothing was written.") ?? error;
  }
  return { writable: true, readOnlyBecause: null };
}

/** SQLite's file format version bytes (offsets 18 and 19): 2 means WAL, 1 the rollback journal. */
const FORMAT_VERSION_OFFSETS = [18, 19];

/**
 * Opens an SQLite database for reading only. A WAL database needs its -shm
 * file to be read, and SQLite must create it when no other process has the
 * database open, which a user without write access to the directory cannot
 * ("attempt to write a readonly database"). Then the database, which a
 * clean close leaves whole in its main file, is read into memory and opened
 * from there, a snapshot as of this moment; a database with an unfinished
 * write-ahead log cannot be read that way and is refused with the fix.
 */
export function openReadOnlyDatabase(path: string): Database.Database {
  let db: Database.Database | null = null;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.prepare("SELECT 1 FROM sqlite_master LIMIT 1").get();
    return db;
  } catch (error) {
    db?.close();
    // Anything else is not about access; what is, the attempt to read the file below names.
    if (!/^SQLITE_(READONLY|CANTOPEN)/.test(errnoCode(error) ?? "")) throw error;
  }
  const wal = `${path}-wal`;
  if (existsSync(wal) && statSync(wal).size > 0) {
    throw new StoreError(
      "permission_denied",
      `${path} has recent writes in ${wal} that only a process allowed to write the directory ${dirname(path)} can read. ` +
        `Open the store once as a user who may write it (any command, e.g. \`retrieval-mcp status\`) and try again.`,
    );
  }
  let image: Buffer;
  try {
    image = readFileSync(path);
  } catch (error) {
    throw storageError(error, dirname(path), "reading the store", "Nothing was read or written.") ?? error;
  }
  // An in-memory copy cannot use WAL; the rest of the format is the same.
  for (const offset of FORMAT_VERSION_OFFSETS) image[offset] = 1;
  return new Database(image, { readonly: true });
}
