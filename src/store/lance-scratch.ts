import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { processAlive } from "../process-alive.js";

/**
 * LanceDB 0.31 (its Lance is 8.0) leaves every ANN index build's shuffle
 * files behind: the build makes a temporary directory and lets go of it
 * before the shuffle writes there, the writer creates it again, and nothing
 * removes it (a `.tmpXXXXXX` directory in the OS temp directory, holding
 * shuffle_data.lance and shuffle_offsets.lance; later Lance fixed it). A
 * build over 300,000 rows left about 110 MB, the retraining at 1M rows 369
 * MB, and a server retrains as its table grows.
 *
 * Lance asks the environment for the temp directory each time it makes one,
 * so this process points TMPDIR at a directory of its own, named for its
 * pid, for Lance and for everything else in the process and its children.
 * Shuffle directories in it are removed once no Lance work that can shuffle
 * is running in the process (`scratchDuring`); the directory itself when
 * the process exits, or, if it was killed, when the next process starts.
 * A directory whose process is alive is never touched: its build may be
 * reading its shuffle files.
 */
const PREFIX = "retrieval-mcp-lance-";
const OURS = new RegExp(`^${PREFIX}(\\d+)-`);

/** Removes the scratch directories under `base` of processes no longer alive; another user's stay (not ours to remove). */
function removeAbandoned(base: string): void {
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(OURS.exec(name)?.[1]);
    if (!pid || processAlive(pid)) continue;
    try {
      rmSync(join(base, name), { recursive: true, force: true });
    } catch {
      // Disk, not data: the next start tries again.
    }
  }
}

let scratch: string | null = null;

/**
 * The temp directory this process's scratch directory sits in: the one it
 * started with. For files other users must reach, which the scratch
 * directory (mode 0700, as mkdtemp makes it) would hide.
 */
export function sharedTempDir(): string {
  const current = tmpdir();
  return OURS.test(basename(current)) ? dirname(current) : current;
}

/**
 * Gives this process its scratch directory and points the temp directory
 * at it; call before LanceDB loads (lance-env.ts). A child of another store
 * process inherits that one's directory as its TMPDIR, so its own goes
 * beside it, not inside. Where the temp directory takes no new directory,
 * nothing changes: Lance then fails its builds with its own error, which
 * names the directory.
 */
export function claimScratchDir(): void {
  const base = sharedTempDir();
  removeAbandoned(base);
  let dir: string;
  try {
    dir = mkdtempSync(join(base, `${PREFIX}${process.pid}-`));
  } catch {
    return;
  }
  scratch = process.env.TMPDIR = dir;
  // Windows reads these instead.
  if (process.platform === "win32") process.env.TEMP = process.env.TMP = dir;
  process.once("exit", () => {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // The next process to start removes it.
    }
  });
}

/** A directory all of whose entries are a shuffle's files: what a build leaves behind. */
async function isShuffle(dir: string): Promise<boolean> {
  const names = await readdir(dir).catch(() => []);
  return names.length > 0 && names.every((name) => name.startsWith("shuffle_"));
}

let running = 0;

/**
 * Runs Lance work that can shuffle (an index build, an optimize folding
 * rows into the vector index); when no other such work of this process is
 * running, removes the shuffle directories left in its scratch directory.
 */
export async function scratchDuring<T>(work: () => Promise<T>): Promise<T> {
  running++;
  try {
    return await work();
  } finally {
    if (--running === 0 && scratch) await removeShuffles(scratch);
  }
}

async function removeShuffles(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    // A failure costs disk, not data, and the exit removes the directory anyway.
    if (entry.isDirectory() && (await isShuffle(path))) await rm(path, { recursive: true, force: true }).catch(() => undefined);
  }
}
