import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileKind } from "./formats.js";

const SKIPPED_DIRS = new Set(["node_modules"]);

export interface FoundFile {
  /** Absolute path: the document id, stable whatever the working directory. */
  path: string;
  explicit: boolean;
}

export interface FoundFiles {
  files: FoundFile[];
  /** Arguments that do not exist. */
  missing: string[];
  /** Arguments that could not be looked at, and folders (arguments or inside them) that could not be listed. */
  unreadable: string[];
  /** The arguments that are folders and were listed, as absolute paths. */
  folders: string[];
}

/** Hidden entries and dependency folders are never walked into or watched. */
export function isSkippedEntry(name: string, isDirectory: boolean): boolean {
  return name.startsWith(".") || (isDirectory && SKIPPED_DIRS.has(name));
}

/**
 * Expands the arguments to files: folders recursively (the formats of
 * formats.ts only, hidden entries and node_modules skipped, symbolic links
 * not followed), files as given. Missing paths and unreadable folders are
 * returned separately so one typo or locked folder does not stop the rest.
 */
export async function findFiles(args: readonly string[]): Promise<FoundFiles> {
  const found: FoundFiles = { files: [], missing: [], unreadable: [], folders: [] };
  const seen = new Set<string>();
  const add = (path: string, explicit: boolean): void => {
    if (seen.has(path)) return;
    seen.add(path);
    found.files.push({ path, explicit });
  };
  const walk = async (dir: string): Promise<boolean> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => null);
    if (!entries) {
      found.unreadable.push(dir);
      return false;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (isSkippedEntry(entry.name, entry.isDirectory())) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && fileKind(path, false)) add(path, false);
    }
    return true;
  };
  for (const arg of args) {
    const path = resolve(arg);
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => (error.code === "ENOENT" || error.code === "ENOTDIR" ? null : error));
    if (info === null) found.missing.push(arg);
    else if (info instanceof Error) found.unreadable.push(path);
    else if (info.isDirectory()) {
      if (await walk(path)) found.folders.push(path);
    } else add(path, true);
  }
  return found;
}
