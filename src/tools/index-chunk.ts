import { z } from "zod";
import type { IndexResult } from "../store/store.js";
import { assertWritable } from "./allowed.js";
import { runTool, type RegisterTool } from "./context.js";
import { fields } from "./fields.js";

export const IndexStatus = z
  .enum(["committed", "pending", "unchanged"])
  .describe("committed: searchable now and durable; pending: saved, embedding in the background (wait:false); unchanged: same text, metadata and model as stored, nothing re-embedded.");

export const IndexResultOutput = z.object({
  chunk_id: z.string().describe("The chunk's id: yours, or derived from collection, doc_id and text when you gave none."),
  status: IndexStatus,
  generation: z.number().int().describe("Write version of the chunk; grows with every change."),
  content_hash: z.string().describe("SHA-256 of the text."),
});

/** Chunk fields accepted by index_chunk and by each item of index_chunks. */
export const chunkInputShape = {
  text: fields.text,
  chunk_id: fields.chunkId.optional(),
  doc_id: fields.docId.optional(),
  collection: fields.collection.optional(),
  metadata: fields.metadata.optional(),
};

export const indexChunkInput = z.strictObject({
  ...chunkInputShape,
  wait: z
    .boolean()
    .default(true)
    .describe("true (default): answer once the chunk is embedded and searchable. false: answer as soon as it is safely stored (status pending); follow it with embedding_status."),
});

export function toIndexOutput(result: IndexResult): z.infer<typeof IndexResultOutput> {
  return { chunk_id: result.chunk_id, status: result.status, generation: result.generation, content_hash: result.content_hash };
}

export const registerIndexChunk: RegisterTool = (server, context) => {
  server.registerTool(
    "index_chunk",
    {
      title: "Index a text chunk",
      description:
        "Stores one chunk of text and its embedding so semantic_search can find it. Use it to remember a passage, note or document section; " +
        "for many chunks at once use index_chunks. Re-indexing the same chunk_id replaces the chunk; re-indexing identical content is answered " +
        "'unchanged' without re-embedding. When the answer is 'committed' the chunk survives crashes and is searchable. " +
        "Errors name the offending field (e.g. text over 1 MiB, nested metadata, control characters in an id); nothing is written when the call fails.",
      inputSchema: indexChunkInput,
      outputSchema: IndexResultOutput,
      // Replacing a chunk by id is an update the caller asked for, not a loss of unrelated data.
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    ({ wait, ...chunk }, extra) =>
      runTool(
        context,
        async (store) => {
          await assertWritable(context.access, store, [chunk]);
          return toIndexOutput(await store.index(chunk, { wait, signal: extra.signal }));
        },
        (r) =>
          r.status === "pending"
            ? `Stored ${r.chunk_id} (generation ${r.generation}); embedding in the background. embedding_status with chunk_ids shows when it is committed.`
            : `${r.status === "committed" ? "Indexed" : "Unchanged, not re-embedded:"} ${r.chunk_id} (generation ${r.generation}).`,
      ),
  );
};
