import { lstat, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, normalize, resolve, sep } from "node:path";
import { StoreError } from "../store/errors.js";

/** A folder the operator allowed agents to ingest from, as given and with its symbolic links resolved. */
export interface AllowedFolder {
  path: string;
  real: string;
}

/** Resolves and checks the folders of --allow-ingest: each must exist and be a folder. */
export async function allowedFolders(dirs: readonly string[]): Promise<AllowedFolder[]> {
  const folders: AllowedFolder[] = [];
  for (const dir of dirs) {
    const path = resolve(dir);
    const info = await stat(path).catch(() => null);
    if (!info?.isDirectory()) throw new Error(`${dir} is not a folder${info ? "" : " (it does not exist)"}`);
    folders.push({ path, real: await realpath(path) });
  }
  return folders;
}

function inside(path: string, folder: string): boolean {
  return path === folder || path.startsWith(folder.endsWith(sep) ? folder : folder + sep);
}

/**
 * The absolute path an agent's `requested` path names, if it lies inside
 * one of the allowed folders; otherwise an error that says why and what to
 * give instead. Refused: any `..` segment (even one that would land
 * inside: a path must read as what it is), absolute paths outside the
 * folders, and paths whose symbolic links lead outside them. A relative
 * path is looked up in each folder in turn. A path that does not exist is
 * returned as it is; the ingest reports it as not found.
 */
export async function confine(folders: readonly AllowedFolder[], requested: string, field: string): Promise<string> {
  const allowed = folders.map((f) => f.path).join(", ");
  if (requested.trim() === "" || requested.includes("\0")) throw new StoreError("invalid_input", `${field}: give a file or folder path inside ${allowed}`);
  if (requested.split(/[\\/]/).includes("..")) {
    throw new StoreError("invalid_input", `${field}: ".." is not allowed in ${JSON.stringify(requested)}; name the file or folder by its path inside ${allowed}`);
  }
  let path: string;
  if (isAbsolute(requested)) {
    path = normalize(requested);
    if (!folders.some((f) => inside(path, f.path) || inside(path, f.real))) {
      throw new StoreError("invalid_input", `${field}: ${requested} is outside the folders this server may ingest from (${allowed})`);
    }
  } else {
    const candidates = folders.map((f) => join(f.path, requested));
    path = (await firstExisting(candidates)) ?? candidates[0]!;
  }
  const real = await realpath(path).catch(() => null);
  if (real !== null && !folders.some((f) => inside(real, f.real))) {
    throw new StoreError("invalid_input", `${field}: ${requested} leads through a symbolic link to ${real}, outside the folders this server may ingest from (${allowed})`);
  }
  return path;
}

async function firstExisting(paths: readonly string[]): Promise<string | null> {
  for (const path of paths) if (await lstat(path).then(() => true, () => false)) return path;
  return null;
}
