import type { Command } from "../cli/command.js";
import { intOption, stringValue } from "../cli/parse.js";
import { LIMITS } from "../store/schemas.js";
import type { SearchResult } from "../store/store.js";
import { withStore } from "./open-store.js";

const SNIPPET_CHARS = 160;

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > SNIPPET_CHARS ? `${flat.slice(0, SNIPPET_CHARS - 1)}…` : flat;
}

export function renderHits(result: SearchResult): string {
  if (result.results.length === 0) return `No results (model ${result.model}, ${result.took_ms.toFixed(1)} ms).`;
  const lines = result.results.map((hit, i) => `${String(i + 1).padStart(2)}. ${hit.score.toFixed(3)}  ${hit.chunk_id}\n    ${snippet(hit.text)}`);
  lines.push(`${result.results.length} result${result.results.length === 1 ? "" : "s"} (model ${result.model}, ${result.took_ms.toFixed(1)} ms).`);
  return lines.join("\n");
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
    json: { type: "boolean", description: "Print the results (full text and metadata) as JSON." },
  },
  details: "Several words need no quotes: `retrieval-mcp search crash safe writes` searches for \"crash safe writes\".",
  async run(context) {
    const k = intOption(context.values, "k", 1, LIMITS.maxK, 5, "search");
    const collection = stringValue(context.values, "collection");
    const query = context.positionals.join(" ");
    const result = await withStore(context, (store) => store.search({ query, k, ...(collection === undefined ? {} : { collection }) }));
    process.stdout.write((context.values.json ? JSON.stringify(result, null, 2) : renderHits(result)) + "\n");
    return 0;
  },
};
