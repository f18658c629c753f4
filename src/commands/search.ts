import type { Command } from "../cli/command.js";
import { intOption, stringValue } from "../cli/parse.js";
import { UsageError } from "../cli/command.js";
import { LIMITS, SEARCH_MODES, type SearchMode } from "../store/schemas.js";
import type { SearchResult } from "../store/store.js";
import { citation } from "../ingest/citation.js";
import { count } from "../text/plural.js";
import { RERANKER_OPTION, rerankerOption, withExistingStore } from "./open-store.js";

const SNIPPET_CHARS = 160;

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > SNIPPET_CHARS ? `${flat.slice(0, SNIPPET_CHARS - 1)}…` : flat;
}

export function renderHits(result: SearchResult): string {
  const about = `${result.mode}, model ${result.model}${result.reranker ? `, reranked by ${result.reranker}` : ""}, ${result.took_ms.toFixed(1)} ms`;
  if (result.results.length === 0) return `No results (${about}).`;
  const lines = result.results.map((hit, i) => {
    // The chunk id already names the file; the citation adds where in it.
    const where = citation(hit.metadata, { source: false });
    return `${String(i + 1).padStart(2)}. ${hit.score.toFixed(3)}  ${hit.chunk_id}${where ? `  (${where})` : ""}\n    ${snippet(hit.text)}`;
  });
  lines.push(`${count(result.results.length, "result")} (${about}).`);
  return lines.join("\n");
}

function isSearchMode(mode: string): mode is SearchMode {
  return (SEARCH_MODES as readonly string[]).includes(mode);
}

export const searchCommand: Command = {
  name: "search",
  summary: "Search the store by meaning and print the best matching chunks.",
  args: "<query>",
  minArgs: 1,
  maxArgs: Number.POSITIVE_INFINITY,
  options: {
    k: { type: "string", short: "k", value: "<n>", description: `Number of results, 1 to ${LIMITS.maxK} (default 5).` },
    collection: { type: "string", value: "<name>", description: "Search only this collection." },
    mode: {
      type: "string",
      value: "<mode>",
      description: "hybrid (default: meaning and exact words fused), vector (meaning only) or keyword (BM25, words only).",
    },
    json: { type: "boolean", description: "Print the results (full text and metadata) as JSON." },
    reranker: RERANKER_OPTION,
  },
  details: "Several words need no quotes: `retrieval-mcp search crash safe writes` searches for \"crash safe writes\".",
  async run(context) {
    const k = intOption(context.values, "k", 1, LIMITS.maxK, 5, "search");
    const collection = stringValue(context.values, "collection");
    const mode = stringValue(context.values, "mode") ?? "hybrid";
    if (!isSearchMode(mode)) throw new UsageError(`--mode must be one of ${SEARCH_MODES.join(", ")}, got ${JSON.stringify(mode)}.`, "search");
    const query = context.positionals.join(" ");
    const reranker = await rerankerOption(context, "search");
    const result = await withExistingStore(context, (store) => store.search({ query, k, mode, ...(collection === undefined ? {} : { collection }) }), reranker);
    process.stdout.write((context.values.json ? JSON.stringify(result, null, 2) : renderHits(result)) + "\n");
    return 0;
  },
};
