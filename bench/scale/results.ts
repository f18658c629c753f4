/** What the scale benchmark measures at each checkpoint: the input of the report and of the target check. */
import type { Latency } from "../store/stats.js";
import type { FoldIn, IndexState, IngestTiming, Observation } from "./store-api.js";

/** Store searches measured at every checkpoint, in this order. */
export const STORE_SERIES = ["vector", "vector, passages", "keyword", "hybrid", "hybrid + filter 1%", "hybrid + filter 30%"] as const;
export type StoreSeries = (typeof STORE_SERIES)[number];

/** LanceDB's own queries on the reference table. */
export const RAW_SERIES = ["vector", "vector, passages", "full text"] as const;
export type RawSeries = (typeof RAW_SERIES)[number];

export interface SeriesResult {
  latency: Latency;
  queries: number;
  /** Mean results per query (k = 10 unless fewer exist or match). */
  hitsPerQuery: number;
  /** Results outside the series' metadata filter (must be 0). */
  violations: number;
  /** Vector series only: recall@10 against the exact top 10. */
  recall: number | null;
}

/** Something the store's maintenance did during ingest, as status() showed it between slices (`atChunks`: chunks ingested by then). */
export type MaintenanceEvent =
  | { kind: "index appeared"; atChunks: number; index: IndexState }
  | { kind: "optimize"; atChunks: number; ok: boolean; tookMs: number };

export interface SegmentIngest {
  from: number;
  to: number;
  /** store.indexMany in batches: every row of the segment but the single-chunk window. */
  batched: IngestTiming;
  /** Concurrent store.index calls of one chunk each: the segment's last rows. */
  singles: IngestTiming | null;
  singlesConcurrency: number;
  /** Raw LanceDB MergeInsert of the same rows in the same batches, vectors precomputed; compaction every 50 commits timed apart. */
  raw: { chunks: number; ms: number; commits: number; compactMs: number };
  /** The benchmark's own batched embedding of the same rows (for the raw table and the ground truth). */
  embedding: { chunks: number; ms: number };
  events: MaintenanceEvent[];
  /** Largest count of unindexed rows any store index showed between slices. */
  largestUnindexed: number;
  /** The store's indexes right after the segment's last write. */
  atEnd: Observation;
}

export interface CheckpointResult {
  chunks: number;
  /** null when a kept --data-dir already held these chunks (nothing was ingested to reach them). */
  ingest: SegmentIngest | null;
  foldIn: FoldIn;
  raw: { compactMs: number; vectorIndexMs: number; textIndexMs: number; partitions: number; diskMb: number };
  store: Record<StoreSeries, SeriesResult>;
  rawSearch: Record<RawSeries, SeriesResult>;
  indexes: IndexState[];
  memory: { storeRssMb: number; storePeakRssMb: number; storeLanceCacheMb: number; storeJsHeapMb: number; storeLiveIndexMb: number | null; benchPeakRssMb: number };
  storeDiskMb: number;
  /** What the store logged since the previous checkpoint (failed index builds, retries). */
  storeLog: string[];
  /** Wall time from the start of the run until this checkpoint was measured. */
  elapsedMs: number;
}

export const perSecond = (chunks: number, ms: number): number => (ms > 0 ? chunks / (ms / 1000) : Number.NaN);

/** Store chunks/s with the store's own embedding time taken out. */
export const withoutEmbedding = (t: IngestTiming): number => perSecond(t.chunks, t.ms - t.embedMs);
