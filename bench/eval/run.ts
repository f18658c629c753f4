import type { SearchMode } from "../../src/store/schemas.js";
import type { Store } from "../../src/store/store.js";
import type { EvalCollection, EvalQuery } from "./collection.js";
import { meanMetrics, scoreRanking, type QueryMetrics } from "./metrics.js";

/** The store takes at most this many chunks per indexMany call. */
const BATCH = 1000;

export interface IndexReport {
  ms: number;
  embedded: number;
  unchanged: number;
}

/**
 * One chunk per document, its id the document id, through the store's
 * ordinary write path. A store that already holds the collection answers
 * `unchanged` without embedding again, which is what makes --data-dir reuse cheap.
 */
export async function indexCollection(store: Store, collection: EvalCollection, progress: (done: number, total: number) => void): Promise<IndexReport> {
  const started = performance.now();
  let unchanged = 0;
  const total = collection.documents.length;
  for (let i = 0; i < total; i += BATCH) {
    const batch = collection.documents.slice(i, i + BATCH).map((d) => ({ chunk_id: d.id, doc_id: d.id, collection: collection.name, text: d.text }));
    const results = await store.indexMany(batch);
    unchanged += results.filter((r) => r.status === "unchanged").length;
    progress(Math.min(i + BATCH, total), total);
  }
  // Queried once the writes are folded into the indexes, as a running server does within seconds of a burst.
  await store.optimize();
  await store.settle();
  return { ms: performance.now() - started, embedded: total - unchanged, unchanged };
}

export interface RunResult {
  label: string;
  mean: QueryMetrics;
  /** In the order of the queries evaluated. */
  perQuery: QueryMetrics[];
  meanMs: number;
}

/**
 * Runs every query once, one at a time so latency is that of a lone
 * query. The first query is run once untimed beforehand: model loading and
 * cold caches are start-up cost, not query cost.
 */
export async function runQueries(label: string, collection: EvalCollection, queries: readonly EvalQuery[], k: number, search: (query: string) => Promise<string[]>): Promise<RunResult> {
  await search(queries[0]!.text);
  const perQuery: QueryMetrics[] = [];
  let totalMs = 0;
  for (const query of queries) {
    const started = performance.now();
    const ranked = await search(query.text);
    totalMs += performance.now() - started;
    perQuery.push(scoreRanking(ranked, collection.qrels.get(query.id)!, k));
  }
  return { label, mean: meanMetrics(perQuery), perQuery, meanMs: totalMs / queries.length };
}

export function storeSearch(store: Store, mode: SearchMode, k: number): (query: string) => Promise<string[]> {
  return async (query) => (await store.search({ query, k, mode })).results.map((hit) => hit.chunk_id);
}
