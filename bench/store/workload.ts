import type { Embedder } from "../../src/embed/embedder.js";
import { Corpus } from "./corpus.js";

/**
 * Everything every phase shares: the texts, their vectors (computed once,
 * so the raw reference and the exact scan see exactly what the store
 * embeds) and the queries.
 */
export interface Workload {
  dimension: number;
  embedder: Embedder;
  texts: string[];
  /** Row i is the unit vector of texts[i]. */
  vectors: Float32Array;
  queries: string[];
  queryVectors: Float32Array[];
  /** Passages like the stored chunks but not among them, embedded: the second query set of the recall sweep. */
  passageVectors: Float32Array[];
  /** Queries for warming caches; never measured. */
  warmup: string[];
  /** Wall time to embed all texts in batches of 1,000. */
  embedBatchedMs: number;
}

export const chunkId = (i: number): string => `c${String(i).padStart(6, "0")}`;
export const rowOf = (id: string): number => Number(id.slice(1));
// Ten chunks per document, as a chunked file would give.
export const docId = (i: number): string => `d${Math.floor(i / 10)}`;

export function input(w: Workload, i: number): { chunk_id: string; text: string; doc_id: string } {
  return { chunk_id: chunkId(i), text: w.texts[i]!, doc_id: docId(i) };
}

export async function makeWorkload(embedder: Embedder, chunks: number, queries: number): Promise<Workload> {
  const corpus = new Corpus(20_240_601);
  const info = await embedder.load();
  const texts = Array.from({ length: chunks }, (_, i) => corpus.chunk(i));
  const vectors = new Float32Array(chunks * info.dimension);
  const started = performance.now();
  for (let i = 0; i < chunks; i += 1000) {
    const batch = await embedder.embed(texts.slice(i, i + 1000), { kind: "document" });
    batch.forEach((v, j) => vectors.set(v, (i + j) * info.dimension));
  }
  const embedBatchedMs = performance.now() - started;
  const queryTexts = corpus.queries(queries, chunks, 1);
  const queryVectors = await embedder.embed(queryTexts, { kind: "query" });
  const passageVectors = await embedder.embed(corpus.passages(queries, chunks), { kind: "query" });
  return {
    dimension: info.dimension,
    embedder,
    texts,
    vectors,
    queries: queryTexts,
    queryVectors,
    passageVectors,
    warmup: corpus.queries(20, chunks, 2),
    embedBatchedMs,
  };
}

/** Wall time to embed `count` texts one call per text, as concurrent single-chunk writes do. */
export async function embedOneByOne(w: Workload, count: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i++) await w.embedder.embed([w.texts[i]!], { kind: "document" });
  return performance.now() - started;
}

/** Mean wall time of embedding one query: part of every search latency below. */
export async function queryEmbedMs(w: Workload): Promise<number> {
  const started = performance.now();
  for (const q of w.queries) await w.embedder.embed([q], { kind: "query" });
  return (performance.now() - started) / w.queries.length;
}
