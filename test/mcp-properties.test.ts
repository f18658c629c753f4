import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, expect, test } from "vitest";
import { connectInMemory, textOf, type Session } from "./helpers/mcp.js";

/**
 * Random tool calls over MCP (the SDK Client, in memory) against a real
 * store: each call either succeeds with structured content that matches
 * the tool's output schema (the SDK Client checks it against the schema
 * from tools/list and throws when it does not) or answers isError with a
 * message for the caller, and then the store is exactly as before. Reads
 * never change the store either.
 *
 * CI runs a fixed seed; RETRIEVAL_MCP_PROPERTY_RUNS=2000 (and
 * RETRIEVAL_MCP_PROPERTY_SEED=<n>, or "random") runs longer or elsewhere.
 */
const RUNS = Number(process.env.RETRIEVAL_MCP_PROPERTY_RUNS || 150);
const SEED_SETTING = process.env.RETRIEVAL_MCP_PROPERTY_SEED || "424242";
const SEED = SEED_SETTING === "random" ? Math.floor(Math.random() * 2 ** 31) : Number(SEED_SETTING);

const READ_ONLY_TOOLS = new Set(["semantic_search", "get_chunk", "embedding_status"]);

// ------------------------------------------------------------------ inputs

/** Ids mostly from a small pool, so calls meet each other's chunks; sometimes anything, including what the schema refuses. */
const POOL = ["a", "b", "c", "d", "doc/1#0", "ünï", "x".repeat(256)];
const id = fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...POOL) }, fc.string({ maxLength: 300 }), fc.constantFrom("", "a\nb", "\u0000", "x".repeat(257)));
const docId = fc.oneof(fc.constantFrom("doc-1", "doc-2", "doc/1"), fc.string({ maxLength: 20 }));
const collection = fc.oneof({ weight: 4, arbitrary: fc.constantFrom("default", "notes", "code") }, fc.string({ maxLength: 70 }));
const words = fc.array(fc.constantFrom("tide", "moon", "bread", "yeast", "lighthouse", "the", "of", "naïve", "東京", "x_y", "getUserName", "'", '"', "*", "OR", "NEAR(", "-", "^"), {
  minLength: 1,
  maxLength: 8,
}).map((w) => w.join(" "));
const text = fc.oneof({ weight: 12, arbitrary: words }, fc.string({ maxLength: 200 }), fc.constant(""), fc.constant(" "));
const scalar = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const metadata = fc.oneof(
  { weight: 10, arbitrary: fc.dictionary(fc.constantFrom("lang", "year", "tags", "draft"), fc.oneof(scalar, fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 })), { maxKeys: 4 }) },
  fc.jsonValue({ maxDepth: 2 }),
);
const condition = fc.dictionary(fc.constantFrom("eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "exists", "contains", "contains_all", "contains_any", "between"), fc.oneof(scalar, fc.array(scalar, { maxLength: 3 })), {
  maxKeys: 3,
});
const filter = fc.oneof(
  { weight: 10, arbitrary: fc.dictionary(fc.constantFrom("lang", "year", "tags", "draft"), fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), condition), { maxKeys: 3 }) },
  fc.jsonValue({ maxDepth: 2 }),
);
/** Sometimes a value of the wrong type, or a field the tool does not know. */
const anyJson = fc.jsonValue({ maxDepth: 1 });
const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.oneof({ weight: 20, arbitrary }, anyJson);

const chunk = fc.record(
  { text: maybe(text), chunk_id: maybe(id), doc_id: maybe(docId), collection: maybe(collection), metadata },
  { requiredKeys: ["text"] },
);
const ids = fc.array(id, { minLength: 1, maxLength: 4 });
/** Usually exactly one of chunk_id, chunk_ids, doc_id (+ collection), as the tools ask; sometimes any mix. */
const selector = fc.oneof(
  { weight: 8, arbitrary: fc.oneof(fc.record({ chunk_id: maybe(id) }), fc.record({ chunk_ids: maybe(ids) }), fc.record({ doc_id: maybe(docId), collection }, { requiredKeys: ["doc_id"] })) },
  { weight: 2, arbitrary: fc.record({ chunk_id: maybe(id), chunk_ids: maybe(fc.array(id, { maxLength: 4 })), doc_id: maybe(docId), collection }, { requiredKeys: [] }) },
);

const call = fc.oneof(
  fc.record({ name: fc.constant("index_chunk"), arguments: fc.tuple(chunk, fc.record({ wait: maybe(fc.boolean()) }, { requiredKeys: [] })).map(([c, w]) => ({ ...c, ...w })) }),
  fc.record({ name: fc.constant("index_chunks"), arguments: fc.record({ chunks: maybe(fc.array(chunk, { minLength: 1, maxLength: 5 })), wait: maybe(fc.boolean()) }, { requiredKeys: ["chunks"] }) }),
  fc.record({
    name: fc.constant("semantic_search"),
    arguments: fc.record(
      {
        query: maybe(text),
        k: maybe(fc.oneof({ weight: 4, arbitrary: fc.integer({ min: -2, max: 60 }) }, fc.double())),
        collection: maybe(collection),
        doc_id: maybe(docId),
        filter,
        mode: maybe(fc.constantFrom("hybrid", "vector", "keyword", "fuzzy")),
        min_score: maybe(fc.double()),
        max_chars: maybe(fc.integer({ min: -1, max: 50 })),
      },
      { requiredKeys: ["query"] },
    ),
  }),
  fc.record({ name: fc.constant("get_chunk"), arguments: fc.tuple(selector, fc.record({ max_chars: maybe(fc.integer({ min: -1, max: 20 })) }, { requiredKeys: [] })).map(([s, m]) => ({ ...s, ...m })) }),
  fc.record({ name: fc.constant("delete_chunk"), arguments: selector }),
  fc.record({ name: fc.constant("embedding_status"), arguments: fc.record({ chunk_ids: maybe(ids) }, { requiredKeys: [] }) }),
  { weight: 1, arbitrary: fc.record({ name: fc.constantFrom("index_chunk", "semantic_search", "delete_chunk"), arguments: fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 3 }) }) },
);

// ------------------------------------------------------------------ the property

const dataDir = mkdtempSync(join(tmpdir(), "retrieval-mcp-properties-"));
let session: Session;
/** Every id a call has named, so a snapshot covers each chunk a call could have touched. */
const named = new Set<string>(POOL);

beforeAll(async () => {
  session = await connectInMemory(dataDir);
  // The Client validates structured content only against output schemas it has listed.
  await session.client.listTools();
});
afterAll(async () => {
  await session.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function collectIds(value: unknown): void {
  if (typeof value === "string") named.add(value);
  else if (Array.isArray(value)) value.forEach(collectIds);
  else if (value && typeof value === "object") Object.values(value).forEach(collectIds);
}

/** The store as a caller could observe it, once background writes (wait: false) have finished. */
async function snapshot(): Promise<string> {
  const store = await session.store.get();
  await store.settle();
  const status = await store.status();
  const chunks = (await store.get([...named])).map((c) => [c.chunk_id, c.generation, c.status, c.text, c.collection, c.doc_id, c.metadata]);
  return JSON.stringify({ counts: status.counts, chunks: status.chunks, lance: status.lance && [status.lance.version, status.lance.rows], records: chunks });
}

test(`random tool calls over MCP answer with a valid result, or isError and the store unchanged (${RUNS} runs, seed ${SEED})`, async () => {
  let errors = 0;
  let successes = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 6 }), async (calls) => {
      for (const { name, arguments: args } of calls) {
        collectIds(args);
        const before = await snapshot();
        // Throws when structured content does not match the output schema.
        const result = await session.client.callTool({ name, arguments: args as Record<string, unknown> });
        const message = textOf(result as Parameters<typeof textOf>[0]);
        if (result.isError) {
          errors++;
          expect(message.length, `${name} ${JSON.stringify(args)}`).toBeGreaterThan(0);
          expect(message, `${name} ${JSON.stringify(args)}`).not.toMatch(/failed unexpectedly|\n\s+at /);
          expect(await snapshot(), `${name} ${JSON.stringify(args)} failed with "${message}" but changed the store`).toBe(before);
        } else {
          successes++;
          expect(result.structuredContent, `${name} ${JSON.stringify(args)}`).toBeDefined();
          if (READ_ONLY_TOOLS.has(name)) expect(await snapshot(), `${name} ${JSON.stringify(args)} is a read but changed the store`).toBe(before);
        }
      }
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: true },
  );
  console.log({ errors, successes });
  // Both outcomes must have been exercised for the property to mean anything.
  expect(errors).toBeGreaterThan(RUNS / 4);
  expect(successes).toBeGreaterThan(RUNS / 4);
  // Later runs cost more (the store grows): ~30 ms a run at 150 runs, ~100 ms by 2,000.
}, 60_000 + RUNS * 300);
