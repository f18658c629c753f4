import { z } from "zod";
import { LIMITS } from "../store/schemas.js";
import { count } from "../text/plural.js";
import { assertWritable } from "./allowed.js";
import { runTool, type RegisterTool } from "./context.js";
import { IndexResultOutput, chunkInputShape, toIndexOutput } from "./index-chunk.js";
import { progressReporter } from "./progress.js";

const indexChunksInput = z.strictObject({
  chunks: z
    .array(z.strictObject(chunkInputShape))
    .min(1, "chunks must hold at least one chunk")
    .max(LIMITS.batchSize, `chunks holds at most ${LIMITS.batchSize} chunks per call; split the batch into several calls`)
    .describe(`1-${LIMITS.batchSize} chunks, each with the fields of index_chunk (text required). chunk_ids must be distinct within one call.`),
  wait: z.boolean().default(true).describe("true (default): answer once every chunk is searchable. false: answer once all are safely stored (status pending)."),
});

const indexChunksOutput = z.object({
  results: z.array(IndexResultOutput).describe("One result per input chunk, in input order."),
  committed: z.number().int(),
  pending: z.number().int(),
  unchanged: z.number().int(),
});

export const registerIndexChunks: RegisterTool = (server, context) => {
  server.registerTool(
    "index_chunks",
    {
      title: "Index many text chunks",
      description:
        `Stores up to ${LIMITS.batchSize} chunks in one call, embedded together and written in one commit: much faster than calling index_chunk repeatedly. ` +
        "Sends progress notifications when the request carries a progressToken. The batch is validated as a whole: if any chunk is invalid " +
        "(the error names it, e.g. 'chunks[3].text'), nothing is written. Per-chunk statuses mean the same as for index_chunk.",
      inputSchema: indexChunksInput,
      outputSchema: indexChunksOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ chunks, wait }, extra) => {
      const progress = progressReporter(extra, "chunks indexed");
      const result = await runTool(
        context,
        async (store) => {
          await assertWritable(context.access, store, chunks);
          const results = (await store.indexMany(chunks, { wait, signal: extra.signal, onProgress: progress.onProgress })).map(toIndexOutput);
          const tally = (status: string) => results.filter((r) => r.status === status).length;
          return { results, committed: tally("committed"), pending: tally("pending"), unchanged: tally("unchanged") };
        },
        (r) =>
          `${count(r.results.length, "chunk")}: ${r.committed} committed, ${r.pending} pending, ${r.unchanged} unchanged.` +
          (r.pending > 0 ? " embedding_status shows when pending chunks are committed." : ""),
      );
      // Notifications must reach the client before the response that ends the request.
      await progress.flush();
      return result;
    },
  );
};
