import { parseArgs } from "node:util";
import { LIMITS, SEARCH_MODES, type SearchMode } from "../../src/store/schemas.js";
import { ALL_COLLECTIONS, COLLECTIONS } from "./collections.js";

export interface EvalArgs {
  collections: string[];
  modes: SearchMode[];
  embedder: string;
  k: number;
  limitQueries: number | null;
  dataDir: string | null;
  showLosses: number;
}

export const USAGE = `Usage: npm run eval -- [options]

Indexes a test collection through the store, runs its queries in each mode and
prints nDCG@k, recall@k, MRR@k and mean latency next to a reference BM25.

  --collection NAME    ${COLLECTIONS.join(" | ")} | all (default all = ${ALL_COLLECTIONS.join(", ")};
                       scifact is held out: run it to check, never tune on it)
  --mode LIST          comma-separated ${SEARCH_MODES.join(",")} (default all three)
  --embedder SPEC      hash:384 (default), offline, transformers[:model], openai:model, auto
  --k N                cut-off for the metrics (default 10, at most ${LIMITS.maxK})
  --limit-queries N    evaluate only the first N judged queries
  --data-dir DIR       keep the stores in DIR/<collection> and reuse them next time
                       (default: a temporary directory, removed at the end)
  --show-losses N      list the N queries where hybrid trails its best rival most
  --help               this text`;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

function positiveInt(value: string | undefined, flag: string, fallback: number, max = Number.MAX_SAFE_INTEGER, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}

/** Null means --help was asked for. */
export function parseEvalArgs(argv: readonly string[]): EvalArgs | null {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        collection: { type: "string", default: "all" },
        mode: { type: "string", default: SEARCH_MODES.join(",") },
        embedder: { type: "string", default: "hash:384" },
        k: { type: "string" },
        "limit-queries": { type: "string" },
        "data-dir": { type: "string" },
        "show-losses": { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return null;
  const collections = values.collection === "all" ? ALL_COLLECTIONS : values.collection.split(",").map((c) => c.trim());
  const unknown = collections.filter((c) => !COLLECTIONS.includes(c));
  if (unknown.length > 0) throw new UsageError(`unknown collection ${unknown.map((c) => `"${c}"`).join(", ")}; choose from ${COLLECTIONS.join(", ")} or all`);
  const modes = [...new Set(values.mode.split(",").map((m) => m.trim()))];
  const badModes = modes.filter((m) => !(SEARCH_MODES as readonly string[]).includes(m));
  if (badModes.length > 0 || modes.length === 0) throw new UsageError(`--mode takes a comma-separated list of ${SEARCH_MODES.join(", ")}; got "${values.mode}"`);
  return {
    collections,
    modes: modes as SearchMode[],
    embedder: values.embedder,
    k: positiveInt(values.k, "--k", 10, LIMITS.maxK),
    limitQueries: values["limit-queries"] === undefined ? null : positiveInt(values["limit-queries"], "--limit-queries", 0),
    dataDir: values["data-dir"] ?? null,
    showLosses: positiveInt(values["show-losses"], "--show-losses", 0, 1000, 0),
  };
}
