import { z } from "zod";
import { ChunkId, ChunkText, Collection, DocId, Filter, LIMITS, Metadata } from "../store/schemas.js";

/**
 * Input fields shared by several tools: the store's schemas (the single
 * source of the limits) with descriptions written for the agent that calls.
 */
export const fields = {
  text: ChunkText.describe(`The text to index, 1 character to 1 MiB of UTF-8. Keep chunks to a paragraph or a section; search ranks whole chunks.`),
  chunkId: ChunkId.describe(
    `Your id for the chunk, 1-${LIMITS.chunkIdChars} characters, no control characters. Indexing again under the same id replaces that chunk.`,
  ),
  chunkIds: (what: string) =>
    z
      .array(ChunkId)
      .min(1, "chunk_ids must list at least one id")
      .max(LIMITS.batchSize, `chunk_ids takes at most ${LIMITS.batchSize} ids per call; split the list`)
      .describe(`${what} (1-${LIMITS.batchSize} ids).`),
  docId: DocId.describe(`The document the chunk belongs to (a file path, URL or your own id), up to ${LIMITS.docIdChars} characters.`),
  collection: Collection.describe(
    `A namespace, 1-${LIMITS.collectionChars} characters; chunks default to "default". Searches only see the collection they name (or all when omitted).`,
  ),
  metadata: Metadata.describe(
    `Flat JSON object of your own attributes (e.g. {"lang":"en","tags":["a","b"]}): values are strings, numbers, booleans, null or lists of strings; no nested objects. At most ${LIMITS.metadataKeys} keys. semantic_search can filter on them.`,
  ),
  filter: Filter.describe(
    `Keep only chunks whose metadata matches every key. A value matches exactly ({"lang":"en"}); a list matches any of its values ({"lang":["en","de"]}); ` +
      `a list-valued field (tags) matches when any element matches. Conditions: {"year":{"gte":2020,"lt":2024}} (numbers, or ISO date strings compared as text), ` +
      `{"draft":{"ne":true}}, {"lang":{"nin":["fr"]}}, {"tags":{"exists":true}}, {"tags":{"contains_all":["a","b"]}}, {"tags":{"contains_any":["a","b"]}}. Types never coerce: 2019 does not match "2019".`,
  ),
} as const;

/** What one run of file ingestion did (SyncCounts), in ingest_files' answer and embedding_status. */
export const ingestCountFields = {
  indexed: z.number().int().describe("Files (re)indexed."),
  unchanged: z.number().int().describe("Files already indexed as they are; nothing was read or embedded again."),
  skipped: z.number().int().describe("Files with nothing to index (binary, empty, a scanned PDF)."),
  failed: z.number().int(),
  pruned: z.number().int().describe("Documents removed because their files were deleted."),
  chunks_written: z.number().int(),
  chunks_removed: z.number().int(),
};

/** A chunk's attributes as the store returns them; never a vector. */
export const chunkOutputFields = {
  chunk_id: z.string(),
  doc_id: z.string().nullable(),
  collection: z.string(),
  text: z.string(),
  metadata: z.record(z.string(), z.unknown()),
  truncated: z.boolean().describe("True when text was cut to max_chars."),
};

/** Cuts text to the caller's budget, saying whether anything was cut. */
export function bounded(text: string, maxChars: number | undefined): { text: string; truncated: boolean } {
  if (maxChars === undefined || text.length <= maxChars) return { text, truncated: false };
  return { text: text.slice(0, maxChars), truncated: true };
}
