import { UsageError, type Command, type CommandContext } from "../cli/command.js";
import { intOption } from "../cli/parse.js";
import { interruptible } from "../cli/interruptible.js";
import { logger } from "../log/logger.js";
import { count } from "../text/plural.js";
import { storeLocation, withStore } from "./open-store.js";
import { renderVerify } from "./verify.js";

/** The target's vectors: --vectors or RETRIEVAL_MCP_VECTORS, never the default (which is the source's own lance/ folder). */
function targetVectors(context: CommandContext): string {
  const vectors = context.storage.vectors;
  if (vectors === undefined) {
    throw new UsageError("migrate needs --vectors <s3://bucket/prefix|dir>: where the target keeps its vector tables (the source's lance/ folder stays as it is).", "migrate");
  }
  return vectors;
}

export const migrateCommand: Command = {
  name: "migrate",
  summary: "Copy an embedded store (--data-dir) into PostgreSQL (--database) and --vectors, without re-embedding, then verify the copy.",
  args: "",
  minArgs: 0,
  maxArgs: 0,
  options: {
    batch: { type: "string", value: "<n>", description: "Chunks copied per step (default 256); progress is saved after each, so an interrupted copy resumes." },
  },
  details:
    "Example: `retrieval-mcp migrate --data-dir ~/.local/share/retrieval-mcp --database postgres://retrieval@db/retrieval --vectors s3://bucket/retrieval`. " +
    "The source must not be open in any other process, and the target must be empty; an interrupted copy resumes when the same command runs again.",
  async run(context) {
    if (context.database === undefined) throw new UsageError("migrate needs --database <postgres://...> (or RETRIEVAL_MCP_DATABASE_URL): the database to copy the store into.", "migrate");
    const database = context.database;
    const vectors = targetVectors(context);
    const [{ openBackend }, { copyStore }, { redactedUrl }] = await Promise.all([
      import("../store/backend.js"),
      import("../store/store-copy.js"),
      import("../store/postgres/url.js"),
    ]);
    const targetName = `The database ${redactedUrl(database)} with vectors at ${vectors}`;
    return interruptible(async ({ signal, onProgress, endProgress }) => {
      const target = await openBackend(storeLocation(context), { requireWritable: true, log: logger.warning });
      const report = await copyStore({
        sourceDir: context.dataDir,
        target,
        targetName,
        batchSize: intOption(context.values, "batch", 1, 10_000, 256, "migrate"),
        signal,
        onProgress,
      }).finally(() => target.close());
      endProgress();
      // A resumed copy may have left the rows of the batch it was cut short in: repair removes them before the check.
      const verify = await withStore({ ...context, embedderSpec: report.model }, (store) => store.verify({ repair: report.resumed }));
      process.stdout.write(
        `Copied ${count(report.copied, "chunk")} in ${count(report.collections, "collection")}${report.resumed ? " (resumed)" : ""}, with their vectors (${report.model}), ` +
          `into ${redactedUrl(database)} and ${vectors}.\n${renderVerify(verify, "Verified the copy:")}\n`,
      );
      return verify.ok ? 0 : 1;
    });
  },
};
