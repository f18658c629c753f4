/**
 * What the benchmark asks of its store process (store-process.ts), and how
 * it reads the store's indexes out of `store.status()`.
 */
import type { Filter, SearchMode } from "../../src/store/schemas.js";

/** One index as `status().lance` reports it. */
export interface IndexState {
  name: string;
  type: string;
  indexed_rows: number;
  unindexed_rows: number;
}

/** The store's maintenance as seen from outside, through `status()`. */
export interface Observation {
  /** Rows in the store's Lance table (every version it holds), null before the first write. */
  lanceRows: number | null;
  indexes: IndexState[];
  /**
   * Fragments of the store's table and how many of them Lance counts small,
   * null before the first write. The raw reference is compacted into one
   * before its searches; at 1M the store's 8 fragments (5 small) cost its
   * vector search about 2-3 ms of the gap to raw (25.2 against 23.0 ms p50
   * once compacted into one, raw 19.6). Lance merges only fragments its
   * indexes cover alike, so they stay apart until the first optimize after
   * an ANN retraining, which then merges them all: 310 s at 1M, after the
   * checkpoint's searches unless writes follow the retraining.
   */
  fragments: { all: number; small: number } | null;
  lastOptimize: { at: string; took_ms: number; ok: boolean; ann_training?: string } | null;
  /** Index builds and optimizes under way. */
  running: number;
}

export interface IngestTiming {
  chunks: number;
  ms: number;
  /** Of `ms`: wall time during which the store was embedding (see TimingEmbedder). */
  embedMs: number;
  /** Lance versions the store's table advanced by meanwhile (commits, including maintenance). */
  commits: number;
}

export interface FoldIn {
  /** From the end of the last write until every index covered every row (or until giving up). */
  ms: number;
  done: boolean;
  /** Why waiting stopped. */
  outcome: string;
  observation: Observation;
}

export interface SearchRun {
  queries: string[];
  warmup: string[];
  mode: SearchMode;
  filter?: Filter;
  k: number;
  /** After this long a series stops early, once it has `minQueries` samples; null runs every query. */
  budgetMs: number | null;
  minQueries: number;
}

export interface SearchTimes {
  ms: number[];
  /** chunk_ids found for each query, best first. */
  found: string[][];
}

export interface StoreSnapshot extends Observation {
  chunks: number;
  rssMb: number;
  peakRssMb: number;
  /** What the store's Lance caches and V8's heap hold of that RSS. */
  lanceCacheMb: number;
  jsHeapMb: number;
  /** What the vector table's live indexes take on disk, what the caches are weighed against (Lance counts about twice the files once they are read). */
  liveIndexMb: number | null;
  diskMb: number;
  /** The store's log lines since the previous snapshot, time first. */
  log: string[];
}

export interface StoreProcessApi {
  /** Opens the store; answers how many chunks it already holds (a kept --data-dir). */
  open(arg: { dataDir: string; embedder: string }): Promise<{ chunks: number }>;
  ingestBatches(arg: { from: number; to: number; batch: number }): Promise<IngestTiming>;
  ingestSingles(arg: { from: number; to: number; concurrency: number }): Promise<IngestTiming>;
  observe(arg: null): Promise<Observation>;
  /** Waits, through `settle()` and `status()`, until the store's background maintenance has indexed every row. */
  foldIn(arg: { stallMs: number; timeoutMs: number }): Promise<FoldIn>;
  search(arg: SearchRun): Promise<SearchTimes>;
  snapshot(arg: null): Promise<StoreSnapshot>;
  close(arg: null): Promise<void>;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Every index in `status().lance`, whatever field holds it: today one
 * `index` object for the vector index; a store that reports more indexes
 * (full text, scalar) in other fields or a list is read the same way. An
 * index is anything with numeric `indexed_rows` and `unindexed_rows`.
 */
export function indexesIn(lance: unknown): IndexState[] {
  if (!isObject(lance)) return [];
  const out: IndexState[] = [];
  for (const [key, value] of Object.entries(lance)) {
    for (const entry of Array.isArray(value) ? value : [value]) {
      if (!isObject(entry) || typeof entry.indexed_rows !== "number" || typeof entry.unindexed_rows !== "number") continue;
      out.push({
        name: typeof entry.name === "string" ? entry.name : key,
        type: typeof entry.type === "string" ? entry.type : "unknown",
        indexed_rows: entry.indexed_rows,
        unindexed_rows: entry.unindexed_rows,
      });
    }
  }
  return out;
}
