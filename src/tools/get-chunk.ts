import { z } from "zod";
import { assertCollection, canSee } from "../auth/access.js";
import { citation } from "../ingest/citation.js";
import { SearchInput, selectingChunks, type Metadata } from "../store/schemas.js";
import type { ChunkView, Store } from "../store/store.js";
import { visibleChunks } from "./allowed.js";
import { runTool, type RegisterTool } from "./context.js";
import { bounded, chunkOutputFields, fields } from "./fields.js";

/** Enough context around a hit to read it in place, few enough that the answer stays small. */
const MAX_NEIGHBORS = 5;

const getInput = selectingChunks(
  z.strictObject({
    chunk_id: fields.chunkId.optional().describe("Fetch this chunk."),
    chunk_ids: fields.chunkIds("Fetch these chunks").optional(),
    doc_id: fields.docId.optional().describe("Fetch every chunk of this document, in chunk_id order."),
    collection: fields.collection.optional().describe("With doc_id: only that document's chunks in this collection."),
    neighbors: z
      .number()
      .int("neighbors must be a whole number")
      .min(0, "neighbors must be at least 0")
      .max(MAX_NEIGHBORS, `neighbors must be at most ${MAX_NEIGHBORS}`)
      .optional()
      .describe(
        `With chunk_id: also return up to this many chunks before and after it in the same document (0-${MAX_NEIGHBORS}), all in document order, ` +
          "each with its offset from the requested chunk. Use it to read a search hit in context.",
      ),
    max_chars: SearchInput.shape.max_chars.describe("Cut each chunk's text to this many characters (default: the whole text)."),
  }),
  "lookup",
).refine((input) => input.neighbors === undefined || input.chunk_id !== undefined, {
  message: "neighbors works with chunk_id only: give the one chunk to read around",
  path: ["neighbors"],
});

const getOutput = z.object({
  chunks: z.array(
    z.object({
      ...chunkOutputFields,
      content_hash: z.string(),
      status: z.enum(["committed", "pending"]).describe("committed: this is the version search serves; pending: stored, not yet embedded (the chunk has no committed version yet)."),
      generation: z.number().int().describe("The generation of the version shown."),
      created_at: z.string(),
      updated_at: z.string(),
      pending: z
        .object({ generation: z.number().int(), content_hash: z.string(), updated_at: z.string() })
        .nullable()
        .describe("A rewrite in flight: its version is stored and being embedded; search keeps serving the version shown until it commits. null when none."),
      offset: z.number().int().optional().describe("With neighbors: position relative to the requested chunk (-2, -1, 0, 1, ...)."),
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
    pending: view.pending,
  };
}

/**
 * A document's chunks in reading order: by the chunk_index that ingest
 * records, else by chunk id with numbers compared as numbers (doc#2 before
 * doc#10).
 */
function inDocumentOrder(chunks: readonly ChunkView[]): ChunkView[] {
  const index = (c: ChunkView) => (typeof c.metadata.chunk_index === "number" ? c.metadata.chunk_index : null);
  const byId = new Intl.Collator("en", { numeric: true });
  return [...chunks].sort((a, b) => {
    const ia = index(a);
    const ib = index(b);
    return ia !== null && ib !== null && ia !== ib ? ia - ib : byId.compare(a.chunk_id, b.chunk_id);
  });
}

async function withNeighbors(store: Store, chunkId: string, n: number, maxChars: number | undefined): Promise<GetOutput> {
  const [chunk] = await store.get([chunkId]);
  if (!chunk) return { chunks: [], missing: [chunkId] };
  const document = chunk.doc_id === null ? [chunk] : inDocumentOrder(await store.documentChunks(chunk.doc_id, chunk.collection));
  const at = document.findIndex((c) => c.chunk_id === chunkId);
  const from = Math.max(0, at - n);
  return { chunks: document.slice(from, at + n + 1).map((c, i) => ({ ...toChunk(c, maxChars), offset: from + i - at })), missing: [] };
}

function render(out: GetOutput): string {
  const parts = out.chunks.map((c) => {
    const rewrite = c.pending ? `, rewrite to generation ${c.pending.generation} pending` : "";
    const where = citation(c.metadata as Metadata, { source: false });
    return `${c.chunk_id} (${c.status}${rewrite}${c.doc_id !== null ? `, doc ${c.doc_id}` : ""}${where ? `, ${where}` : ""}):\n${c.text}${c.truncated ? " […]" : ""}`;
  });
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
        "Each chunk comes in the version search serves; a rewrite still being embedded is reported in pending. " +
        "Use it to read a whole chunk that semantic_search cut short, to read around it (chunk_id with neighbors), or to check what a document holds. " +
        "Unknown ids are listed in missing, not an error.",
      inputSchema: getInput,
      outputSchema: getOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ chunk_id, chunk_ids, doc_id, collection, neighbors, max_chars }) =>
      runTool(
        context,
        async (store): Promise<GetOutput> => {
          if (neighbors !== undefined && chunk_id !== undefined) {
            const around = await withNeighbors(store, chunk_id, neighbors, max_chars);
            return { chunks: around.chunks.filter((c) => canSee(context.access, c.collection)), missing: around.chunks.some((c) => c.chunk_id === chunk_id && canSee(context.access, c.collection)) ? [] : [chunk_id] };
          }
          if (doc_id !== undefined) {
            if (collection !== undefined) assertCollection(context.access, collection);
            return { chunks: visibleChunks(context.access, await store.documentChunks(doc_id, collection)).map((v) => toChunk(v, max_chars)), missing: [] };
          }
          const ids = [...new Set(chunk_ids ?? [chunk_id!])];
          const found = new Map(visibleChunks(context.access, await store.get(ids)).map((v) => [v.chunk_id, v]));
          return {
            chunks: ids.flatMap((id) => (found.has(id) ? [toChunk(found.get(id)!, max_chars)] : [])),
            missing: ids.filter((id) => !found.has(id)),
          };
        },
        render,
      ),
  );
};
