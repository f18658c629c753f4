import { z } from "zod";
import { selectingChunks } from "../store/schemas.js";
import { deleteAllowed } from "./allowed.js";
import { runTool, type RegisterTool } from "./context.js";
import { fields } from "./fields.js";
import { count } from "../text/plural.js";

const deleteInput = selectingChunks(
  z.strictObject({
    chunk_id: fields.chunkId.optional().describe("Delete this one chunk."),
    chunk_ids: fields.chunkIds("Delete these chunks").optional(),
    doc_id: fields.docId.optional().describe("Delete every chunk of this document."),
    collection: fields.collection.optional().describe("With doc_id: only that document's chunks in this collection."),
  }),
  "delete",
);

const deleteOutput = z.object({
  deleted: z.number().int().describe("How many chunks existed and were deleted; 0 when none matched (deleting again is harmless)."),
  chunk_ids: z.array(z.string()).describe("The ids actually deleted."),
  pending_gc: z.number().int().describe("Deleted vectors still awaiting background cleanup; they are already invisible to search."),
});

export const registerDeleteChunk: RegisterTool = (server, context) => {
  server.registerTool(
    "delete_chunk",
    {
      title: "Delete chunks",
      description:
        "Deletes chunks by chunk_id, by a list of chunk_ids, or all chunks of a doc_id (optionally within one collection); give exactly one of these. " +
        "Deleted chunks disappear from search immediately and for good, also after a crash, unless indexed again. Ids that do not exist are skipped, so repeating a delete is safe.",
      inputSchema: deleteInput,
      outputSchema: deleteOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    (input) =>
      runTool(
        context,
        async (store) => {
          const result = await deleteAllowed(context.access, store, input);
          return { deleted: result.deleted, chunk_ids: result.chunk_ids, pending_gc: result.pending_gc };
        },
        (r) => (r.deleted === 0 ? "Nothing to delete: no chunk matched." : `Deleted ${count(r.deleted, "chunk")}: ${r.chunk_ids.slice(0, 20).join(", ")}${r.deleted > 20 ? ", …" : ""}.`),
      ),
  );
};
