/**
 * Everything measured once the store and the reference hold a checkpoint's
 * chunks: the store's fold-in wait, the reference's index builds, search
 * latency of every store mode next to LanceDB's own queries, recall of the
 * vector searches against the exact top 10, memory and disk.
 */
import type { SearchMode } from "../../src/store/schemas.js";
import { annPartitions, DEFAULT_ANN_EF } from "../../src/store/vector-table.js";
import { ExactScan } from "../store/exact.js";
import { K, storeQuery } from "../store/search.js";
import { diskMb, latency, peakRssMb, timed } from "../store/stats.js";
import { rowOf } from "../store/workload.js";
import { FILTERS, type FilterCase, type QuerySets } from "./data.js";
import type { Side } from "./ingest.js";
import { log } from "./log.js";
import type { CheckpointResult, RawSeries, SegmentIngest, SeriesResult, StoreSeries } from "./results.js";
import { meanRecall } from "./truth.js";

/** Queries per latency series; vector series run every query of their set, for recall. */
const LATENCY_QUERIES = 100;
/** A series stops early after this long once it has MIN_QUERIES samples: at 1M a filtered hybrid search took seconds each (issue 9). */
const SERIES_BUDGET_MS = 150_000;
const MIN_QUERIES = 30;
/** A store whose maintenance shows no change for this long after settle() is reported as not folding in, not waited on forever. */
const FOLD_STALL_MS = 120_000;
const FOLD_TIMEOUT_MS = 60 * 60_000;

export interface Context extends Side {
  dimension: number;
  queries: QuerySets;
  queryVectors: { short: Float32Array[]; passages: Float32Array[] };
  rawDir: string;
  startedAt: number;
}

interface StoreSeriesSpec {
  mode: SearchMode;
  set: "short" | "passages";
  filter?: FilterCase;
  /** Every query of the set (vector series: recall wants them all), or the first LATENCY_QUERIES. */
  all: boolean;
}

const STORE_SPECS: Record<StoreSeries, StoreSeriesSpec> = {
  vector: { mode: "vector", set: "short", all: true },
  "vector, passages": { mode: "vector", set: "passages", all: true },
  keyword: { mode: "keyword", set: "short", all: false },
  hybrid: { mode: "hybrid", set: "short", all: false },
  "hybrid + filter 1%": { mode: "hybrid", set: "short", filter: FILTERS[0], all: false },
  "hybrid + filter 30%": { mode: "hybrid", set: "short", filter: FILTERS[1], all: false },
};

/** Exact scores of found rows: their vectors embedded again here (the embedder is deterministic), scored as the ground truth scores. */
async function scorer(ctx: Context, vectors: readonly Float32Array[], found: readonly (readonly number[])[]): Promise<(query: number, row: number) => number> {
  const rows = [...new Set(found.flat())];
  const matrix = new Float32Array(rows.length * ctx.dimension);
  for (let i = 0; i < rows.length; i += 1000) {
    const batch = await ctx.embedder.embed(rows.slice(i, i + 1000).map((r) => ctx.data.text(r)), { kind: "document" });
    batch.forEach((v, j) => matrix.set(v, (i + j) * ctx.dimension));
  }
  const scan = new ExactScan(matrix, ctx.dimension, rows.length);
  const at = new Map(rows.map((r, i) => [r, i]));
  return (query, row) => scan.score(vectors[query]!, at.get(row)!);
}

async function summarise(ctx: Context, ms: number[], found: number[][], set: "short" | "passages" | null, filter?: FilterCase): Promise<SeriesResult> {
  let recall: number | null = null;
  if (set) {
    const truth = ctx.truth[set];
    const vectors = ctx.queryVectors[set];
    recall = meanRecall(Array.from({ length: found.length }, (_, q) => truth.truth(q)), found, await scorer(ctx, vectors, found));
  }
  const hits = found.reduce((n, f) => n + f.length, 0);
  return {
    latency: latency(ms),
    queries: ms.length,
    hitsPerQuery: hits / Math.max(1, found.length),
    violations: filter ? found.flat().filter((row) => !filter.matches(row)).length : 0,
    recall,
  };
}

async function storeSeries(ctx: Context, name: StoreSeries): Promise<SeriesResult> {
  const spec = STORE_SPECS[name];
  const queries = ctx.queries[spec.set].slice(0, spec.all ? undefined : LATENCY_QUERIES);
  const { ms, found } = await ctx.store.call("search", {
    queries,
    warmup: ctx.queries.warmup,
    mode: spec.mode,
    ...(spec.filter ? { filter: spec.filter.filter } : {}),
    k: K,
    budgetMs: spec.all ? null : SERIES_BUDGET_MS,
    minQueries: MIN_QUERIES,
  });
  const rows = found.map((ids) => ids.map(rowOf));
  return summarise(ctx, ms, rows, spec.mode === "vector" ? spec.set : null, spec.filter);
}

/** One LanceDB query per text, timed with its query embedding, as store searches are. */
async function rawSeries(ctx: Context, name: RawSeries): Promise<SeriesResult> {
  const set = name === "vector, passages" ? "passages" : "short";
  const texts = name === "full text" ? ctx.queries.short.slice(0, LATENCY_QUERIES) : ctx.queries[set];
  const settings = storeQuery(true, DEFAULT_ANN_EF);
  const ask = async (text: string): Promise<number[]> => {
    if (name === "full text") return (await ctx.raw.textSearch(text, K)).map(rowOf);
    const [vector] = await ctx.embedder.embed([text], { kind: "query" });
    return (await ctx.raw.vectorSearch(vector!, settings)).slice(0, K).map((h) => rowOf(h.chunkId));
  };
  for (const text of ctx.queries.warmup) await ask(text);
  const ms: number[] = [];
  const found: number[][] = [];
  const started = performance.now();
  for (const text of texts) {
    if (name === "full text" && ms.length >= MIN_QUERIES && performance.now() - started > SERIES_BUDGET_MS) break;
    const t0 = performance.now();
    found.push(await ask(text));
    ms.push(performance.now() - t0);
  }
  return summarise(ctx, ms, found, name === "full text" ? null : set);
}

export async function measureCheckpoint(ctx: Context, chunks: number, ingest: SegmentIngest | null): Promise<CheckpointResult> {
  const n = chunks.toLocaleString("en-US");
  log("bench", `${n} chunks: waiting for the store's maintenance to fold the new rows into its indexes`);
  const foldIn = await ctx.store.call("foldIn", { stallMs: FOLD_STALL_MS, timeoutMs: FOLD_TIMEOUT_MS });
  log("bench", `${n} chunks: fold-in ${foldIn.done ? "done" : "NOT done"} after ${(foldIn.ms / 1000).toFixed(1)} s (${foldIn.outcome})`);

  const compact = await timed(() => ctx.raw.compact());
  log("bench", `${n} chunks: raw table compacted in ${(compact.ms / 1000).toFixed(1)} s; building its vector index`);
  const vectorIndex = await timed(() => ctx.raw.buildVectorIndex(chunks));
  log("bench", `${n} chunks: raw vector index in ${(vectorIndex.ms / 1000).toFixed(1)} s; building its full-text index`);
  const textIndex = await timed(() => ctx.raw.buildTextIndex());
  log("bench", `${n} chunks: raw full-text index in ${(textIndex.ms / 1000).toFixed(1)} s; searching`);

  // Store and reference take turns, series by series, so a burst of load from elsewhere does not fall on one side only.
  const store = {} as Record<StoreSeries, SeriesResult>;
  const rawSearch = {} as Record<RawSeries, SeriesResult>;
  const order: ([StoreSeries, null] | [null, RawSeries])[] = [
    ["vector", null],
    [null, "vector"],
    ["vector, passages", null],
    [null, "vector, passages"],
    ["keyword", null],
    [null, "full text"],
    ["hybrid", null],
    ["hybrid + filter 1%", null],
    ["hybrid + filter 30%", null],
  ];
  for (const [storeName, rawName] of order) {
    if (storeName) store[storeName] = await storeSeries(ctx, storeName);
    else rawSearch[rawName!] = await rawSeries(ctx, rawName!);
    const r = storeName ? store[storeName] : rawSearch[rawName!];
    log("bench", `${n} chunks: ${storeName ? `store ${storeName}` : `raw LanceDB ${rawName}`}: p50 ${r.latency.p50.toFixed(1)} ms, p95 ${r.latency.p95.toFixed(1)} ms over ${r.queries} queries`);
  }

  const rawDiskMb = diskMb(ctx.rawDir);
  await ctx.raw.dropSearchIndexes();
  const snapshot = await ctx.store.call("snapshot", null);
  return {
    chunks,
    ingest,
    foldIn,
    raw: { compactMs: compact.ms, vectorIndexMs: vectorIndex.ms, textIndexMs: textIndex.ms, partitions: annPartitions(chunks), diskMb: rawDiskMb },
    store,
    rawSearch,
    indexes: snapshot.indexes,
    memory: {
      storeRssMb: snapshot.rssMb,
      storePeakRssMb: snapshot.peakRssMb,
      storeLanceCacheMb: snapshot.lanceCacheMb,
      storeJsHeapMb: snapshot.jsHeapMb,
      storeLiveIndexMb: snapshot.liveIndexMb,
      benchPeakRssMb: peakRssMb(),
    },
    storeDiskMb: snapshot.diskMb,
    storeLog: snapshot.log,
    elapsedMs: performance.now() - ctx.startedAt,
  };
}
