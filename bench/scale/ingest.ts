/**
 * Growing the store and the reference to the next checkpoint, slice by
 * slice: the store process indexes a slice through store.indexMany, then
 * this process embeds the same rows, MergeInserts them into the raw table
 * and folds them into the ground truth (alternating who goes first, so load
 * from other users of the machine falls on both alike). The segment's last
 * rows go into the store as concurrent single-chunk writes.
 */
import type { Embedder } from "../../src/embed/embedder.js";
import { inTurn } from "../store/stats.js";
import { chunkId } from "../store/workload.js";
import type { ScaleData } from "./data.js";
import { log } from "./log.js";
import type { RawReference } from "./raw-reference.js";
import { perSecond, withoutEmbedding, type MaintenanceEvent, type SegmentIngest } from "./results.js";
import type { Remote } from "./rpc.js";
import type { IngestTiming, Observation, StoreProcessApi } from "./store-api.js";
import type { RunningTopK } from "./truth.js";

/** Rows per indexMany call and per raw MergeInsert. */
export const BATCH = 1_000;
/** Rows between turns of store and reference, and between looks at the store's status. */
const SLICE = 10_000;
/** Single-chunk writes per segment (fewer when the segment is small), 64 in flight as many MCP clients would send. */
const SINGLES = 5_000;
export const SINGLES_CONCURRENCY = 64;
/**
 * The reference compacts after this many MergeInserts, as the store
 * optimizes after 50 Lance commits by default: uncompacted, every
 * MergeInsert reads the key column of every small fragment, and in a first
 * run raw inserts fell from 4,154 to 466 chunks/s between 100k and 220k
 * rows. Compaction is timed apart from the MergeInsert rate.
 */
const RAW_COMPACT_EVERY = 50;
const PROGRESS_EVERY_MS = 30_000;

export interface Side {
  store: Remote<StoreProcessApi>;
  raw: RawReference;
  data: ScaleData;
  embedder: Embedder;
  /** Exact top 10 of each query set over the rows ingested so far. */
  truth: { short: RunningTopK; passages: RunningTopK };
}

const zero = (): IngestTiming => ({ chunks: 0, ms: 0, embedMs: 0, commits: 0 });
const add = (a: IngestTiming, b: IngestTiming): IngestTiming => ({ chunks: a.chunks + b.chunks, ms: a.ms + b.ms, embedMs: a.embedMs + b.embedMs, commits: a.commits + b.commits });

interface Totals {
  raw: { chunks: number; ms: number; commits: number; compactMs: number };
  embedding: { chunks: number; ms: number };
}

const noTotals = (): Totals => ({ raw: { chunks: 0, ms: 0, commits: 0, compactMs: 0 }, embedding: { chunks: 0, ms: 0 } });

/**
 * Embeds rows `from`..`to` here, MergeInserts them into the raw table
 * (those from `insertFrom` on: a kept table already holds the others) and
 * adds them to the ground truth.
 */
async function reference(side: Side, from: number, to: number, totals: Totals, insertFrom = from): Promise<void> {
  for (let at = from; at < to; at += BATCH) {
    const end = Math.min(to, at + BATCH);
    const texts = side.data.texts(at, end);
    let started = performance.now();
    const vectors = await side.embedder.embed(texts, { kind: "document" });
    totals.embedding.ms += performance.now() - started;
    totals.embedding.chunks += end - at;
    const flat = new Float32Array(vectors.length * side.raw.dimension);
    vectors.forEach((v, j) => flat.set(v, j * side.raw.dimension));
    if (end > insertFrom) {
      started = performance.now();
      await side.raw.insert(Array.from({ length: end - at }, (_, j) => chunkId(at + j)), texts, flat);
      totals.raw.ms += performance.now() - started;
      totals.raw.chunks += end - at;
      if (++totals.raw.commits % RAW_COMPACT_EVERY === 0) {
        started = performance.now();
        await side.raw.compact();
        totals.raw.compactMs += performance.now() - started;
      }
    }
    for (const truth of Object.values(side.truth)) truth.add(at, flat);
  }
}

/** What changed in the store's maintenance since `before`. */
function changes(before: Observation | null, now: Observation, atChunks: number): MaintenanceEvent[] {
  const events: MaintenanceEvent[] = now.indexes
    .filter((index) => !before?.indexes.some((i) => i.name === index.name))
    .map((index) => ({ kind: "index appeared", atChunks, index }));
  const last = now.lastOptimize;
  if (last && last.at !== before?.lastOptimize?.at) events.push({ kind: "optimize", atChunks, ok: last.ok, tookMs: last.took_ms });
  return events;
}

/**
 * Brings a kept --data-dir's store and raw table to `to` rows without
 * timing anything, and rebuilds the ground truth over them. Writes start a
 * slice before what each side already holds: rows there are left as they
 * are (both writes insert only what is missing), and a run cut short during
 * a segment's concurrent single-chunk writes may have left holes only in
 * its last few thousand rows.
 */
export async function catchUp(side: Side, held: { store: number; raw: number }, to: number): Promise<void> {
  const storeFrom = Math.max(0, held.store - SLICE);
  const rawFrom = Math.max(0, held.raw - SLICE);
  for (let at = 0; at < to; at += SLICE) {
    const end = Math.min(to, at + SLICE);
    if (end > storeFrom) await side.store.call("ingestBatches", { from: Math.max(at, storeFrom), to: end, batch: BATCH });
    await reference(side, at, end, noTotals(), rawFrom);
    log("bench", `catching up with the kept data: ${end.toLocaleString("en-US")} / ${to.toLocaleString("en-US")} rows`);
  }
}

/** Where the run stops to measure: 100k, 300k and 1M when the run is that large, and always at its last chunk. */
export function checkpointsFor(chunks: number): number[] {
  return [...[100_000, 300_000, 1_000_000].filter((c) => c < chunks), chunks];
}

export async function ingestSegment(side: Side, from: number, to: number): Promise<SegmentIngest> {
  const singlesFrom = to - Math.min(SINGLES, Math.floor((to - from) / 4));
  const totals = noTotals();
  let batched = zero();
  const events: MaintenanceEvent[] = [];
  let largestUnindexed = 0;
  let seen: Observation | null = await side.store.call("observe", null);
  const look = async (atChunks: number) => {
    const now = await side.store.call("observe", null);
    events.push(...changes(seen, now, atChunks));
    largestUnindexed = Math.max(largestUnindexed, ...now.indexes.map((i) => i.unindexed_rows));
    seen = now;
  };
  const started = performance.now();
  let lastProgress = started;
  for (let at = from, turn = 0; at < singlesFrom; at += SLICE, turn++) {
    const end = Math.min(singlesFrom, at + SLICE);
    const viaStore = async () => {
      batched = add(batched, await side.store.call("ingestBatches", { from: at, to: end, batch: BATCH }));
    };
    const viaRaw = () => reference(side, at, end, totals);
    await inTurn(turn, viaStore, viaRaw);
    await look(end);
    if (performance.now() - lastProgress > PROGRESS_EVERY_MS) {
      lastProgress = performance.now();
      const done = end - from;
      const eta = ((performance.now() - started) / done) * (to - end);
      log(
        "bench",
        `ingested ${end.toLocaleString("en-US")} / ${to.toLocaleString("en-US")}: store ${Math.round(withoutEmbedding(batched)).toLocaleString("en-US")} chunks/s excl. embedding, ` +
          `raw ${Math.round(perSecond(totals.raw.chunks, totals.raw.ms)).toLocaleString("en-US")} chunks/s; segment done in ~${Math.round(eta / 1000)} s`,
      );
    }
  }
  let singles: IngestTiming | null = null;
  if (singlesFrom < to) {
    log("bench", `${(to - singlesFrom).toLocaleString("en-US")} single-chunk writes, ${SINGLES_CONCURRENCY} in flight`);
    singles = await side.store.call("ingestSingles", { from: singlesFrom, to, concurrency: SINGLES_CONCURRENCY });
    await reference(side, singlesFrom, to, totals);
    await look(to);
  }
  return { from, to, batched, singles, singlesConcurrency: SINGLES_CONCURRENCY, raw: totals.raw, embedding: totals.embedding, events, largestUnindexed, atEnd: seen };
}
