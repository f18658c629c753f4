import type * as lancedb from "@lancedb/lancedb";
import { firstLimit } from "../../src/store/search.js";
import type { Store } from "../../src/store/store.js";
import type { ExactScan } from "./exact.js";
import { search, type RawSearch } from "./raw-lance.js";
import { inTurn, latency, type Latency } from "./stats.js";
import { rowOf, type Workload } from "./workload.js";

export const K = 10;

export interface SearchRow {
  rows: number;
  index: string;
  queries: number;
  store: Latency;
  raw: Latency;
  scan: Latency;
  storeRecall: number;
  rawRecall: number;
}

export interface SweepRow {
  settings: RawSearch;
  /** One entry per query set, in the order given. */
  sets: { recall: number; latency: Latency }[];
}

type Truth = { rows: number[]; scores: number[] };

/** Exact top-k of each query vector, computed at most once per query and table size. */
export class GroundTruth {
  private readonly cache = new Map<number, Truth>();

  constructor(
    readonly scan: ExactScan,
    readonly queries: readonly Float32Array[],
  ) {}

  get(query: number): Truth {
    let truth = this.cache.get(query);
    if (!truth) this.cache.set(query, (truth = this.scan.topK(this.queries[query]!, K)));
    return truth;
  }

  recall(query: number, rows: readonly number[]): number {
    return this.scan.recall(this.queries[query]!, this.get(query), rows);
  }
}

/**
 * What Store.search in `vector` mode asks of Lance for k results:
 * firstLimit(k) rows (spare rows for hits the SQLite join drops),
 * refineFactor 1 (those rows re-ranked by exact distance),
 * ef = max(annEf, limit), `dot` before the ANN index exists and `cosine`
 * after. The raw reference repeats exactly this query, so the
 * ratio between the two is the store's overhead.
 */
export function storeQuery(indexed: boolean, annEf: number): RawSearch {
  const limit = firstLimit(K, 1);
  return { distance: indexed ? "cosine" : "dot", limit, ef: Math.max(annEf, limit), refine: 1 };
}

async function embedQuery(w: Workload, text: string): Promise<Float32Array> {
  return (await w.embedder.embed([text], { kind: "query" }))[0]!;
}

/**
 * Sequential queries, one at a time: store.search against the same query
 * sent to Lance directly and against an exact scan in JS. All three embed
 * the query text inside the timed span, so the comparison is like for like.
 * Store and raw alternate who goes first so neither always meets the warmer
 * cache.
 */
export async function measureSearch(w: Workload, store: Store, table: lancedb.Table, truth: GroundTruth, queries: number, annEf: number): Promise<SearchRow> {
  const indexed = (await table.listIndices()).some((i) => i.columns.includes("vector"));
  const settings = storeQuery(indexed, annEf);
  for (const q of w.warmup) {
    await store.search({ query: q, k: K, mode: "vector" });
    await search(table, await embedQuery(w, q), settings);
  }
  const storeMs: number[] = [];
  const rawMs: number[] = [];
  const scanMs: number[] = [];
  let storeRecall = 0;
  let rawRecall = 0;
  for (let i = 0; i < queries; i++) {
    const text = w.queries[i]!;
    const viaStore = async () => {
      const started = performance.now();
      const found = await store.search({ query: text, k: K, mode: "vector" });
      storeMs.push(performance.now() - started);
      storeRecall += truth.recall(i, found.results.map((r) => rowOf(r.chunk_id)));
    };
    const viaRaw = async () => {
      const started = performance.now();
      const hits = await search(table, await embedQuery(w, text), settings);
      rawMs.push(performance.now() - started);
      rawRecall += truth.recall(i, hits.slice(0, K).map((h) => rowOf(h.chunkId)));
    };
    await inTurn(i, viaStore, viaRaw);
    const started = performance.now();
    truth.scan.topK(await embedQuery(w, text), K);
    scanMs.push(performance.now() - started);
  }
  return {
    rows: truth.scan.rows,
    index: indexed ? "IVF_HNSW_SQ" : "none (flat)",
    queries,
    store: latency(storeMs),
    raw: latency(rawMs),
    scan: latency(scanMs),
    storeRecall: storeRecall / queries,
    rawRecall: rawRecall / queries,
  };
}

/**
 * Recall@k and latency of the ANN index for each query setting and query
 * set, on raw Lance, keeping the top k of what each setting returns. Query
 * vectors are embedded beforehand: here only the settings are compared.
 */
export async function sweep(table: lancedb.Table, sets: readonly GroundTruth[], settings: readonly RawSearch[]): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  for (const s of settings) {
    const perSet: SweepRow["sets"] = [];
    for (const truth of sets) {
      for (const q of truth.queries.slice(0, 5)) await search(table, q, s);
      const ms: number[] = [];
      let recall = 0;
      for (let i = 0; i < truth.queries.length; i++) {
        const started = performance.now();
        const hits = await search(table, truth.queries[i]!, s);
        ms.push(performance.now() - started);
        recall += truth.recall(i, hits.slice(0, K).map((h) => rowOf(h.chunkId)));
      }
      perSet.push({ recall: recall / truth.queries.length, latency: latency(ms) });
    }
    rows.push({ settings: s, sets: perSet });
  }
  return rows;
}

/** Limit k, each ef with each refineFactor; Lance refuses an ef below limit * refineFactor, so such pairs are raised and kept once. */
export function grid(efs: readonly number[], refines: readonly (number | null)[]): RawSearch[] {
  const out: RawSearch[] = [];
  for (const ef of efs) {
    for (const refine of refines) {
      const s: RawSearch = { distance: "cosine", limit: K, ef: Math.max(ef, K * (refine ?? 1)), refine };
      if (!out.some((o) => o.ef === s.ef && o.refine === s.refine)) out.push(s);
    }
  }
  return out;
}
