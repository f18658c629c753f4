import { describe, expect, it } from "vitest";
import { HashEmbedder } from "../src/embed/hash.js";
import type { EmbedOptions } from "../src/embed/embedder.js";
import { connectInMemory, ok, textOf, type Session } from "./helpers/mcp.js";
import { DIM, openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();

async function withSession(run: (s: Session, dataDir: string) => Promise<void>, open?: (dir: string) => Parameters<typeof connectInMemory>[1]): Promise<void> {
  const dir = tempDir();
  const session = await connectInMemory(dir, open?.(dir));
  try {
    await run(session, dir);
  } finally {
    await session.close();
  }
}

const CORPUS = [
  { chunk_id: "rust", text: "Rust guarantees memory safety through ownership and borrowing.", doc_id: "langs.md", metadata: { lang: "en", tags: ["systems"] } },
  { chunk_id: "bread", text: "Sourdough bread rises slowly with wild yeast and lactobacilli.", doc_id: "food.md", metadata: { lang: "en" } },
  { chunk_id: "brot", text: "Sauerteigbrot geht langsam mit wilder Hefe auf.", doc_id: "food.md", metadata: { lang: "de" } },
];

describe("MCP tools over an in-memory client", () => {
  it("lists every tool with schemas and annotations without opening the store", async () => {
    await withSession(async (s) => {
      const { tools } = await s.client.listTools();
      const byName = new Map(tools.map((t) => [t.name, t]));
      expect([...byName.keys()].sort()).toEqual(["delete_chunk", "embedding_status", "get_chunk", "index_chunk", "index_chunks", "semantic_search"]);
      for (const tool of tools) {
        expect(tool.title, tool.name).toBeTruthy();
        expect(tool.description!.length, tool.name).toBeGreaterThan(80);
        expect(tool.outputSchema, tool.name).toBeDefined();
      }
      expect(byName.get("semantic_search")!.annotations).toMatchObject({ readOnlyHint: true });
      expect(byName.get("embedding_status")!.annotations).toMatchObject({ readOnlyHint: true });
      expect(byName.get("get_chunk")!.annotations).toMatchObject({ readOnlyHint: true });
      expect(byName.get("delete_chunk")!.annotations).toMatchObject({ destructiveHint: true, idempotentHint: true });
      expect(byName.get("index_chunk")!.annotations).toMatchObject({ idempotentHint: true });
      expect(byName.get("index_chunk")!.inputSchema.properties!.text).toMatchObject({ type: "string", description: expect.any(String) });
      expect(s.opens()).toBe(0);
    });
  });

  it("indexes a chunk, finds it by meaning and answers an identical re-index as unchanged", async () => {
    await withSession(async (s) => {
      const indexed = ok(await s.call("index_chunk", CORPUS[0]!));
      expect(indexed).toMatchObject({ chunk_id: "rust", status: "committed" });
      expect(indexed.content_hash).toMatch(/^[0-9a-f]{64}$/);
      for (const chunk of CORPUS.slice(1)) ok(await s.call("index_chunk", chunk));

      const result = await s.call("semantic_search", { query: "memory safety ownership", k: 2 });
      const found = ok(result);
      expect(found.results[0]).toMatchObject({ chunk_id: "rust", doc_id: "langs.md", collection: "default", metadata: { lang: "en", tags: ["systems"] }, text: CORPUS[0]!.text });
      expect(found.results[0]).not.toHaveProperty("vector");
      expect(found.results).toHaveLength(2);
      expect(found.model).toBe(`hash:${DIM}`);
      expect(textOf(result)).toMatch(/^2 results for "memory safety ownership"/);
      expect(textOf(result)).toContain(`1. [${found.results[0].score.toFixed(3)}] rust (doc langs.md)\n${CORPUS[0]!.text}`);

      const again = ok(await s.call("index_chunk", CORPUS[0]!));
      expect(again).toEqual({ ...indexed, status: "unchanged" });
      const changed = ok(await s.call("index_chunk", { ...CORPUS[0]!, metadata: { lang: "en" } }));
      expect(changed.status).toBe("committed");
      expect(changed.generation).toBeGreaterThan(indexed.generation);
    });
  });

  it("derives a stable chunk_id from the content when none is given", async () => {
    await withSession(async (s) => {
      const first = ok(await s.call("index_chunk", { text: "a chunk without an id" }));
      expect(first.chunk_id).toMatch(/^c_[0-9a-f]{32}$/);
      const second = ok(await s.call("index_chunk", { text: "a chunk without an id" }));
      expect(second).toMatchObject({ chunk_id: first.chunk_id, status: "unchanged" });
    });
  });

  it("narrows search by collection, doc_id, metadata filter and min_score, and bounds text by max_chars", async () => {
    await withSession(async (s) => {
      ok(await s.call("index_chunks", { chunks: CORPUS }));
      ok(await s.call("index_chunk", { chunk_id: "other", text: "Sourdough in another collection", collection: "notes" }));
      const ids = async (args: Record<string, unknown>) => ok(await s.call("semantic_search", { query: "sourdough bread yeast", k: 10, ...args })).results.map((r: { chunk_id: string }) => r.chunk_id);

      expect(await ids({ collection: "notes" })).toEqual(["other"]);
      // Vector mode returns the nearest whatever they are; hybrid leaves out "brot", which shares no word with the query and is the farthest.
      expect((await ids({ doc_id: "food.md", mode: "vector" })).sort()).toEqual(["bread", "brot"]);
      expect(await ids({ doc_id: "food.md" })).toEqual(["bread"]);
      expect(await ids({ filter: { lang: "de" } })).toEqual(["brot"]);
      expect((await ids({ filter: { lang: ["de", "en"] }, doc_id: "food.md", mode: "vector" })).sort()).toEqual(["bread", "brot"]);
      expect(await ids({ filter: { tags: "systems" } })).toEqual(["rust"]);
      // Hybrid scores run 0..1 (1 = best by both retrievers); cosine similarity of a partial match stays well below 0.99.
      expect(await ids({ min_score: 0.99 })).toEqual(["bread"]);
      expect(await ids({ mode: "vector", min_score: 0.99 })).toEqual([]);

      const cut = ok(await s.call("semantic_search", { query: "sourdough bread", k: 1, max_chars: 9 }));
      expect(cut.results[0]).toMatchObject({ chunk_id: "bread", text: "Sourdough", truncated: true });
      const whole = ok(await s.call("semantic_search", { query: "sourdough bread", k: 1 }));
      expect(whole.results[0]).toMatchObject({ text: CORPUS[1]!.text, truncated: false });
    });
  });

  it("answers wait:false with pending, then embedding_status reports the chunk committed", async () => {
    await withSession(async (s) => {
      const stored = ok(await s.call("index_chunk", { chunk_id: "later", text: "embedded in the background", wait: false }));
      expect(stored).toMatchObject({ chunk_id: "later", status: "pending" });
      await (await s.store.get()).settle();

      const status = ok(await s.call("embedding_status", { chunk_ids: ["later", "never"] }));
      expect(status.counts).toEqual({ pending: 0, committed: 1, tombstone: 0 });
      expect(status.chunks).toEqual([
        { chunk_id: "later", status: "committed", generation: stored.generation, vector_committed: true, committed_generation: stored.generation },
        { chunk_id: "never", status: "missing", generation: null, vector_committed: false, committed_generation: null },
      ]);
      expect(ok(await s.call("semantic_search", { query: "embedded in the background" })).results[0].chunk_id).toBe("later");
    });
  });

  it("reports counts, model and Lance state in embedding_status", async () => {
    await withSession(async (s) => {
      const empty = ok(await s.call("embedding_status", {}));
      expect(empty).toMatchObject({ counts: { pending: 0, committed: 0, tombstone: 0 }, total_chunks: 0, lance: null, model: { provider: "hash", bound: false } });
      expect(empty).not.toHaveProperty("chunks");
      expect(empty.memory.lance_cache.live_index_bytes).toBeNull();

      ok(await s.call("index_chunks", { chunks: CORPUS }));
      ok(await s.call("delete_chunk", { chunk_id: "brot" }));
      const status = ok(await s.call("embedding_status", {}));
      expect(status).toMatchObject({
        counts: { pending: 0, committed: 2, tombstone: 1 },
        total_chunks: 2,
        tombstones_awaiting_gc: 1,
        oldest_pending_age_ms: null,
        model: { provider: "hash", name: String(DIM), dimension: DIM, distance: "dot", bound: true },
      });
      expect(status.lance.rows).toBe(3);
      const result = await s.call("embedding_status", {});
      expect(textOf(result)).toContain("2 chunks: 2 committed, 0 pending, 1 deleted awaiting cleanup.");

      await (await s.store.get()).gc();
      expect(ok(await s.call("embedding_status", {}))).toMatchObject({ counts: { tombstone: 0 }, lance: { rows: 2 }, last_gc: { ok: true } });
      // What the caches are weighed against: the indexes an optimize created, by Lance's count of their files.
      await (await s.store.get()).optimize();
      const indexed = await s.call("embedding_status", {});
      expect(ok(indexed).memory.lance_cache.live_index_bytes).toBeGreaterThan(0);
      expect(textOf(indexed)).toMatch(/Lance caches .*; live indexes [\d.]+ MiB\./);
    });
  });

  it("deletes by id, by ids and by document; deleted chunks never come back from search", async () => {
    await withSession(async (s) => {
      ok(await s.call("index_chunks", { chunks: CORPUS }));
      const deleted = ok(await s.call("delete_chunk", { chunk_id: "rust" }));
      expect(deleted).toEqual({ deleted: 1, chunk_ids: ["rust"], pending_gc: 1 });
      const hits = ok(await s.call("semantic_search", { query: "memory safety ownership", k: 10 })).results;
      expect(hits.map((r: { chunk_id: string }) => r.chunk_id)).not.toContain("rust");

      expect(ok(await s.call("delete_chunk", { chunk_id: "rust" }))).toMatchObject({ deleted: 0, chunk_ids: [] });
      expect(ok(await s.call("delete_chunk", { doc_id: "food.md", collection: "elsewhere" }))).toMatchObject({ deleted: 0 });
      const byDoc = ok(await s.call("delete_chunk", { doc_id: "food.md" }));
      expect(byDoc.chunk_ids.sort()).toEqual(["bread", "brot"]);
      expect(ok(await s.call("semantic_search", { query: "sourdough bread" })).results).toEqual([]);

      ok(await s.call("index_chunks", { chunks: CORPUS }));
      expect(ok(await s.call("delete_chunk", { chunk_ids: ["rust", "brot", "nope"] })).chunk_ids.sort()).toEqual(["brot", "rust"]);
    });
  });

  it("fetches whole chunks by id, by ids and by document with get_chunk", async () => {
    await withSession(async (s) => {
      ok(await s.call("index_chunks", { chunks: CORPUS }));
      const one = ok(await s.call("get_chunk", { chunk_id: "rust" }));
      expect(one.missing).toEqual([]);
      expect(one.chunks).toEqual([
        expect.objectContaining({ chunk_id: "rust", text: CORPUS[0]!.text, doc_id: "langs.md", collection: "default", metadata: CORPUS[0]!.metadata, status: "committed", truncated: false }),
      ]);
      expect(one.chunks[0]).not.toHaveProperty("vector");

      const some = ok(await s.call("get_chunk", { chunk_ids: ["brot", "nope", "rust"], max_chars: 4 }));
      expect(some.chunks.map((c: { chunk_id: string; text: string }) => [c.chunk_id, c.text])).toEqual([["brot", "Saue"], ["rust", "Rust"]]);
      expect(some.missing).toEqual(["nope"]);

      const doc = ok(await s.call("get_chunk", { doc_id: "food.md" }));
      expect(doc.chunks.map((c: { chunk_id: string }) => c.chunk_id)).toEqual(["bread", "brot"]);
    });
  });

  it("indexes a batch in one call and streams progress notifications to the client", async () => {
    await withSession(async (s) => {
      const chunks = Array.from({ length: 300 }, (_, i) => ({ chunk_id: `c${i}`, text: `chunk number ${i} about topic ${i % 7}`, doc_id: `doc${i % 10}` }));
      const progress: { progress: number; total?: number }[] = [];
      const result = (await s.client.callTool({ name: "index_chunks", arguments: { chunks } }, undefined, { onprogress: (p) => progress.push(p) })) as Parameters<typeof ok>[0];
      const out = ok(result);
      expect(out).toMatchObject({ committed: 300, pending: 0, unchanged: 0 });
      expect(out.results.map((r: { chunk_id: string }) => r.chunk_id)).toEqual(chunks.map((c) => c.chunk_id));
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect(progress.at(-1)).toMatchObject({ progress: 300, total: 300 });
      for (let i = 1; i < progress.length; i++) expect(progress[i]!.progress).toBeGreaterThan(progress[i - 1]!.progress);

      const store = await s.store.get();
      expect((await store.status()).lance?.version).toBeDefined();

      const mixed = [...chunks.slice(0, 100), { chunk_id: "new", text: "a fresh one" }];
      const again = ok(await s.call("index_chunks", { chunks: mixed }));
      expect(again).toMatchObject({ committed: 1, unchanged: 100 });
      expect(textOf(await s.call("index_chunks", { chunks: mixed }))).toBe("101 chunks: 0 committed, 0 pending, 101 unchanged.");
    });
  });

  it("answers a store that cannot open with an actionable error, and retries on the next call", async () => {
    await withSession(
      async (s, dir) => {
        const bound = await openStore(dir);
        await bound.index({ chunk_id: "x", text: "bound to the 64-d hash model" });
        await bound.close();

        const refused = await s.call("semantic_search", { query: "anything" });
        expect(refused.isError).toBe(true);
        expect(textOf(refused)).toMatch(/bound to the embedder hash:64.*--embedder hash:64/);
        expect(textOf(refused)).not.toMatch(/\n\s+at /);
        expect(s.opens()).toBe(1);
        expect((await s.call("embedding_status", {})).isError).toBe(true);
        expect(s.opens()).toBe(2);
      },
      (dir) => () => openStore(dir, { embedder: new HashEmbedder(32) }),
    );
  });

  it("stops embedding when the client cancels, leaving nothing written", async () => {
    let started!: () => void;
    const embedding = new Promise<void>((resolve) => (started = resolve));
    // An embedder that never finishes on its own: only the request's AbortSignal ends it.
    class StuckEmbedder extends HashEmbedder {
      override embed(_texts: readonly string[], options: EmbedOptions): Promise<Float32Array[]> {
        started();
        return new Promise((_, reject) => options.signal?.addEventListener("abort", () => reject(options.signal!.reason)));
      }
    }
    await withSession(
      async (s) => {
        const controller = new AbortController();
        const call = s.client.callTool({ name: "index_chunk", arguments: { chunk_id: "cancelled", text: "never written" } }, undefined, { signal: controller.signal });
        await embedding;
        controller.abort();
        await expect(call).rejects.toThrow();
        const status = ok(await s.call("embedding_status", { chunk_ids: ["cancelled"] }));
        expect(status.counts).toEqual({ pending: 0, committed: 0, tombstone: 0 });
        expect(status.chunks[0].status).toBe("missing");
        expect(ok(await s.call("get_chunk", { chunk_id: "cancelled" })).missing).toEqual(["cancelled"]);
      },
      (dir) => () => openStore(dir, { embedder: new StuckEmbedder(DIM) }),
    );
  });
});
