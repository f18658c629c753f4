import { z } from "zod";
import type { ResourceLink } from "@modelcontextprotocol/sdk/types.js";
import { assertCollection } from "../auth/access.js";
import { citation } from "../ingest/citation.js";
import { chunkUri } from "../resources/chunk-uri.js";
import { SearchInput, type Metadata } from "../store/schemas.js";
import type { Store } from "../store/store.js";
import { runTool, type RegisterTool, type ToolContext } from "./context.js";
import { chunkOutputFields, fields } from "./fields.js";
import { count } from "../text/plural.js";

/** Large enough for a whole typical chunk; small enough that k=50 stays within a client's output budget. */
export const DEFAULT_SNIPPET_CHARS = 2000;

const searchInput = z.strictObject({
  query: SearchInput.shape.query.describe("What to look for, in natural language or keywords."),
  k: SearchInput.shape.k.describe("How many results to return, 1-50 (default 5)."),
  collection: fields.collection.optional().describe("Search only this collection (default: all collections)."),
  doc_id: fields.docId.optional().describe("Search only the chunks of this document."),
  filter: fields.filter.optional(),
  mode: SearchInput.shape.mode.describe(
    'How to match: "hybrid" (default) fuses meaning and exact words and is the best general choice; "vector" matches by meaning only; ' +
      '"keyword" matches words only (BM25; best for exact identifiers, error codes and names).',
  ),
  min_score: SearchInput.shape.min_score.describe(
    "Drop results scoring below this. The scale depends on mode: vector -1..1 (cosine similarity), keyword 0 and up (BM25), hybrid 0..1 (blend of both, each scaled to 0..1 over the query's candidates, so relative to this query: for an absolute threshold use mode vector).",
  ),
  max_chars: SearchInput.shape.max_chars
    .unwrap()
    .default(DEFAULT_SNIPPET_CHARS)
    .describe(`Cut each result's text to this many characters (default ${DEFAULT_SNIPPET_CHARS}); get_chunk returns a whole chunk.`),
});

const searchOutput = z.object({
  results: z
    .array(
      z.object({
        ...chunkOutputFields,
        uri: z.string().describe("The chunk as a resource, chunk://<collection>/<chunk_id> (percent-encoded): resources/read returns it whole."),
        score: z
          .number()
          .describe("Higher is better; comparable within one result list. vector: cosine similarity -1..1; keyword: BM25; hybrid: 0..1 blend of the two (1 = best by both)."),
      }),
    )
    .describe("Best match first; each chunk at most once."),
  mode: z.enum(["hybrid", "vector", "keyword"]).describe("The mode that produced these results."),
  model: z.string().describe("The embedding model, provider:name."),
  reranker: z.string().nullable().describe("The cross-encoder that re-scored these hits (hybrid mode, when the server runs one; scores are then its 0..1 relevance), or null."),
  took_ms: z.number(),
});

type SearchOutput = z.infer<typeof searchOutput>;
export type SearchToolInput = z.infer<typeof searchInput>;

/** The search as this session may run it: within its collections. Shared with the answer prompt. */
export async function searchAllowed(context: ToolContext, store: Store, input: SearchToolInput, signal?: AbortSignal): Promise<SearchOutput> {
  const { collections } = context.access;
  if (input.collection !== undefined) assertCollection(context.access, input.collection);
  const found = await store.search(input, { signal, ...(collections === null ? {} : { collections }) });
  context.debug(`semantic_search ${JSON.stringify(input.query)}: ${count(found.results.length, "result")} (${found.mode}, ${found.took_ms.toFixed(1)} ms)`);
  return {
    results: found.results.map((hit) => ({
      chunk_id: hit.chunk_id,
      doc_id: hit.doc_id,
      collection: hit.collection,
      uri: chunkUri(hit.collection, hit.chunk_id),
      score: hit.score,
      text: hit.text,
      metadata: hit.metadata,
      truncated: hit.truncated,
    })),
    mode: found.mode,
    model: found.model,
    reranker: found.reranker,
    took_ms: found.took_ms,
  };
}

/** One link per hit, so a host can show or attach the cited chunk. */
function links(out: SearchOutput): ResourceLink[] {
  return out.results.map((r) => ({
    type: "resource_link",
    uri: r.uri,
    name: r.chunk_id,
    mimeType: "text/plain",
    description: `${r.doc_id !== null ? `From ${r.doc_id}, collection` : "Collection"} ${r.collection}; score ${r.score.toFixed(3)}.`,
  }));
}

function render(query: string, out: SearchOutput): string {
  if (out.results.length === 0) return `No results for ${JSON.stringify(query)}.`;
  const lines = out.results.map((r, i) => {
    const where = [r.doc_id !== null ? `doc ${r.doc_id}` : null, r.collection !== "default" ? `collection ${r.collection}` : null].filter(Boolean).join(", ");
    const cited = citation(r.metadata as Metadata, { source: true });
    const head = `${i + 1}. [${r.score.toFixed(3)}] ${r.chunk_id}${where ? ` (${where})` : ""}${cited ? `\n   from ${cited}` : ""}`;
    return `${head}\n${r.text}${r.truncated ? " […]" : ""}`;
  });
  return `${count(out.results.length, "result")} for ${JSON.stringify(query)} (${out.mode}, ${out.model}${out.reranker ? `, reranked by ${out.reranker}` : ""}, ${Math.round(out.took_ms)} ms):\n\n${lines.join("\n\n")}`;
}

export const registerSemanticSearch: RegisterTool = (server, context) => {
  server.registerTool(
    "semantic_search",
    {
      title: "Search indexed chunks by meaning",
      description:
        "Finds the indexed chunks that best match a query, best first, with their text, metadata and a score; by default it fuses meaning (vectors) with exact words (BM25), so both paraphrases and identifiers are found. " +
        "Use it before answering from stored knowledge. Narrow with collection, doc_id or a metadata filter; bound the answer size with k and max_chars. " +
        "Only committed chunks are returned, each in its latest committed version: a chunk being rewritten keeps being found in its previous version until the new one is embedded. An empty result means nothing matched, not an error. " +
        "Each hit has a uri (chunk://collection/chunk_id) and comes with a resource_link; cite chunks by that URI.",
      inputSchema: searchInput,
      outputSchema: searchOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (input, extra) =>
      runTool(
        context,
        (store) => searchAllowed(context, store, input, extra.signal),
        (out) => render(input.query, out),
        links,
      ),
  );
};
