import type { FoundFiles } from "../ingest/files.js";
import { ingestFiles, type FileOutcome, type IngestOptions } from "../ingest/ingest.js";
import { DEFAULT_COLLECTION } from "../store/paths.js";
import type { Store } from "../store/store.js";
import { pruneDeleted, type PruneReport } from "./prune.js";

export interface SyncOptions extends Omit<IngestOptions, "collection"> {
  collection?: string;
  /** Also remove documents whose files under the roots are gone. */
  prune?: boolean;
  /** With prune: only documents at or under these paths (the deletions a watcher saw). */
  within?: readonly string[];
}

export interface SyncResult {
  outcomes: FileOutcome[];
  /** null without `prune`. */
  pruned: PruneReport | null;
}

export interface SyncCounts {
  indexed: number;
  unchanged: number;
  skipped: number;
  failed: number;
  /** Documents removed because their files are gone. */
  pruned: number;
  chunks_written: number;
  /** Chunks of replaced files and of pruned documents. */
  chunks_removed: number;
}

/**
 * Brings the store in step with files found under `roots`: ingests them,
 * then, with `prune`, removes documents whose files were deleted. The one
 * path the CLI, the ingest_files tool and the folder watcher share.
 */
export async function syncFiles(store: Store, found: FoundFiles, roots: readonly string[], options: SyncOptions = {}): Promise<SyncResult> {
  const collection = options.collection ?? DEFAULT_COLLECTION;
  const outcomes = found.files.length === 0 ? [] : await ingestFiles(store, found.files, { ...options, collection });
  const pruned = options.prune ? await pruneDeleted(store, roots, { collection, ...(options.within ? { within: options.within } : {}) }) : null;
  // Replaced files leave superseded vectors, removed chunks tombstones: collect them now rather than leave it to a later process.
  if (outcomes.some((o) => o.written > 0 || o.removed > 0) || (pruned?.removed.length ?? 0) > 0) await store.gc();
  return { outcomes, pruned };
}

export function countSync(result: SyncResult): SyncCounts {
  const count = (status: FileOutcome["status"]) => result.outcomes.filter((o) => o.status === status).length;
  const prunedChunks = result.pruned?.removed.reduce((n, d) => n + d.chunks, 0) ?? 0;
  return {
    indexed: count("indexed"),
    unchanged: count("unchanged"),
    skipped: count("skipped"),
    failed: count("failed"),
    pruned: result.pruned?.removed.length ?? 0,
    chunks_written: result.outcomes.reduce((n, o) => n + o.written, 0),
    chunks_removed: result.outcomes.reduce((n, o) => n + o.removed, 0) + prunedChunks,
  };
}
