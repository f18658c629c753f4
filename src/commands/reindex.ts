import { UsageError, type Command } from "../cli/command.js";
import { modelKey } from "../embed/embedder.js";
import { intOption } from "../cli/parse.js";
import { interruptible } from "../cli/interruptible.js";
import { count } from "../text/plural.js";
import { logger } from "../log/logger.js";
import { storeLocation, withStore } from "./open-store.js";

export const reindexCommand: Command = {
  name: "reindex",
  summary: "Re-embed every chunk with another model (--embedder) while servers keep serving the old one, then switch.",
  args: "",
  minArgs: 0,
  maxArgs: 0,
  options: {
    batch: { type: "string", value: "<n>", description: "Chunks embedded and written per step (default 256); progress is saved after each." },
    cancel: { type: "boolean", description: "Abandon an unfinished reindex: keep the current model and drop the half-built table." },
  },
  details:
    "Example: `retrieval-mcp reindex --embedder transformers:Xenova/bge-small-en-v1.5`. Interrupt it (Ctrl-C, a crash) and run the same command again: it resumes. " +
    "When it finishes, restart servers with the new --embedder (running ones refuse to write or search and say so). embedding_status shows the progress.",
  async run(context) {
    const { cancelReindex, reindexStore } = await import("../store/reindex.js");
    if (context.values.cancel) {
      const cancelled = await cancelReindex(storeLocation(context));
      process.stdout.write(cancelled ? `Cancelled the reindex to ${modelKey(cancelled.target)}; the store keeps its model.\n` : "No reindex is in progress.\n");
      return 0;
    }
    if (context.embedderSpec === "auto" && context.values.embedder === undefined && context.env.RETRIEVAL_MCP_EMBEDDER === undefined) {
      throw new UsageError("reindex needs the new model: give --embedder, e.g. --embedder transformers:Xenova/bge-small-en-v1.5.", "reindex");
    }
    const { resolveEmbedder } = await import("../embed/from-spec.js");
    const embedder = resolveEmbedder(context.embedderSpec, context.embedderOptions);
    return interruptible(async ({ signal, onProgress, endProgress }) => {
      const report = await reindexStore({
        ...storeLocation(context),
        embedder,
        batchSize: intOption(context.values, "batch", 1, 10_000, 256, "reindex"),
        signal,
        log: logger.info,
        onProgress,
      });
      endProgress();
      // Whatever was written during the run and left pending is embedded now, with the new model.
      const verify = await withStore({ ...context, embedderSpec: report.to }, (store) => store.verify({ repair: true }));
      process.stdout.write(
        `Re-embedded ${count(report.copied, "chunk")}${report.resumed ? " (resumed)" : ""} from ${report.from ?? "an empty store"} to ${report.to}, table ${report.table}. ` +
          `${count(report.left_pending, "chunk")} written meanwhile ${report.left_pending === 1 ? "was" : "were"} embedded after the switch; the store is ${verify.ok ? "consistent" : "NOT consistent: run `retrieval-mcp verify --repair`"}.\n` +
          `Restart running servers with --embedder ${report.to}.\n`,
      );
      return verify.ok ? 0 : 1;
    });
  },
};
