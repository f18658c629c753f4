import type { Stats } from "node:fs";
import { lstat } from "node:fs/promises";
import { basename, resolve, sep } from "node:path";
import { watch, type FSWatcher } from "chokidar";
import { findFiles, isSkippedEntry } from "../ingest/files.js";
import { fileKind } from "../ingest/formats.js";
import { errorMessage } from "../store/errors.js";
import type { Store } from "../store/store.js";
import type { IngestActivity } from "./activity.js";
import { countSync, syncFiles } from "./sync.js";

export interface WatchOptions {
  /** Folders to keep indexed (absolute or relative to the working directory). */
  folders: readonly string[];
  /** Never looked at, even inside a watched folder: the store's own data directory. */
  exclude?: readonly string[];
  openStore: () => Promise<Store>;
  activity: IngestActivity;
  log: (message: string) => void;
  /** A burst of changes is handled once it has been quiet this long... */
  quietMs?: number;
  /** ...or once its first change is this old, so a folder that never stops changing is still indexed. */
  maxDelayMs?: number;
}

/**
 * Editors save through temporary files and renames, checkouts touch
 * hundreds of files at once: 300 ms of quiet lets such a burst end, and
 * 2 s bounds how long a change waits when writes never pause.
 */
const QUIET_MS = 300;
const MAX_DELAY_MS = 2000;

export interface FolderWatcher {
  /** Stops watching; a batch being ingested stops before its next file (each file is written whole or not at all). */
  close(): Promise<void>;
}

/**
 * Keeps folders indexed while the server runs. Once the watcher is ready,
 * one full pass ingests the folders and prunes documents of files deleted
 * while the server was not running; after that, every change is queued,
 * and each burst is handled in one batch: new and changed files are
 * (re)ingested with the store's atomic replace, deleted ones removed (with
 * the evidence rules of prune: nothing goes while its folder is missing or
 * empty). One batch runs at a time. Progress shows in embedding_status.
 */
export async function watchFolders(options: WatchOptions): Promise<FolderWatcher> {
  const folders = options.folders.map((f) => resolve(f));
  const excluded = (options.exclude ?? []).map((e) => resolve(e));
  const isExcluded = (path: string) => excluded.some((e) => path === e || path.startsWith(e + sep));
  const quietMs = options.quietMs ?? QUIET_MS;
  const maxDelayMs = options.maxDelayMs ?? MAX_DELAY_MS;
  const queue = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  let firstQueuedAt = 0;
  let running: Promise<void> = Promise.resolve();
  let closed = false;
  // Closing stops a long batch (a first pass over thousands of files) before its next file, so shutdown does not wait for it.
  const stopping = new AbortController();
  options.activity.setWatching(folders);

  const schedule = (): void => {
    options.activity.setQueued(queue.size);
    if (closed || queue.size === 0) return;
    if (timer) clearTimeout(timer);
    const wait = Math.max(0, Math.min(quietMs, firstQueuedAt + maxDelayMs - Date.now()));
    timer = setTimeout(() => {
      timer = null;
      running = running.then(runBatch);
    }, wait);
  };
  const enqueue = (path: string): void => {
    if (queue.size === 0) firstQueuedAt = Date.now();
    queue.add(path);
    schedule();
  };

  const runBatch = async (): Promise<void> => {
    const paths = [...queue];
    queue.clear();
    options.activity.setQueued(0);
    if (paths.length === 0 || closed) return;
    await sync(paths, false);
    // Changes that arrived while this batch ran wait for the next.
    schedule();
  };

  /** Ingests what exists among `paths` and removes what is gone; `full` also prunes everything under the folders. */
  const sync = async (paths: readonly string[], full: boolean): Promise<void> => {
    const present: string[] = [];
    const gone: string[] = [];
    for (const path of paths) {
      const exists = await lstat(path).then(
        () => true,
        (error: NodeJS.ErrnoException) => error.code !== "ENOENT" && error.code !== "ENOTDIR",
      );
      (exists ? present : gone).push(path);
    }
    const found = await findFiles(present);
    // Files named by an event are read by their format; a folder walk already picks only known formats.
    found.files = found.files.filter((f) => !isExcluded(f.path) && fileKind(f.path, false) !== null);
    const run = options.activity.start("watch", found.files.length);
    try {
      const store = await options.openStore();
      const result = await syncFiles(store, found, folders, {
        signal: stopping.signal,
        prune: full || gone.length > 0,
        ...(full ? {} : { within: gone }),
        onFile: (_outcome, done) => run.progress(done),
      });
      for (const r of result.pruned?.refused ?? []) options.log(`watch: not removing documents under ${r.root}: ${r.reason}`);
      run.finish(countSync(result));
    } catch (error) {
      if (!closed) options.log(`watch: indexing ${paths.length === 1 ? paths[0] : `${paths.length} changes`} failed: ${errorMessage(error)}`);
      run.finish({ error });
    }
  };

  const watcher: FSWatcher = watch(folders, {
    ignoreInitial: true,
    followSymlinks: false,
    ignored: (path: string, stats?: Stats) => {
      if (folders.includes(path)) return false;
      if (isExcluded(path)) return true;
      if (isSkippedEntry(basename(path), stats?.isDirectory() ?? false)) return true;
      return stats?.isFile() === true && fileKind(path, false) === null;
    },
  });
  for (const event of ["add", "change", "unlink", "addDir", "unlinkDir"] as const) watcher.on(event, (path: string) => enqueue(resolve(path)));
  watcher.on("error", (error: unknown) => options.log(`watch: ${errorMessage(error)}`));
  await new Promise<void>((ready) => watcher.once("ready", () => ready()));
  running = running.then(() => sync(folders, true));

  return {
    async close() {
      closed = true;
      stopping.abort();
      if (timer) clearTimeout(timer);
      await watcher.close();
      await running;
      options.activity.setWatching([]);
    },
  };
}
