import { z } from "zod";
import { SearchInput, selectingChunks } from "../store/schemas.js";
import type { ChunkView } from "../store/store.js";
import { assertCollection } from "../auth/access.js";
import { visibleChunks } from "./allowed.js";
import { runTool, type RegisterTool } from "./context.js";
import { bounded, chunkOutputFields, fields } from "./fields.js";

const getInput = selectingChunks(
  z.strictObject({
    chunk_id: fields.chunkId.optional().describe("Fetch this chunk."),
    chunk_ids: fields.chunkIds("Fetch these chunks").optional(),
    doc_id: fields.docId.optional().describe("Fetch every chunk of this document, in chunk_id order."),
    collection: fields.collection.optional().describe("With doc_id: only that document's chunks in this collection."),
    max_chars: SearchInput.shape.max_chars.describe("Cut each chunk's text to this many characters (default: the whole text)."),
  }),
  "lookup",
);

const getOutput = z.object({
  chunks: z.array(
    z.object({
      ...chunkOutputFields,
      content_hash: z.string(),
      status: z.enum(["pending", "committed", "tombstone"]).describe("committed: searchable; pending: stored, not yet embedded."),
      generation: z.number().int(),
      created_at: z.string(),
      updated_at: z.string(),
    }),
  ),
  missing: z.array(z.string()).describe("Requested chunk_ids that do not exist."),
});

type GetOutput = z.infer<typeof getOutput>;

function toChunk(view: ChunkView, maxChars: number | undefined): GetOutput["chunks"][number] {
  return {
    chunk_id: view.chunk_id,
    doc_id: view.doc_id,
    collection: view.collection,
    ...bounded(view.text, maxChars),
    metadata: view.metadata,
    content_hash: view.content_hash,
    status: view.status,
    generation: view.generation,
    created_at: view.created_at,
    updated_at: view.updated_at,
  };
}

function render(out: GetOutput): string {
  const parts = out.chunks.map((c) => `${c.chunk_id} (${c.status}${c.doc_id !== null ? `, doc ${c.doc_id}` : ""}):\n${c.text}${c.truncated ? " […]" : ""}`);
  if (out.missing.length > 0) parts.push(`Not found: ${out.missing.join(", ")}`);
  return parts.length > 0 ? parts.join("\n\n") : "No chunks found.";
}

export const registerGetChunk: RegisterTool = (server, context) => {
  server.registerTool(
    "get_chunk",
    {
      title: "Fetch chunks by id or document",
      description:
        "Returns stored chunks with their full text, metadata and embedding state: one chunk_id, a list of chunk_ids, or every chunk of a doc_id. " +
        "Use it to read a whole chunk that semantic_search cut short, or to check what a document holds. Unknown ids are listed in missing, not an error.",
      inputSchema: getInput,
      outputSchema: getOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ chunk_id, chunk_ids, doc_id, collection, max_chars }) =>
      runTool(
        context,
        (store): GetOutput => {
          if (doc_id !== undefined) {
            if (collection !== undefined) assertCollection(context.access, collection);
            return { chunks: visibleChunks(context.access, store.documentChunks(doc_id, collection)).map((v) => toChunk(v, max_chars)), missing: [] };
          }
          const ids = [...new Set(chunk_ids ?? [chunk_id!])];
          const found = new Map(visibleChunks(context.access, store.get(ids)).map((v) => [v.chunk_id, v]));
          return {
            chunks: ids.flatMap((id) => (found.has(id) ? [toChunk(found.get(id)!, max_chars)] : [])),
            missing: ids.filter((id) => !found.has(id)),
          };
        },
        render,
      ),
  );
};
