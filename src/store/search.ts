import { modelKey } from "../embed/embedder.js";
import { cosineSimilarity } from "../embed/vector.js";
import type { StoreCore } from "./core.js";
import { embedChecked } from "./embedding.js";
import { StoreError } from "./errors.js";
import { convexFusion } from "./fusion.js";
import { keywordQuery } from "./lexical.js";
import { lancePredicate } from "./meta-terms.js";
import type { ChunkRow, SearchScope, SnapshotView } from "./metadata-store.js";
import { SearchInput, parseOrThrow, type Metadata } from "./schemas.js";
import { sqlString } from "./sql-literal.js";
import type { SearchHit, SearchResult } from "./types.js";
import type { Hit, VectorTable } from "./vector-table.js";

/** Candidates each retriever contributes to hybrid fusion: deeper lists let fusion rescue what one side ranks low. */
const HYBRID_DEPTH = 50;

/**
 * Fused candidates a reranker re-scores (or k, when larger): a cross-encoder
 * runs the model once per candidate, so its cost grows with this number,
 * while candidates fusion ranks below 20 rarely make a top 5 or 10.
 */
const RERANK_DEPTH = 20;

export interface SearchOptions {
  signal?: AbortSignal;
  /** Only these collections (an access restriction of the caller); undefined: all. */
  collections?: readonly string[];
}

/**
 * A metadata filter that matches at most this share of the table runs as
 * a prefilter inside Lance's searches; a broader one is cheaper applied
 * after them, asking Lance for 1/share times the rows. Measured at 100k
 * rows: a prefilter matching 1% cost a vector search nothing (5 ms p50),
 * one matching 30% cost 2.2x; asking for 3x the rows instead cost 1.2x.
 */
const PREFILTER_MAX_SHARE = 0.1;

/**
 * A filter Lance cannot apply (a range) leaves SQLite to do it, and Lance
 * is asked for more rows in proportion to the share a sample of chunks
 * says it keeps (filter-sample.ts): for a range matching 30% at 1M chunks,
 * 3.3x instead of the fixed 4x asked before, which cost hybrid search 2.03x
 * the unfiltered p95 (bench:scale). With no sample (an empty table) it is
 * this many times; then four times more until enough survive.
 */
const UNKNOWN_FILTER_OVERFETCH = 4;
/** A sample that finds (next to) no match asks for at most this many times the rows at first. */
const MAX_ESTIMATED_OVERFETCH = 16;

/**
 * Rows Lance is asked for beyond those a retriever keeps, for the rows the
 * SQLite join drops (a write not yet committed, a version GC has not
 * removed yet, a deleted chunk): a quarter more plus ten, and four times
 * more in another round when too few survive. Every extra row costs Lance
 * an exact re-rank or a deeper BM25 top-k, and SQLite a lookup; doubling
 * them, as before, cost hybrid search at 1M chunks 23.7 ms p50 against
 * 21.6 ms.
 */
const SPARE_SHARE = 1.25;
const SPARE_ROWS = 10;

/** The rows a retriever first asks Lance for, to keep `want` after the join and a filter that keeps 1/`overfetch` of them. */
export function firstLimit(want: number, overfetch: number): number {
  return Math.ceil((want + SPARE_ROWS) * SPARE_SHARE * overfetch);
}

/**
 * Times a search re-reads a chunk whose committed row another process's
 * GC removed between the snapshot and the vector lookup. Each retry needs
 * another commit of the same chunk inside a few milliseconds; three in a
 * row do not happen outside a test that tries.
 */
const RESOLVE_ATTEMPTS = 3;

interface Candidate {
  chunk: ChunkRow;
  score: number;
}

/**
 * Searches committed chunks (I1) by meaning (`vector`), by words
 * (`keyword`, BM25), or both fused (`hybrid`, the default). Both come
 * from Lance (its vector index and its full-text index), asked at once;
 * their rows are judged against one snapshot of SQLite taken before Lance
 * is asked, so every chunk comes in the version committed at that moment,
 * whatever Lance holds besides (a rewrite's row not yet committed, a row
 * superseded since). Scores: vector = cosine similarity (-1..1); keyword =
 * BM25 (0.., unbounded); hybrid = weighted blend of both, each normalised
 * to 0..1 within the query's candidates (0..1; see fusion.ts).
 */
export async function search(core: StoreCore, input: SearchInput, options: SearchOptions = {}): Promise<SearchResult> {
  core.assertOpen();
  const started = performance.now();
  const q = parseOrThrow(SearchInput, input);
  if (q.collection !== undefined) await assertCollectionExists(core, q.collection, options.collections);
  const scope: SearchScope = { collection: q.collection, collections: options.collections, docId: q.doc_id, filter: q.filter };
  const depth = q.mode === "hybrid" ? Math.max(q.k, HYBRID_DEPTH) : q.k;
  const terms = q.mode === "vector" ? null : keywordQuery(q.query);
  const table = await core.vectorsIfBound();
  const query = table && q.mode !== "keyword" ? await embedQuery(core, table, q.query, options.signal) : null;

  const { keyword, vector } = !table
    ? { keyword: [], vector: [] }
    : await core.reading(() =>
        core.meta.snapshot(async (view) => {
          // Lance must hold every row the snapshot committed: writers record each Lance version before their step 3.
          await core.catchUp(table);
          const plan = await planFilter(table, view, scope);
          const [vectorHits, keywordHits] = await Promise.all([
            query
              ? candidates(core, view, scope, depth, plan, {
                  fetch: (limit) => table.nearest(query, { limit, where: plan.where, ef: core.options.annEf }),
                  rescore: async (rows) => {
                    await core.catchUp(table);
                    return vectorScores(table, query, rows);
                  },
                })
              : [],
            terms
              ? candidates(core, view, scope, depth, plan, {
                  fetch: (limit) => table.keyword(terms, { limit, where: plan.where }),
                  rescore: async (rows) => ({ scores: await table.keywordScores(terms, rows.map((r) => r.generation)), lost: [] }),
                })
              : [],
          ]);
          return { vector: vectorHits, keyword: keywordHits };
        }),
      ).catch((error: unknown) => {
        throw core.storageFailure(error, "reading the vector table", "Nothing was changed.");
      });

  let ranked: Candidate[];
  if (q.mode === "hybrid") {
    const byId = new Map([...keyword, ...vector].map((c) => [c.chunk.chunk_id, c.chunk]));
    const keywordWeight = core.options.keywordWeight;
    ranked = convexFusion([
      { ids: vector.map((c) => c.chunk.chunk_id), scores: vector.map((c) => c.score), weight: 1 - keywordWeight, membershipIsEvidence: false },
      { ids: keyword.map((c) => c.chunk.chunk_id), scores: keyword.map((c) => c.score), weight: keywordWeight, membershipIsEvidence: true },
    ]).map((f) => ({ chunk: byId.get(f.id)!, score: f.score }));
    if (core.reranker) ranked = await rerank(core.reranker, q.query, ranked.slice(0, Math.max(q.k, RERANK_DEPTH)), options.signal);
  } else {
    ranked = q.mode === "vector" ? vector : keyword;
  }
  const max = q.max_chars ?? Number.POSITIVE_INFINITY;
  const results = ranked
    .filter((c) => q.min_score === undefined || c.score >= q.min_score)
    .slice(0, q.k)
    .map(({ chunk, score }): SearchHit => ({
      chunk_id: chunk.chunk_id,
      doc_id: chunk.doc_id,
      collection: chunk.collection,
      score,
      text: chunk.text.length > max ? chunk.text.slice(0, max) : chunk.text,
      metadata: JSON.parse(chunk.metadata) as Metadata,
      truncated: chunk.text.length > max,
    }));
  const reranker = q.mode === "hybrid" && core.options.reranker ? core.options.reranker.name : null;
  return { results, mode: q.mode, model: modelKey(core.info ?? core.options.embedder), reranker, took_ms: performance.now() - started };
}

/** The fused candidates, re-scored by the cross-encoder (0..1) and ordered by that score. */
async function rerank(load: NonNullable<StoreCore["reranker"]>, query: string, candidates: Candidate[], signal?: AbortSignal): Promise<Candidate[]> {
  if (candidates.length === 0) return candidates;
  const reranker = await load.get(signal ? { signal } : {});
  const scores = await reranker.score(query, candidates.map((c) => c.chunk.text), signal);
  return candidates.map((c, i) => ({ chunk: c.chunk, score: scores[i]! })).sort((a, b) => b.score - a.score);
}

/** A misspelt collection would otherwise look like "nothing matches"; say so, with the names that exist. */
async function assertCollectionExists(core: StoreCore, collection: string, visible?: readonly string[]): Promise<void> {
  if (await core.meta.hasCollection(collection)) return;
  // A caller limited to some collections is not told the names of the others.
  const known = (await core.meta.collections(visible ? Number.MAX_SAFE_INTEGER : 21)).filter((c) => !visible || visible.includes(c));
  const empty = visible ? "none of the collections you may search holds chunks" : "the store is empty";
  const list = known.length === 0 ? empty : `existing: ${known.slice(0, 20).join(", ")}${known.length > 20 ? ", ..." : ""}`;
  throw new StoreError("invalid_input", `collection: no chunk is in collection ${JSON.stringify(collection)} (${list}). Omit collection to search all of them.`);
}

async function embedQuery(core: StoreCore, table: VectorTable, query: string, signal?: AbortSignal): Promise<Float32Array> {
  const info = await core.modelInfo(signal);
  await core.assertStillBound(table);
  const [vector] = await embedChecked(core.options.embedder, info, [query], "query", { signal, timeoutMs: core.options.embedTimeoutMs });
  return vector!;
}

interface FilterPlan {
  /** Lance prefilter: the scope, and the metadata filter when it is selective. */
  where: string | null;
  /** How many times `want` rows to ask Lance for first, to leave `want` after SQLite's filtering. */
  overfetch: number;
}

/**
 * Chooses how the scope and filter are applied. Collection and doc_id are
 * always Lance prefilters (bitmap and BTREE indexes). A metadata filter
 * Lance can express is counted from its label index (about a millisecond)
 * and prefiltered when selective, else left to SQLite with a matching
 * over-fetch; one it cannot (a range) is estimated on a sample of chunks.
 * SQLite checks every filter on every candidate either way: Lance's part
 * only narrows what it is shown.
 */
async function planFilter(table: VectorTable, view: SnapshotView, scope: SearchScope): Promise<FilterPlan> {
  const scoped = [
    scope.collection !== undefined ? `collection = ${sqlString(scope.collection)}` : null,
    scope.collections !== undefined ? `collection IN (${scope.collections.map(sqlString).join(", ") || "NULL"})` : null,
    scope.docId !== undefined ? `doc_id = ${sqlString(scope.docId)}` : null,
  ].filter((p): p is string => p !== null);
  const { predicate, exact } = lancePredicate(scope.filter);
  // Lance is shown the rows its prefilter lets through (a selective predicate's share), or all of them.
  let shown = 1;
  let predicateOverfetch = 1;
  if (predicate) {
    const [rows, matching] = await Promise.all([table.countRows(), table.countRows(predicate)]);
    const share = rows === 0 ? 1 : matching / rows;
    if (share <= PREFILTER_MAX_SHARE) {
      scoped.push(`(${predicate})`);
      shown = share;
    } else {
      predicateOverfetch = 1 / share;
    }
  }
  const where = scoped.length > 0 ? scoped.join(" AND ") : null;
  if (exact) return { where, overfetch: predicateOverfetch };
  const sample = await view.sampleFilter(scope.filter!);
  if (sample.sampled === 0) return { where, overfetch: UNKNOWN_FILTER_OVERFETCH * predicateOverfetch };
  // The whole filter keeps matching/sampled of all rows, so that share over `shown` of what Lance returns.
  const overfetch = sample.matching === 0 ? MAX_ESTIMATED_OVERFETCH : (shown * sample.sampled) / sample.matching;
  return { where, overfetch: Math.max(1, Math.min(MAX_ESTIMATED_OVERFETCH, overfetch)) };
}

interface Retriever {
  /** The best `limit` rows by this retriever, best first. */
  fetch(limit: number): Promise<Hit[]>;
  /**
   * Scores of committed versions Lance did not return themselves, by
   * generation; `lost` are rows missing from Lance altogether (collected
   * by another process since the snapshot).
   */
  rescore(rows: readonly ChunkRow[]): Promise<{ scores: Map<number, number>; lost: ChunkRow[] }>;
}

/**
 * One retriever's candidates: Lance rows judged against the snapshot. Rows
 * of deleted, out-of-scope, filtered-out or never-committed chunks do not
 * count, so Lance is asked for more until `want` chunks survive or it runs
 * dry. Each surviving chunk is scored by its committed version: a row of
 * that exact generation as Lance scored it; a chunk found only through
 * another of its rows (a rewrite not yet committed, or a version committed
 * after Lance was read) by its committed row, looked up by generation. So
 * a chunk being rewritten is neither lost nor shown twice.
 */
async function candidates(core: StoreCore, view: SnapshotView, scope: SearchScope, want: number, plan: FilterPlan, retriever: Retriever): Promise<Candidate[]> {
  for (let limit = firstLimit(want, plan.overfetch); ; limit *= 4) {
    const hits = await retriever.fetch(limit);
    const committed = await view.committed(
      hits.map((h) => h.chunkId),
      scope,
    );
    if (committed.length >= want || hits.length < limit) return scoreCommitted(core, hits, committed, scope, want, retriever);
  }
}

async function scoreCommitted(core: StoreCore, hits: readonly Hit[], committedRows: readonly ChunkRow[], scope: SearchScope, want: number, retriever: Retriever): Promise<Candidate[]> {
  const committed = new Map(committedRows.map((c) => [c.chunk_id, c]));
  const found = new Map<string, Candidate>();
  for (const hit of hits) {
    const chunk = committed.get(hit.chunkId);
    if (chunk && chunk.generation === hit.generation && !found.has(chunk.chunk_id)) found.set(chunk.chunk_id, { chunk, score: hit.score });
  }
  let elsewhere = [...committed.values()].filter((c) => !found.has(c.chunk_id));
  for (let attempt = 1; elsewhere.length > 0; attempt++) {
    const { scores, lost } = await retriever.rescore(elsewhere);
    for (const chunk of elsewhere) {
      const score = scores.get(chunk.generation);
      if (score !== undefined) found.set(chunk.chunk_id, { chunk, score });
    }
    if (lost.length === 0 || attempt === RESOLVE_ATTEMPTS) break;
    // GC keeps superseded rows until the searches of this process that began before them have
    // finished; another process's GC does not know them: read those chunks' newer versions.
    elsewhere = await core.meta.committed(
      lost.map((c) => c.chunk_id),
      scope,
    );
  }
  return [...found.values()].sort((a, b) => b.score - a.score).slice(0, want);
}

/** Cosine similarity of the query to these versions' vectors; versions with no row in Lance are lost. */
async function vectorScores(table: VectorTable, query: Float32Array, rows: readonly ChunkRow[]): Promise<{ scores: Map<number, number>; lost: ChunkRow[] }> {
  const vectors = await table.vectorsOf(rows.map((r) => r.generation));
  const scores = new Map<number, number>();
  for (const [generation, vector] of vectors) scores.set(generation, cosineSimilarity(query, vector));
  return { scores, lost: rows.filter((r) => !vectors.has(r.generation)) };
}
