import type { Embedder } from "../embed/embedder.js";
import type { Reranker } from "../embed/reranker.js";
import type { ModelLoadReport } from "./model-load.js";
import type { RecordStatus } from "./metadata-store.js";
import type { Metadata, SearchMode } from "./schemas.js";
import type { VectorTableStats } from "./vector-table.js";
import type { ConditionalPutReport } from "./object-store-probe.js";
import type { VectorsOptions } from "./vectors-location.js";
import type { WatchedWork } from "./watchdog.js";

/**
 * Points where tests inject faults (throw, or kill the process) to prove
 * crash safety. `duringCommit` runs inside the step-3 transaction, so it must
 * be synchronous; throwing there rolls step 3 back.
 */
export interface FaultHooks {
  afterPending?: () => void | Promise<void>;
  /** Step 2's Lance write is done and the commit lock still held: a process killed here must not block the others. */
  insideCommitLock?: () => void | Promise<void>;
  afterLanceWrite?: () => void | Promise<void>;
  duringCommit?: () => void;
  betweenGcDeletes?: () => void | Promise<void>;
  /** A background ANN build is about to read the table. */
  beforeIndexBuild?: () => void | Promise<void>;
}

/** Where a store lives. */
export interface StoreLocation extends VectorsOptions {
  /** The data directory: the SQLite store and, unless `vectors` says otherwise, its Lance tables; with `database`, only local files (model downloads). */
  dataDir: string;
  /** A postgres:// URL: metadata and commit state in PostgreSQL, shared by replicas, instead of the data directory's SQLite. */
  database?: string;
}

export interface StoreOptions extends StoreLocation {
  embedder: Embedder;
  /** Run GC, recovery and Lance maintenance on timers (default true). Tests turn it off to drive them by hand. */
  background?: boolean;
  gcIntervalMs?: number;
  /** A pending record older than this is presumed abandoned (its writer crashed) and re-driven. */
  recoveryIntervalMs?: number;
  reconcileIntervalMs?: number;
  /** Chunks a reconcile lists from each side at a time (see verify.ts). */
  reconcileSliceChunks?: number;
  embedTimeoutMs?: number;
  /** Lance commits after which `optimize()` compacts and prunes versions. */
  optimizeAfterCommits?: number;
  /** ...or once no write has been committed for this long after some were. */
  optimizeWhenQuietMs?: number;
  /** Old Lance versions are kept this long for readers in other processes. */
  keepVersionsMs?: number;
  /** What Lance's caches may hold beyond twice the table's live index files before an optimize renews them (see cachesWantRenewal). */
  cacheRenewalFloorBytes?: number;
  /** Rows from which an ANN index is built and kept up to date. */
  annMinRows?: number;
  /** How long writes must have paused before a due retraining of the ANN index starts (see maintenance.ts). */
  annRetrainQuietMs?: number;
  annEf?: number;
  maxRowsPerCommit?: number;
  /** How long a request waits for the model to load before it is told the model is still loading (default 30 s). */
  modelWaitMs?: number;
  /** Keyword (BM25) share of hybrid scores, 0..1; the vector side gets the rest. */
  keywordWeight?: number;
  /** A cross-encoder that re-scores the top hybrid candidates (off when absent). */
  reranker?: Reranker;
  /** An optimize running longer is reported as stuck and no longer waited for. */
  optimizeLimitMs?: number;
  /** Likewise for a background ANN index build. */
  indexBuildLimitMs?: number;
  /** Likewise for the keyword index refresh a write to a small table makes before it commits. */
  writeFoldLimitMs?: number;
  faults?: FaultHooks;
  /** Problems are warnings; progress (a slow model load) is info. */
  log?: (message: string, level: "info" | "warning") => void;
}

export type IndexStatus = "committed" | "pending" | "unchanged";

export interface WriteOptions {
  /** Wait for the vectors to be committed (default). `false` returns after step 1. */
  wait?: boolean;
  /** Cancels embedding; once step 1 has run the write completes regardless. */
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface IndexResult {
  chunk_id: string;
  status: IndexStatus;
  generation: number;
  content_hash: string;
}

export interface SearchHit {
  chunk_id: string;
  doc_id: string | null;
  collection: string;
  score: number;
  text: string;
  metadata: Metadata;
  /** True when `text` was cut to `max_chars`. */
  truncated: boolean;
}

export interface SearchResult {
  results: SearchHit[];
  mode: SearchMode;
  model: string;
  /** The cross-encoder that re-scored these hits (hybrid mode with a reranker), or null. */
  reranker: string | null;
  took_ms: number;
}

export interface DeleteResult {
  deleted: number;
  chunk_ids: string[];
  pending_gc: number;
}

/** A rewrite of a chunk that is not committed yet: its committed version is what search serves meanwhile. */
export interface PendingVersion {
  generation: number;
  content_hash: string;
  updated_at: string;
}

/**
 * A chunk as search serves it: its committed version, with the write in
 * flight alongside when there is one; before its first commit, the
 * pending version itself (status `pending`).
 */
export interface ChunkView {
  chunk_id: string;
  collection: string;
  doc_id: string | null;
  text: string;
  metadata: Metadata;
  content_hash: string;
  status: "committed" | "pending";
  generation: number;
  created_at: string;
  updated_at: string;
  pending: PendingVersion | null;
}

export interface RunReport {
  at: string;
  took_ms: number;
  ok: boolean;
  error?: string;
  [detail: string]: unknown;
}

export interface StatusReport {
  counts: { pending: number; committed: number; tombstone: number };
  chunks: number;
  /** Chunks being rewritten: a write is pending while their committed version keeps being served. */
  rewrites_in_flight: number;
  /** Chunks whose superseded Lance rows GC has not removed yet (never served). */
  superseded_awaiting_gc: number;
  oldest_pending_age_ms: number | null;
  tombstones_awaiting_gc: number;
  oldest_tombstone_age_ms: number | null;
  model: { provider: string; name: string; dimension: number | null; distance: string | null; bound: boolean; load: ModelLoadReport };
  lance: null | (VectorTableStats & { index_coverage: number | null });
  last_recovery: RunReport | null;
  last_gc: RunReport | null;
  last_optimize: RunReport | null;
  /** Index builds and optimizes running now; `stuck` once past their time limit (the store has stopped waiting for them). */
  maintenance_running: WatchedWork[];
  /** A re-embedding with another model in progress (`retrieval-mcp reindex`), or null. */
  reindex: null | { target: string; table: string; done: number; total: number; started_at: string };
  data_dir: string;
  /** The PostgreSQL database holding the metadata (`--database`, password hidden), or null for SQLite in the data directory. */
  database: string | null;
  /** Where the Lance tables are (a directory or an s3:// prefix) and what the start-up probe found about conditional PUTs there. */
  vectors: { uri: string } & ConditionalPutReport;
  chunk_states?: {
    chunk_id: string;
    /** Of the chunk's newest write. */
    status: RecordStatus | "missing";
    generation: number | null;
    vector_committed: boolean;
    /** The version search serves; null before the first commit. */
    committed_generation: number | null;
  }[];
}

export interface VerifyProblem {
  kind: string;
  count: number;
  sample: string[];
}

export interface VerifyReport {
  ok: boolean;
  checked: { records: number; lance_rows: number };
  problems: VerifyProblem[];
  repaired: boolean;
}
