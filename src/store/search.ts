import { modelKey } from "../embed/embedder.js";
import type { StoreCore } from "./core.js";
import { embedChecked } from "./embedding.js";
import { StoreError } from "./errors.js";
import { convexFusion } from "./fusion.js";
import { matchExpression } from "./lexical.js";
import type { LiveChunk, SearchScope } from "./metadata.js";
import { SearchInput, parseOrThrow, type Metadata } from "./schemas.js";
import { sqlString } from "./sql-literal.js";
import type { SearchHit, SearchResult } from "./types.js";

/** Candidates each retriever contributes to hybrid fusion: deeper lists let fusion rescue what one side ranks low. */
const HYBRID_DEPTH = 50;

const noop = (): void => undefined;

interface Candidate {
  chunk: LiveChunk;
  score: number;
}

/**
 * Searches committed chunks (I1) by meaning (`vector`), by words
 * (`keyword`, BM25), or both fused (`hybrid`, the default). Scores:
 * vector = cosine similarity (-1..1); keyword = BM25 (0.., unbounded);
 * hybrid = weighted blend of both, each normalised to 0..1 within the
 * query's candidates (0..1; see fusion.ts).
 */
export async function search(core: StoreCore, input: SearchInput, options: { signal?: AbortSignal } = {}): Promise<SearchResult> {
  core.assertOpen();
  const started = performance.now();
  const q = parseOrThrow(SearchInput, input);
  if (q.collection !== undefined) await assertCollectionExists(core, q.collection);
  const scope: SearchScope = { collection: q.collection, docId: q.doc_id, filter: q.filter };
  const depth = q.mode === "hybrid" ? Math.max(q.k, HYBRID_DEPTH) : q.k;
  // BM25 runs synchronously on this thread and Lance on its own threads:
  // start the vector query first and run BM25 while Lance works.
  let dispatched!: () => void;
  const lanceBusy = new Promise<void>((resolve) => (dispatched = resolve));
  const vectorRun = q.mode === "keyword" ? Promise.resolve([]) : vectorCandidates(core, q.query, scope, depth, options.signal, dispatched);
  if (q.mode === "hybrid") await Promise.race([lanceBusy, vectorRun.then(noop, noop)]);
  const keyword = q.mode === "vector" ? [] : await keywordCandidates(core, q.query, scope, depth);
  const vector = await vectorRun;
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

async function keywordCandidates(core: StoreCore, query: string, scope: SearchScope, want: number): Promise<Candidate[]> {
  const match = matchExpression(query);
  if (!match) return [];
  return (await core.meta.keywordSearch(match, scope, want)).map((chunk) => ({ chunk, score: chunk.score }));
}

/**
 * Nearest neighbours from Lance, joined back through SQLite: a hit counts
 * only if its record is committed at exactly the hit's generation. Hits
 * are dropped when stale, pending, deleted, duplicated or filtered out, so
 * Lance is asked for more until `want` survive or it runs dry.
 */
async function vectorCandidates(
  core: StoreCore,
  query: string,
  scope: SearchScope,
  want: number,
  signal?: AbortSignal,
  onDispatched?: () => void,
): Promise<Candidate[]> {
  const table = await core.vectorsIfBound();
  if (!table) return [];
  const info = await core.modelInfo(signal);
  await core.assertStillBound(table);
  const [vector] = await embedChecked(core.options.embedder, info, [query], "query", { signal, timeoutMs: core.options.embedTimeoutMs });
  await core.catchUp(table);
  const where = [
    scope.collection !== undefined ? `collection = ${sqlString(scope.collection)}` : null,
    scope.docId !== undefined ? `doc_id = ${sqlString(scope.docId)}` : null,
  ]
    .filter(Boolean)
    .join(" AND ");
  let limit = want * 2 + 10;
  for (;;) {
    const searching = table.search(vector!, limit, where || null, core.options.annEf);
    onDispatched?.();
    const hits = await searching;
    const live = new Map((await core.meta.searchable(hits.map((h) => h.chunkId), scope)).map((c) => [c.chunk_id, c]));
    const found: Candidate[] = [];
    for (const hit of hits) {
      const chunk = live.get(hit.chunkId);
      if (!chunk || chunk.generation !== hit.generation) continue;
      live.delete(hit.chunkId);
      found.push({ chunk, score: 1 - hit.distance });
      if (found.length === want) break;
    }
    if (found.length >= want || hits.length < limit) return found;
    limit *= 4;
  }
}
