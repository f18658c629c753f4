import { StoreError } from "./errors.js";

/** What the file system refused, whichever layer (Node, SQLite, Lance) reported it. */
export type StorageFault = "disk_full" | "permission_denied" | "read_only";

/**
 * Each layer words the same fault its own way: Node has errno codes,
 * SQLite its result codes, Lance (Rust) "No space left on device (os
 * error 28)" deep inside a chain of causes. Matched on code and message.
 */
const FAULTS: { fault: StorageFault; pattern: RegExp }[] = [
  { fault: "disk_full", pattern: /\bENOSPC\b|\bEDQUOT\b|SQLITE_FULL|No space left on device|Disk quota exceeded|database or disk is full|os error (28|122)\b/i },
  { fault: "read_only", pattern: /\bEROFS\b|Read-only file system|os error 30\b/i },
  { fault: "permission_denied", pattern: /\bEACCES\b|\bEPERM\b|SQLITE_READONLY|Permission denied|attempt to write a readonly database|Operation not permitted|os error (1|13)\b/i },
];

const DESCRIPTION: Record<StorageFault, string> = {
  disk_full: "no space left on the device",
  read_only: "the file system is mounted read-only",
  permission_denied: "permission denied",
};

/** The storage fault behind an error or any of its causes, or null when it is something else. */
export function storageFault(error: unknown): StorageFault | null {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    const text = `${typeof code === "string" ? code : ""} ${e.message}`;
    const found = FAULTS.find((f) => f.pattern.test(text));
    if (found) return found.fault;
  }
  return null;
}

/** Who this process runs as, for messages about permissions. */
export function currentUser(): string {
  return typeof process.getuid === "function" ? `uid ${process.getuid()}` : "this user";
}

/**
 * The error to report for a storage fault met while doing `action` in the
 * data directory `dir`, saying what happened to the data (`outcome`) and
 * what to do; null when `error` is not a storage fault.
 */
export function storageError(error: unknown, dir: string, action: string, outcome: string): StoreError | null {
  const fault = storageFault(error);
  if (!fault) return null;
  const what = `${action[0]!.toUpperCase()}${action.slice(1)} in the data directory ${dir} failed: ${DESCRIPTION[fault]}. ${outcome}`;
  const todo: Record<StorageFault, string> = {
    disk_full:
      "Free space on that disk (or move the data directory to a larger one and point --data-dir at it); writes resume by themselves once there is room, and searches keep working meanwhile.",
    read_only: "Remount it read-write or use a data directory on a writable disk (--data-dir); searches and status work read-only.",
    permission_denied: `Run as the user who owns the directory, give ${currentUser()} access to it and to the files in it (chmod, chown), or use another --data-dir.`,
  };
  return new StoreError(fault, `${what} ${todo[fault]}`, { cause: error });
}
