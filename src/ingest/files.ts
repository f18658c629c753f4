import { createHash } from "node:crypto";
import { readFile, readdir, stat } from "node:fs/promises";
import { extname, join, resolve } from "node:path";

/** Extensions a folder walk picks up. A file named explicitly is read whatever its extension, if it is text. */
export const TEXT_EXTENSIONS = new Set([
  ".txt",
  ".text",
  ".md",
  ".markdown",
  ".mdown",
  ".mkd",
  ".mdx",
  ".rst",
  ".adoc",
  ".asciidoc",
  ".org",
  ".tex",
  ".textile",
  ".wiki",
]);

const SKIPPED_DIRS = new Set(["node_modules"]);

export interface FoundFile {
  /** Absolute path: the document id, stable whatever the working directory. */
  path: string;
  explicit: boolean;
}

/**
 * Expands the arguments to files: folders recursively (text extensions
 * only, hidden entries and node_modules skipped), files as given. Missing
 * paths are returned separately so one typo does not stop the rest.
 */
export async function findFiles(args: readonly string[]): Promise<{ files: FoundFile[]; missing: string[] }> {
  const files: FoundFile[] = [];
  const missing: string[] = [];
  const seen = new Set<string>();
  const add = (path: string, explicit: boolean): void => {
    if (seen.has(path)) return;
    seen.add(path);
    files.push({ path, explicit });
  };
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) await walk(path);
      } else if (entry.isFile() && TEXT_EXTENSIONS.has(extname(entry.name).toLowerCase())) {
        add(path, false);
      }
    }
  };
  for (const arg of args) {
    const path = resolve(arg);
    const info = await stat(path).catch(() => null);
    if (!info) missing.push(arg);
    else if (info.isDirectory()) await walk(path);
    else add(path, true);
  }
  return { files, missing };
}

export type ReadResult = { kind: "text"; text: string; sha256: string } | { kind: "binary" };

const SNIFF_BYTES = 8192;

/** Reads a file as UTF-8 text; a NUL byte or invalid UTF-8 marks it binary. */
export async function readTextFile(path: string): Promise<ReadResult> {
  const bytes = await readFile(path);
  if (bytes.subarray(0, SNIFF_BYTES).includes(0)) return { kind: "binary" };
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return { kind: "binary" };
  }
  return { kind: "text", text, sha256: createHash("sha256").update(bytes).digest("hex") };
}
