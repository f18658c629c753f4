import { modelKey } from "../embed/embedder.js";
import { cosineSimilarity } from "../embed/vector.js";
import type { StoreCore } from "./core.js";
import { embedChecked } from "./embedding.js";
import { StoreError } from "./errors.js";
import { convexFusion } from "./fusion.js";
import { matchExpression } from "./lexical.js";
import type { ChunkRow, SearchScope, SnapshotView } from "./metadata.js";
import { SearchInput, parseOrThrow, type Metadata } from "./schemas.js";
import { sqlString } from "./sql-literal.js";
import type { SearchHit, SearchResult } from "./types.js";
import type { VectorHit, VectorTable } from "./vector-table.js";

/** Candidates each retriever contributes to hybrid fusion: deeper lists let fusion rescue what one side ranks low. */
const HYBRID_DEPTH = 50;

/**
 * Times a search re-reads a chunk whose committed version was superseded
 * (and its Lance row collected) between the read and the vector lookup.
 * Each retry needs another commit of the same chunk inside a few
 * milliseconds; three in a row do not happen outside a test that tries.
 */
const RESOLVE_ATTEMPTS = 3;

interface Candidate {
  chunk: ChunkRow;
  score: number;
}

/**
 * Searches committed chunks (I1) by meaning (`vector`), by words
 * (`keyword`, BM25), or both fused (`hybrid`, the default). A search reads
 * SQLite in one snapshot taken before it asks Lance: every chunk comes in
 * the version committed at that moment, whatever Lance holds besides (a
 * rewrite's row not yet committed, a row superseded since). Scores: vector
 * = cosine similarity (-1..1); keyword = BM25 (0.., unbounded); hybrid =
 * weighted blend of both, each normalised to 0..1 within the query's
 * candidates (0..1; see fusion.ts).
 */
export async function search(core: StoreCore, input: SearchInput, options: { signal?: AbortSignal } = {}): Promise<SearchResult> {
  core.assertOpen();
  const started = performance.now();
  const q = parseOrThrow(SearchInput, input);
  if (q.collection !== undefined) await assertCollectionExists(core, q.collection);
  const scope: SearchScope = { collection: q.collection, docId: q.doc_id, filter: q.filter };
  const depth = q.mode === "hybrid" ? Math.max(q.k, HYBRID_DEPTH) : q.k;
  const match = q.mode === "vector" ? null : matchExpression(q.query);
  const query = q.mode === "keyword" ? null : await embedQuery(core, q.query, options.signal);

  const { keyword, vector } = await core.reading(() =>
    core.meta.snapshot(async (view) => {
      const keywordHits = match ? await view.keyword(match, scope, depth) : [];
      const vectorHits = query ? await nearest(core, view, query, scope, depth) : [];
      return { keyword: keywordHits.map((chunk) => ({ chunk, score: chunk.score })), vector: vectorHits };
    }),
  );

  let ranked: Candidate[];
  if (q.mode === "hybrid") {
    const byId = new Map([...keyword, ...vector].map((c) => [c.chunk.chunk_id, c.chunk]));
    const keywordWeight = core.options.keywordWeight;
    ranked = convexFusion([
      { ids: vector.map((c) => c.chunk.chunk_id), scores: vector.map((c) => c.score), weight: 1 - keywordWeight },
      { ids: keyword.map((c) => c.chunk.chunk_id), scores: keyword.map((c) => c.score), weight: keywordWeight },
    ]).map((f) => ({ chunk: byId.get(f.id)!, score: f.score }));
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
  return { results, mode: q.mode, model: modelKey(core.info ?? core.options.embedder), took_ms: performance.now() - started };
}

/** A misspelt collection would otherwise look like "nothing matches"; say so, with the names that exist. */
async function assertCollectionExists(core: StoreCore, collection: string): Promise<void> {
  if (await core.meta.hasCollection(collection)) return;
  const known = await core.meta.collections(21);
  const list = known.length === 0 ? "the store is empty" : `existing: ${known.slice(0, 20).join(", ")}${known.length > 20 ? ", ..." : ""}`;
  throw new StoreError("invalid_input", `collection: no chunk is in collection ${JSON.stringify(collection)} (${list}). Omit collection to search all of them.`);
}

interface QueryVector {
  table: VectorTable;
  vector: Float32Array;
}

/** The query's vector, or null for a store with no vectors yet. */
async function embedQuery(core: StoreCore, query: string, signal?: AbortSignal): Promise<QueryVector | null> {
  const table = await core.vectorsIfBound();
  if (!table) return null;
  const info = await core.modelInfo(signal);
  await core.assertStillBound(table);
  const [vector] = await embedChecked(core.options.embedder, info, [query], "query", { signal, timeoutMs: core.options.embedTimeoutMs });
  return { table, vector: vector! };
}

/**
 * Nearest rows from Lance, judged against the snapshot: rows of deleted,
 * filtered-out or never-committed chunks do not count, so Lance is asked
 * for more until `want` chunks survive or it runs dry. Then each surviving
 * chunk is scored by its committed version (see scoreCommitted).
 */
async function nearest(core: StoreCore, view: SnapshotView, query: QueryVector, scope: SearchScope, want: number): Promise<Candidate[]> {
  const { table } = query;
  // Lance must hold at least every row the snapshot committed: writers record each Lance version before their step 3.
  await core.catchUp(table);
  const where = [
    scope.collection !== undefined ? `collection = ${sqlString(scope.collection)}` : null,
    scope.docId !== undefined ? `doc_id = ${sqlString(scope.docId)}` : null,
  ]
    .filter(Boolean)
    .join(" AND ");
  for (let limit = want * 2 + 10; ; limit *= 4) {
    const hits = await table.search(query.vector, limit, where || null, core.options.annEf);
    const committed = await view.committed(
      hits.map((h) => h.chunkId),
      scope,
    );
    if (committed.length >= want || hits.length < limit) return scoreCommitted(core, query, hits, committed, scope, want);
  }
}

/**
 * Scores each chunk the Lance rows point at by its committed version. A
 * row of that exact generation scores as Lance measured it. A chunk found
 * only through another of its rows (a rewrite not yet committed, or a
 * version committed after Lance was read) is scored on its committed row's
 * vector, looked up by generation: so a chunk being rewritten is neither
 * lost nor shown twice. GC keeps superseded rows until the searches that
 * began before them have finished; a row another process collected
 * meanwhile sends that chunk to its newer version.
 */
async function scoreCommitted(core: StoreCore, query: QueryVector, hits: readonly VectorHit[], committedRows: readonly ChunkRow[], scope: SearchScope, want: number): Promise<Candidate[]> {
  const committed = new Map(committedRows.map((c) => [c.chunk_id, c]));
  const found = new Map<string, Candidate>();
  for (const hit of hits) {
    const chunk = committed.get(hit.chunkId);
    if (chunk && chunk.generation === hit.generation && !found.has(chunk.chunk_id)) found.set(chunk.chunk_id, { chunk, score: 1 - hit.distance });
  }
  let elsewhere = [...committed.values()].filter((c) => !found.has(c.chunk_id));
  for (let attempt = 1; elsewhere.length > 0; attempt++) {
    const vectors = await query.table.vectorsOf(elsewhere.map((c) => c.generation));
    for (const chunk of elsewhere) {
      const vector = vectors.get(chunk.generation);
      if (vector) found.set(chunk.chunk_id, { chunk, score: cosineSimilarity(query.vector, vector) });
    }
    const lost = elsewhere.filter((c) => !vectors.has(c.generation));
    if (lost.length === 0 || attempt === RESOLVE_ATTEMPTS) break;
    await core.catchUp(query.table);
    elsewhere = await core.meta.committed(
      lost.map((c) => c.chunk_id),
      scope,
    );
  }
  return [...found.values()].sort((a, b) => b.score - a.score).slice(0, want);
}
