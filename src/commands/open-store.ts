import { stat } from "node:fs/promises";
import { UsageError, type CommandContext, type OptionSpec } from "../cli/command.js";
import { stringValue } from "../cli/parse.js";
import { logger } from "../log/logger.js";
import { StoreError } from "../store/errors.js";
import type { Store, StoreOptions } from "../store/store.js";

/**
 * Loaded on first use: LanceDB and SQLite take a good part of start-up time,
 * and `serve` must answer `initialize` before it needs either. The embedder
 * is built here, once the store's binding is known, so `auto` reopens a
 * store with the model it was created with.
 */
export async function openStore(context: CommandContext, options: Omit<StoreOptions, "dataDir" | "embedder"> = {}): Promise<Store> {
  const [{ Store }, { resolveEmbedder }] = await Promise.all([import("../store/store.js"), import("../embed/from-spec.js")]);
  const embedder = resolveEmbedder(context.embedderSpec, { ...context.embedderOptions, boundModel: Store.readBinding(context.dataDir) });
  return Store.open({ dataDir: context.dataDir, ...context.storage, embedder, log: (message, level) => logger.log(level, message), ...options });
}

/** `--reranker <spec>` (serve, search): a cross-encoder for hybrid results, off unless given; a bad spec is a usage error. */
export async function rerankerOption(context: CommandContext, command: string): Promise<Pick<StoreOptions, "reranker">> {
  const spec = stringValue(context.values, "reranker");
  if (spec === undefined) return {};
  const [{ rerankerFromSpec }, { EmbedderSpecError }] = await Promise.all([import("../embed/reranker.js"), import("../embed/from-spec.js")]);
  try {
    return { reranker: rerankerFromSpec(spec, context.embedderOptions) };
  } catch (error) {
    if (error instanceof EmbedderSpecError) throw new UsageError(error.message, command);
    throw error;
  }
}

export const RERANKER_OPTION: OptionSpec = {
  type: "string",
  value: "<spec>",
  description: "Re-score the top 20 hybrid candidates with a cross-encoder, e.g. transformers:Xenova/ms-marco-MiniLM-L-6-v2 (downloaded like transformers embedders). Default: off.",
};

/**
 * One-shot commands drive recovery and GC themselves, so the store's
 * background timers stay off: `verify` must see damage as it is, not
 * half-repaired by a recovery pass started on open.
 */
export function openCommandStore(context: CommandContext, options: Omit<StoreOptions, "dataDir" | "embedder"> = {}): Promise<Store> {
  return openStore(context, { ...options, background: false });
}

/** Runs `work` on an open store and closes it whatever happens. */
export async function withStore<T>(context: CommandContext, work: (store: Store) => Promise<T>, options: Omit<StoreOptions, "dataDir" | "embedder"> = {}): Promise<T> {
  const store = await openCommandStore(context, options);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/**
 * For commands that only look (status, search, verify, gc): a mistyped
 * --data-dir must not leave an empty store behind and report it as empty.
 */
export async function withExistingStore<T>(context: CommandContext, work: (store: Store) => Promise<T>, options: Omit<StoreOptions, "dataDir" | "embedder"> = {}): Promise<T> {
  // Only a directory that is surely absent: one this user may not look into is the store's to report (a permission error).
  const missing = await stat(context.dataDir).then(
    () => false,
    (error: NodeJS.ErrnoException) => error.code === "ENOENT",
  );
  if (missing) {
    throw new StoreError(
      "not_found",
      `The data directory ${context.dataDir} does not exist, so there is no store to read. Check --data-dir (or RETRIEVAL_MCP_DATA_DIR); ` +
        "`retrieval-mcp ingest <files>` or a running server creates a store on its first write.",
    );
  }
  return withStore(context, work, options);
}
