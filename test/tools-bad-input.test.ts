import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectInMemory, ok, textOf, type Session } from "./helpers/mcp.js";

interface BadCase {
  tool: string;
  why: string;
  args: Record<string, unknown>;
  /** What the message must say: the field at fault, and the rule. */
  message: RegExp;
}

const FIVE_MB = "x".repeat(5 * 1024 * 1024);
const chunks = (n: number) => Array.from({ length: n }, (_, i) => ({ chunk_id: `b${i}`, text: `batch chunk ${i}` }));

const CASES: BadCase[] = [
  // index_chunk
  { tool: "index_chunk", why: "missing text", args: { chunk_id: "a" }, message: /text is required \(a string\)\./ },
  { tool: "index_chunk", why: "text of the wrong type", args: { text: 42 }, message: /^Invalid arguments for index_chunk: text must be a string, not a number\.$/ },
  { tool: "index_chunk", why: "empty text", args: { text: "" }, message: /text must not be empty/ },
  { tool: "index_chunk", why: "5 MB text", args: { text: FIVE_MB }, message: /text must be at most 1 MiB/ },
  { tool: "index_chunk", why: "empty chunk_id", args: { text: "t", chunk_id: "" }, message: /chunk_id must not be empty/ },
  { tool: "index_chunk", why: "chunk_id with a newline", args: { text: "t", chunk_id: "a\nb" }, message: /chunk_id must not contain control characters/ },
  { tool: "index_chunk", why: "chunk_id with NUL", args: { text: "t", chunk_id: "a\u0000b" }, message: /chunk_id must not contain control characters/ },
  { tool: "index_chunk", why: "chunk_id too long", args: { text: "t", chunk_id: "x".repeat(257) }, message: /chunk_id must be at most 256 characters/ },
  { tool: "index_chunk", why: "collection too long", args: { text: "t", collection: "c".repeat(65) }, message: /collection must be at most 64 characters/ },
  { tool: "index_chunk", why: "doc_id with a tab", args: { text: "t", doc_id: "a\tb" }, message: /doc_id must not contain control characters/ },
  { tool: "index_chunk", why: "nested metadata", args: { text: "t", metadata: { k: { nested: 1 } } }, message: /metadata/ },
  { tool: "index_chunk", why: "metadata list of numbers", args: { text: "t", metadata: { k: [1, 2] } }, message: /metadata/ },
  { tool: "index_chunk", why: "metadata not an object", args: { text: "t", metadata: "lang=en" }, message: /metadata must be a flat JSON object/ },
  { tool: "index_chunk", why: "metadata key with a control character", args: { text: "t", metadata: { "a\u0001": "x" } }, message: /metadata/ },
  { tool: "index_chunk", why: "too many metadata keys", args: { text: "t", metadata: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i])) }, message: /metadata holds at most 64 keys/ },
  { tool: "index_chunk", why: "wait not a boolean", args: { text: "t", wait: "no" }, message: /wait must be a boolean, not a string\./ },
  { tool: "index_chunk", why: "unknown field", args: { text: "t", metadta: {} }, message: /unknown field "metadta"; remove it or check the spelling\./ },
  // index_chunks
  { tool: "index_chunks", why: "no chunks", args: { chunks: [] }, message: /chunks must hold at least one chunk/ },
  { tool: "index_chunks", why: "1001 chunks", args: { chunks: chunks(1001) }, message: /chunks holds at most 1000 chunks per call/ },
  { tool: "index_chunks", why: "chunks not a list", args: { chunks: { text: "t" } }, message: /chunks must be an array, not an object\./ },
  { tool: "index_chunks", why: "one bad chunk among good ones", args: { chunks: [...chunks(3), { chunk_id: "bad", text: "" }] }, message: /chunks\[3\]\.text must not be empty\./ },
  { tool: "index_chunks", why: "duplicate chunk_id in one batch", args: { chunks: [...chunks(2), { chunk_id: "b0", text: "again" }] }, message: /"b0" appears more than once/ },
  // semantic_search
  { tool: "semantic_search", why: "missing query", args: {}, message: /query/ },
  { tool: "semantic_search", why: "empty query", args: { query: "" }, message: /query must contain some text/ },
  { tool: "semantic_search", why: "blank query", args: { query: "   " }, message: /query must contain some text/ },
  { tool: "semantic_search", why: "query of the wrong type", args: { query: ["a"] }, message: /query must be a string, not an array\./ },
  { tool: "semantic_search", why: "k = 0", args: { query: "q", k: 0 }, message: /k must be at least 1/ },
  { tool: "semantic_search", why: "k = 10000", args: { query: "q", k: 10_000 }, message: /k must be at most 50/ },
  { tool: "semantic_search", why: "fractional k", args: { query: "q", k: 2.5 }, message: /k must be a whole number/ },
  { tool: "semantic_search", why: "k as a string", args: { query: "q", k: "5" }, message: /k must be a number, not a string\./ },
  { tool: "semantic_search", why: "filter value an object", args: { query: "q", filter: { lang: { $ne: "en" } } }, message: /filter/ },
  { tool: "semantic_search", why: "filter not an object", args: { query: "q", filter: "lang = 'en'" }, message: /filter must map metadata keys/ },
  { tool: "semantic_search", why: "empty filter list", args: { query: "q", filter: { lang: [] } }, message: /a filter list needs at least one value/ },
  { tool: "semantic_search", why: "filter key with a control character", args: { query: "q", filter: { "l\nang": "en" } }, message: /filter/ },
  { tool: "semantic_search", why: "min_score not a number", args: { query: "q", min_score: "high" }, message: /min_score/ },
  { tool: "semantic_search", why: "unknown collection", args: { query: "q", collection: "no-such-collection" }, message: /collection: no chunk is in collection "no-such-collection"/ },
  { tool: "semantic_search", why: "unknown mode", args: { query: "q", mode: "fuzzy" }, message: /mode must be one of hybrid, vector, keyword/ },
  { tool: "semantic_search", why: "unknown filter operator", args: { query: "q", filter: { year: { between: [1, 2] } } }, message: /filter/ },
  { tool: "semantic_search", why: "empty filter condition", args: { query: "q", filter: { year: {} } }, message: /filter/ },
  { tool: "semantic_search", why: "max_chars = 0", args: { query: "q", max_chars: 0 }, message: /max_chars must be at least 1\./ },
  { tool: "semantic_search", why: "collection with a control character", args: { query: "q", collection: "a\u0085" }, message: /collection must not contain control characters/ },
  // delete_chunk
  { tool: "delete_chunk", why: "no selector", args: {}, message: /give exactly one of chunk_id, chunk_ids or doc_id/ },
  { tool: "delete_chunk", why: "two selectors", args: { chunk_id: "a", doc_id: "d" }, message: /give exactly one of chunk_id, chunk_ids or doc_id/ },
  { tool: "delete_chunk", why: "empty chunk_ids", args: { chunk_ids: [] }, message: /chunk_ids must list at least one id/ },
  { tool: "delete_chunk", why: "collection without doc_id", args: { chunk_id: "a", collection: "c" }, message: /collection only narrows a doc_id delete/ },
  { tool: "delete_chunk", why: "chunk_id with a control character", args: { chunk_id: "a\rb" }, message: /chunk_id must not contain control characters/ },
  { tool: "delete_chunk", why: "chunk_ids of the wrong type", args: { chunk_ids: "a,b" }, message: /chunk_ids must be an array, not a string\./ },
  // embedding_status
  { tool: "embedding_status", why: "chunk_ids not a list", args: { chunk_ids: "a" }, message: /chunk_ids must be an array, not a string\./ },
  { tool: "embedding_status", why: "empty chunk_ids", args: { chunk_ids: [] }, message: /chunk_ids must list at least one id/ },
  { tool: "embedding_status", why: "1001 chunk_ids", args: { chunk_ids: chunks(1001).map((c) => c.chunk_id) }, message: /chunk_ids takes at most 1000 ids/ },
  // get_chunk
  { tool: "get_chunk", why: "no selector", args: {}, message: /give exactly one of chunk_id, chunk_ids or doc_id/ },
  { tool: "get_chunk", why: "two selectors", args: { chunk_id: "a", chunk_ids: ["b"] }, message: /give exactly one of chunk_id, chunk_ids or doc_id/ },
  { tool: "get_chunk", why: "chunk_id of the wrong type", args: { chunk_id: 7 }, message: /chunk_id must be a string, not a number\./ },
  { tool: "get_chunk", why: "chunk_id with a control character", args: { chunk_id: "\u001b[31m" }, message: /chunk_id must not contain control characters/ },
  { tool: "get_chunk", why: "neighbors above 5", args: { chunk_id: "seed", neighbors: 6 }, message: /neighbors must be at most 5/ },
  { tool: "get_chunk", why: "negative neighbors", args: { chunk_id: "seed", neighbors: -1 }, message: /neighbors must be at least 0/ },
  { tool: "get_chunk", why: "neighbors with doc_id", args: { doc_id: "d", neighbors: 1 }, message: /neighbors works with chunk_id only/ },
];

describe("bad input to every tool", () => {
  // One store for the whole table, so "unchanged" accumulates over every case.
  const dataDir = mkdtempSync(join(tmpdir(), "retrieval-mcp-bad-input-"));
  let session: Session;
  let before: unknown;

  const snapshot = async () => {
    const status = ok(await session.call("embedding_status", {}));
    const store = await session.store.get();
    return { counts: status.counts, total: status.total_chunks, rows: status.lance?.rows, version: status.lance?.version, chunks: (await store.get(["seed", ...chunks(1001).map((c) => c.chunk_id), "bad", "a"])).length };
  };

  beforeAll(async () => {
    session = await connectInMemory(dataDir);
    ok(await session.call("index_chunk", { chunk_id: "seed", text: "a chunk that must survive every bad call" }));
    before = await snapshot();
  });
  afterAll(async () => {
    await session.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it.each(CASES)("$tool rejects $why", async ({ tool, args, message }) => {
    const result = await session.call(tool, args);
    const text = textOf(result);
    expect(result.isError, text).toBe(true);
    expect(text).toMatch(message);
    // Sentences that name the field: no "MCP error -32602", no trailing "at <path>".
    expect(text).toMatch(/^(Invalid arguments for \w+: )?\S.*[.)]$/s);
    expect(text).not.toMatch(/ at [\w.[\]]+$|MCP error/);
    // Never a stack trace in the agent's context.
    expect(text).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
    // Not the whole 5 MB echoed back either.
    expect(text.length).toBeLessThan(2000);
    expect(await snapshot()).toEqual(before);
  });

  it("matches a filter value with SQL in it only literally", async () => {
    const injection = "x' OR '1'='1";
    ok(await session.call("index_chunks", { chunks: [
      { chunk_id: "inj-1", text: "filter injection probe", metadata: { k: injection } },
      { chunk_id: "inj-2", text: "filter injection probe", metadata: { k: "y" } },
      { chunk_id: "inj-3", text: "filter injection probe", collection: injection },
    ] }));
    const ids = async (args: Record<string, unknown>) => ok(await session.call("semantic_search", { query: "filter injection probe", k: 50, ...args })).results.map((r: { chunk_id: string }) => r.chunk_id);
    expect(await ids({ filter: { k: injection } })).toEqual(["inj-1"]);
    expect(await ids({ filter: { k: "y" } })).toEqual(["inj-2"]);
    // The collection and doc_id reach Lance's prefilter as SQL text: quoted, they only ever compare.
    for (const mode of ["vector", "keyword", "hybrid"]) expect(await ids({ collection: injection, mode })).toEqual(["inj-3"]);
    expect(await ids({ doc_id: "' OR 1=1 --" })).toEqual([]);
    expect((await ids({ mode: "vector" })).sort()).toEqual(["inj-1", "inj-2", "inj-3", "seed"]);
  });
});
