import { describe, expect, test } from "vitest";
import { HashEmbedder } from "../src/embed/hash.js";
import { existsSync, readdirSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StoreError } from "../src/store/errors.js";
import { ANN_TRAINING, RECONCILE_WAITS } from "../src/store/maintenance.js";
import { Store, type StoreOptions } from "../src/store/store.js";
import { storeBackends } from "./helpers/backends.js";
import { FaultyEmbedder } from "./helpers/embedders.js";
import { DIM, openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";
import { signal } from "./helpers/signal.js";

const tmp = useTempDirs();

async function lanceVersion(store: Awaited<ReturnType<typeof openStore>>): Promise<number> {
  return (await store.status()).lance?.version ?? 0;
}

describe.each(storeBackends())("write ($name)", (backend) => {
  const open = (options: Partial<StoreOptions> = {}) => openStore(tmp(), options, backend);

  test("index commits, search finds it, re-index of the same content is unchanged without embedding", async () => {
    const embedder = new FaultyEmbedder();
    const store = await open({ embedder });
    const first = await store.index({ text: "Kestrels hover over motorway verges", chunk_id: "k1", metadata: { b: 1, a: "x" } });
    expect(first).toMatchObject({ chunk_id: "k1", status: "committed" });
    expect(first.content_hash).toMatch(/^[0-9a-f]{64}$/);

    const { results } = await store.search({ query: "kestrels hover", k: 1 });
    expect(results.map((r) => r.chunk_id)).toEqual(["k1"]);
    expect(results[0]!.metadata).toEqual({ a: "x", b: 1 });

    const calls = embedder.calls;
    // Key order does not make metadata different.
    const again = await store.index({ text: "Kestrels hover over motorway verges", chunk_id: "k1", metadata: { a: "x", b: 1 } });
    expect(again).toEqual({ ...first, status: "unchanged" });
    expect(embedder.calls).toBe(calls);

    const changedMeta = await store.index({ text: "Kestrels hover over motorway verges", chunk_id: "k1", metadata: { a: "y" } });
    expect(changedMeta.status).toBe("committed");
    expect(changedMeta.generation).toBeGreaterThan(first.generation);
    await store.close();
  });

  test("a chunk_id derived from content makes indexing the same text idempotent", async () => {
    const store = await open();
    const a = await store.index({ text: "same words", doc_id: "d" });
    const b = await store.index({ text: "same words", doc_id: "d" });
    const c = await store.index({ text: "same words", doc_id: "other" });
    expect(b.chunk_id).toBe(a.chunk_id);
    expect(b.status).toBe("unchanged");
    expect(c.chunk_id).not.toBe(a.chunk_id);
    await store.close();
  });

  test("a batch of N chunks is one Lance commit", async () => {
    const store = await open();
    // Past the size below which each write also refreshes the keyword index (a second commit).
    await store.indexMany(Array.from({ length: 2000 }, (_, i) => ({ text: `warm-up chunk ${i}`, chunk_id: `w${i}` })));
    const before = await lanceVersion(store);
    const chunks = Array.from({ length: 200 }, (_, i) => ({ text: `batch chunk number ${i}`, chunk_id: `b${i}` }));
    const results = await store.indexMany(chunks);
    expect(results.every((r) => r.status === "committed")).toBe(true);
    expect(await lanceVersion(store)).toBe(before + 1);
    expect((await store.status()).counts.committed).toBe(2200);
    await store.close();
  });

  test("concurrent single-chunk writes are grouped into few Lance commits", async () => {
    const store = await open();
    await store.index({ text: "warm-up", chunk_id: "w" });
    const before = await lanceVersion(store);
    const n = 100;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => store.index({ text: `concurrent write ${i}`, chunk_id: `c${i}` })));
    expect(results.every((r) => r.status === "committed")).toBe(true);
    const commits = (await lanceVersion(store)) - before;
    expect(commits).toBeGreaterThanOrEqual(1);
    expect(commits).toBeLessThanOrEqual(n / 4);
    await store.close();
  });

  test("wait:false returns pending at once and a background worker commits", async () => {
    const store = await open();
    const result = await store.index({ text: "deferred embedding of this chunk", chunk_id: "p" }, { wait: false });
    expect(result.status).toBe("pending");
    await store.settle();
    const status = await store.status(["p"]);
    expect(status.chunk_states).toEqual([{ chunk_id: "p", status: "committed", generation: result.generation, vector_committed: true, committed_generation: result.generation }]);
    expect((await store.search({ query: "deferred embedding", k: 1 })).results[0]?.chunk_id).toBe("p");
    await store.close();
  });

  test("duplicate ids in one batch are refused before anything is written", async () => {
    const store = await open();
    await expect(store.indexMany([{ text: "a", chunk_id: "x" }, { text: "b", chunk_id: "x" }])).rejects.toThrow(/appears more than once/);
    expect((await store.status()).chunks).toBe(0);
    await store.close();
  });

  test("replaceDocument swaps a document's chunks in one step", async () => {
    const store = await open();
    await store.replaceDocument({ doc_id: "guide.md" }, [
      { text: "old first part about herons", chunk_id: "g#0" },
      { text: "old second part about egrets", chunk_id: "g#1" },
    ]);
    const { results, removed } = await store.replaceDocument({ doc_id: "guide.md" }, [{ text: "new single part about storks", chunk_id: "g#0" }]);
    expect(results[0]!.status).toBe("committed");
    expect(removed).toEqual(["g#1"]);
    expect((await store.documentChunks("guide.md")).map((c) => c.text)).toEqual(["new single part about storks"]);
    const hits = (await store.search({ query: "egrets herons storks", k: 5 })).results.map((r) => r.chunk_id);
    expect(hits).toEqual(["g#0"]);
    await store.close();
  });

  test("a pending replacement whose new chunk another replacement removes still carries out its own removals", async () => {
    const embedder = new FaultyEmbedder();
    const store = await open({ embedder });
    await store.index({ chunk_id: "x", text: "xerus burrow notes", doc_id: "east.md" });
    await store.index({ chunk_id: "y", text: "yapok river notes", doc_id: "west.md" });
    // west.md becomes just x, moved over from east.md; acknowledged as pending, its write held before step 2.
    const held = embedder.holdNextDocuments();
    expect(await store.replaceDocument({ doc_id: "west.md" }, [{ chunk_id: "x", text: "xerus burrow notes, moved west" }], { wait: false })).toMatchObject({
      removed: ["y"],
    });
    await held;
    // east.md, re-ingested empty, removes x (still committed there) with its pending move.
    expect(await store.replaceDocument({ doc_id: "east.md" }, [])).toMatchObject({ removed: ["x"] });
    embedder.releaseOldest();
    await store.settle();
    await store.recover();
    expect(await store.documentChunks("west.md")).toEqual([]);
    expect(await store.documentChunks("east.md")).toEqual([]);
    await store.gc();
    expect(await store.verify()).toMatchObject({ ok: true, problems: [] });
    await store.close();
  });
});

describe("bad input and faults leave the store unchanged", () => {
  const cases: [string, unknown, RegExp][] = [
    ["empty text", { text: "" }, /text must not be empty/],
    ["text over 1 MiB", { text: "x".repeat(1024 * 1024 + 1) }, /at most 1 MiB/],
    ["control characters in id", { text: "t", chunk_id: "a\nb" }, /chunk_id must not contain control characters/],
    ["overlong id", { text: "t", chunk_id: "x".repeat(257) }, /chunk_id must be at most 256/],
    ["nested metadata", { text: "t", metadata: { a: { b: 1 } } }, /metadata/],
    ["non-string text", { text: 42 }, /text/],
  ];
  test.each(cases)("%s", async (_name, input, message) => {
    const store = await openStore(tmp());
    const error = await store.index(input).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe("invalid_input");
    expect((error as Error).message).toMatch(message);
    expect((await store.status()).chunks).toBe(0);
    await store.close();
  });

  test.each([
    ["nan", /NaN at position 0/],
    ["wrong-dimension", /dimension 65 .* 64-dimensional/],
    ["throw", /model server exploded/],
  ] as const)("an embedder returning %s writes nothing and keeps acknowledged data", async (mode, message) => {
    const embedder = new FaultyEmbedder();
    const store = await openStore(tmp(), { embedder });
    await store.index({ text: "acknowledged before the fault", chunk_id: "safe" });
    embedder.mode = mode;
    await expect(store.index({ text: "this one fails", chunk_id: "bad" })).rejects.toThrow(message);
    await expect(store.index({ text: "acknowledged, now changed", chunk_id: "safe" })).rejects.toThrow(message);
    embedder.mode = "ok";
    const status = await store.status(["safe", "bad"]);
    expect(status.counts).toEqual({ pending: 0, committed: 1, tombstone: 0 });
    expect(status.chunk_states?.map((c) => c.status)).toEqual(["committed", "missing"]);
    expect((await store.get(["safe"]))[0]!.text).toBe("acknowledged before the fault");
    await store.close();
  });

  test("a hanging embedder times out with a clear error and writes nothing", async () => {
    const embedder = new FaultyEmbedder();
    const store = await openStore(tmp(), { embedder, embedTimeoutMs: 200 });
    embedder.mode = "hang";
    await expect(store.index({ text: "never embedded", chunk_id: "h" })).rejects.toThrow(/did not answer within 0 s; nothing was written/);
    expect((await store.status()).chunks).toBe(0);
    await store.close();
  });

  test("cancelling a write while it embeds writes nothing", async () => {
    const embedder = new FaultyEmbedder();
    const store = await openStore(tmp(), { embedder });
    embedder.mode = "hang";
    const controller = new AbortController();
    const pending = store.index({ text: "cancelled", chunk_id: "c" }, { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: "aborted" });
    expect((await store.status()).chunks).toBe(0);
    await store.close();
  });

  test("readBinding tells a store's model without creating or changing anything", async () => {
    const dir = tmp();
    const missing = join(dir, "not-yet");
    expect(await Store.readBinding({ dataDir: missing })).toBeNull();
    expect(existsSync(missing)).toBe(false);
    const store = await openStore(dir);
    expect(await Store.readBinding({ dataDir: dir })).toBeNull();
    await store.index({ text: "bind me", chunk_id: "b" });
    expect(await Store.readBinding({ dataDir: dir })).toEqual({ provider: "hash", model: String(DIM), dimension: DIM, distance: "dot", normalized: true });
    await store.close();
  });

  test("a store refuses a different embedder, naming both and the way out", async () => {
    const dir = tmp();
    const store = await openStore(dir);
    await store.index({ text: "bind the store", chunk_id: "b" });
    await store.close();
    await expect(openStore(dir, { embedder: new HashEmbedder(DIM * 2) })).rejects.toThrow(
      new RegExp(`bound to the embedder hash:${DIM} .*hash:${DIM * 2} was requested.*reindex`),
    );
  });
});

describe.each(storeBackends())("search ($name)", (backend) => {
  const open = (options: Partial<StoreOptions> = {}) => openStore(tmp(), options, backend);

  test("filters by collection and doc_id inside Lance and still returns k results", async () => {
    const store = await open();
    const chunks = [];
    for (let i = 0; i < 60; i++) {
      chunks.push({ text: `river otter note ${i}`, chunk_id: `n${i}`, collection: i % 3 === 0 ? "wildlife" : "misc", doc_id: `doc${i % 2}` });
    }
    await store.indexMany(chunks);
    const inCollection = await store.search({ query: "river otter", k: 10, collection: "wildlife" });
    expect(inCollection.results).toHaveLength(10);
    expect(inCollection.results.every((r) => r.collection === "wildlife")).toBe(true);
    const inDoc = await store.search({ query: "river otter", k: 50, collection: "wildlife", doc_id: "doc1" });
    expect(inDoc.results).toHaveLength(10);
    expect(inDoc.results.every((r) => r.collection === "wildlife" && r.doc_id === "doc1")).toBe(true);
    await expect(store.search({ query: "river otter", k: 5, collection: "nope" })).rejects.toThrow(
      /no chunk is in collection "nope" \(existing: misc, wildlife\). Omit collection to search all of them/,
    );
    await store.close();
  });

  test("over-fetches past stale, deleted and filtered rows until k results are found", async () => {
    const store = await open();
    // 40 near-identical chunks that will be deleted rank above the survivors.
    await store.indexMany(Array.from({ length: 40 }, (_, i) => ({ text: `alpha beta gamma ${i}`, chunk_id: `gone${i}` })));
    await store.indexMany(Array.from({ length: 8 }, (_, i) => ({ text: `alpha beta gamma delta epsilon zeta eta theta ${i}`, chunk_id: `keep${i}`, metadata: { tags: ["keep", i % 2 ? "odd" : "even"] } })));
    await store.delete({ chunk_ids: Array.from({ length: 40 }, (_, i) => `gone${i}`) });
    const { results } = await store.search({ query: "alpha beta gamma", k: 8 });
    expect(results.map((r) => r.chunk_id).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `keep${i}`).sort());
    const odd = await store.search({ query: "alpha beta gamma", k: 8, filter: { tags: "odd" } });
    expect(odd.results).toHaveLength(4);
    const list = await store.search({ query: "alpha beta gamma", k: 8, filter: { tags: ["odd", "even"] } });
    expect(list.results).toHaveLength(8);
    await store.close();
  });

  test("a chunk whose rewrite is pending is served in its committed version, never the pending one, never twice", async () => {
    const embedder = new FaultyEmbedder();
    const store = await open({ embedder });
    const first = await store.index({ text: "lighthouse keeper logbook", chunk_id: "l" });
    await store.index({ text: "lighthouse lamp maintenance", chunk_id: "m" });
    // The new text of "l" is written (step 1) but its vector never arrives:
    // the committed version keeps being served, in every mode.
    embedder.mode = "hang-documents";
    const rewrite = await store.index({ text: "completely different words now", chunk_id: "l" }, { wait: false });
    for (const mode of ["hybrid", "vector", "keyword"] as const) {
      const { results } = await store.search({ query: "lighthouse keeper logbook", k: 10, mode });
      expect(results.map((r) => r.chunk_id), mode).toEqual(["l", "m"]);
      expect(results[0]!.text).toBe("lighthouse keeper logbook");
      const pendingWords = await store.search({ query: "completely different words now", k: 10, mode });
      expect(pendingWords.results.every((r) => r.text !== "completely different words now"), mode).toBe(true);
    }
    expect((await store.status(["l"])).chunk_states?.[0]).toMatchObject({ status: "pending", generation: rewrite.generation, committed_generation: first.generation });
    const [view] = await store.get(["l"]);
    expect(view).toMatchObject({ status: "committed", text: "lighthouse keeper logbook", generation: first.generation, pending: { generation: rewrite.generation } });
    await store.close();
  });

  test("min_score and max_chars shape the results", async () => {
    const store = await open();
    await store.index({ text: "exact phrase about sandpipers on mudflats", chunk_id: "s" });
    await store.index({ text: "unrelated: quarterly tax filing deadlines", chunk_id: "t" });
    const { results } = await store.search({ query: "exact phrase about sandpipers on mudflats", k: 5, mode: "vector", min_score: 0.5, max_chars: 11 });
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ chunk_id: "s", text: "exact phras", truncated: true });
    expect(results[0]!.score).toBeGreaterThan(0.99);
    await store.close();
  });

  test("an empty, never-bound store answers searches without loading a model", async () => {
    const embedder = new FaultyEmbedder();
    const store = await open({ embedder });
    expect((await store.search({ query: "anything" })).results).toEqual([]);
    expect(embedder.calls).toBe(0);
    expect((await store.status()).model).toMatchObject({ bound: false, provider: "hash" });
    await store.close();
  });
});

describe.each(storeBackends())("delete and GC ($name)", (backend) => {
  const open = (options: Partial<StoreOptions> = {}) => openStore(tmp(), options, backend);

  test("a deleted chunk vanishes at once; GC then removes its vector and its tombstone", async () => {
    const store = await open();
    await store.indexMany([
      { text: "first document chunk", chunk_id: "a", doc_id: "doc" },
      { text: "second document chunk", chunk_id: "b", doc_id: "doc" },
      { text: "a chunk elsewhere", chunk_id: "c", doc_id: "other" },
    ]);
    const deleted = await store.delete({ doc_id: "doc" });
    expect(deleted).toEqual({ deleted: 2, chunk_ids: expect.arrayContaining(["a", "b"]), pending_gc: 2 });
    expect((await store.search({ query: "document chunk", k: 5 })).results.map((r) => r.chunk_id)).toEqual(["c"]);
    let status = await store.status();
    expect(status.counts).toEqual({ pending: 0, committed: 1, tombstone: 2 });
    expect(status.lance?.rows).toBe(3);

    const gc = await store.gc();
    expect(gc).toMatchObject({ ok: true, removed: 2 });
    status = await store.status();
    expect(status.counts.tombstone).toBe(0);
    expect(status.lance?.rows).toBe(1);
    expect(status.last_gc).toMatchObject({ ok: true, removed: 2 });
    expect(await store.delete({ chunk_id: "a" })).toEqual({ deleted: 0, chunk_ids: [], pending_gc: 0 });
    await store.close();
  });

  test("re-indexing a deleted chunk before GC brings it back, and GC spares it", async () => {
    const store = await open();
    await store.index({ text: "phoenix rising", chunk_id: "p" });
    await store.delete({ chunk_id: "p" });
    await store.index({ text: "phoenix rising again", chunk_id: "p" });
    await store.gc();
    expect((await store.search({ query: "phoenix rising again", k: 3 })).results.map((r) => r.chunk_id)).toEqual(["p"]);
    expect((await store.verify()).ok).toBe(true);
    await store.close();
  });

  test("a background write overtaken while it embeds (rewritten, or deleted, and GC run) adds no row to Lance", async () => {
    const embedder = new FaultyEmbedder();
    const store = await open({ embedder });
    await store.indexMany([
      { chunk_id: "r", text: "heron census, first count" },
      { chunk_id: "d", text: "egret census, first count" },
    ]);
    const held = embedder.holdNextDocuments();
    await store.indexMany(
      [
        { chunk_id: "r", text: "heron census, second count" },
        { chunk_id: "d", text: "egret census, second count" },
      ],
      { wait: false },
    );
    await held;
    await store.index({ chunk_id: "r", text: "heron census, third count" });
    await store.delete({ chunk_id: "d" });
    // GC collects what the rewrite and the delete superseded before the held write reaches Lance.
    await store.gc();
    embedder.releaseOldest();
    await store.settle();
    await store.gc();
    expect(await store.verify()).toMatchObject({ ok: true, problems: [] });
    expect((await store.status()).lance?.rows).toBe(1);
    expect((await store.get(["r", "d"])).map((c) => [c.chunk_id, c.text, c.pending])).toEqual([["r", "heron census, third count", null]]);
    await store.close();
  });

  test("background GC runs shortly after a delete", async () => {
    const store = await open({ background: true });
    await store.index({ text: "short-lived", chunk_id: "s" });
    await store.delete({ chunk_id: "s" });
    await expect.poll(async () => (await store.status()).counts.tombstone, { timeout: 30_000, interval: 100 }).toBe(0);
    expect((await store.status()).lance?.rows).toBe(0);
    await store.close();
  });
});

describe("a broken Lance manifest (power loss)", () => {
  test.each(["empty", "garbage"] as const)("(%s) is detected with a repair hint; repair falls back a version and re-writes what that version lacks", async (damage) => {
    const dir = tmp();
    const store = await openStore(dir);
    await store.index({ text: "written before the power cut", chunk_id: "early" });
    await store.index({ text: "the last write, whose manifest is lost", chunk_id: "late" });
    await store.close();
    const versions = join(dir, "lance", "chunks.lance", "_versions");
    // Manifests are named u64::MAX - version: the newest sorts first.
    const newest = readdirSync(versions).filter((f) => f.endsWith(".manifest")).sort()[0]!;
    if (damage === "empty") truncateSync(join(versions, newest), 0);
    else writeFileSync(join(versions, newest), "half a manifest, then the power went");

    const broken = await openStore(dir);
    const error = await broken.search({ query: "power cut", mode: "vector" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "lance_corrupt" });
    expect((error as Error).message).toMatch(/cannot be opened .*retrieval-mcp verify --repair/);
    await broken.verify({ repair: true });
    expect(await broken.verify()).toMatchObject({ ok: true });
    for (const id of ["early", "late"]) {
      const text = (await broken.get([id]))[0]!.text;
      expect((await broken.search({ query: text, mode: "vector", k: 1 })).results[0]?.chunk_id).toBe(id);
    }
    expect(readdirSync(versions).some((f) => f.startsWith(newest) && f.includes(".broken-"))).toBe(true);
    await broken.close();
  });
});

/** Indexes chunks `${prefix}${from}`..`${prefix}${to - 1}`, each saying "`prefix` row n". */
const indexRows = (store: Store, prefix: string, from: number, to: number) =>
  store.indexMany(Array.from({ length: to - from }, (_, i) => ({ text: `${prefix} row ${from + i}`, chunk_id: `${prefix}${from + i}` })));

describe("status and maintenance", () => {
  test("reports counts, the oldest pending age and Lance state", async () => {
    const embedder = new FaultyEmbedder();
    const store = await openStore(tmp(), { embedder });
    await store.index({ text: "committed one", chunk_id: "c1" });
    embedder.mode = "hang-documents";
    await store.index({ text: "stuck", chunk_id: "p1" }, { wait: false });
    const status = await store.status(["c1", "p1", "zz"]);
    expect(status.counts).toEqual({ pending: 1, committed: 1, tombstone: 0 });
    expect(status).toMatchObject({ chunks: 2, rewrites_in_flight: 0, superseded_awaiting_gc: 0 });
    expect(status.oldest_pending_age_ms).toBeGreaterThanOrEqual(0);
    expect(status.model).toEqual({ provider: "hash", name: String(DIM), dimension: DIM, distance: "dot", bound: true, load: expect.objectContaining({ state: "ready", error: null }) });
    expect(status.lance).toMatchObject({ table: "chunks", rows: 1 });
    expect(status.chunk_states).toEqual([
      { chunk_id: "c1", status: "committed", generation: expect.any(Number), vector_committed: true, committed_generation: expect.any(Number) },
      { chunk_id: "p1", status: "pending", generation: expect.any(Number), vector_committed: false, committed_generation: null },
      { chunk_id: "zz", status: "missing", generation: null, vector_committed: false, committed_generation: null },
    ]);
    embedder.mode = "ok";
    await store.close();
  });

  test("optimize compacts the fragments many small commits leave", async () => {
    const store = await openStore(tmp());
    for (let i = 0; i < 12; i++) await store.index({ text: `one commit each ${i}`, chunk_id: `o${i}` });
    expect((await store.status()).lance?.fragments).toBeGreaterThanOrEqual(12);
    await store.optimize();
    const status = await store.status();
    expect(status.lance?.fragments).toBe(1);
    expect(status.last_optimize).toMatchObject({ ok: true, rows: 12 });
    expect((await store.search({ query: "one commit each 7", k: 1 })).results[0]?.chunk_id).toBe("o7");
    await store.close();
  });

  test("a running store optimizes by itself once a burst of writes is over, building the ANN index", async () => {
    const store = await openStore(tmp(), { background: true, annMinRows: 300, gcIntervalMs: 200, optimizeWhenQuietMs: 300 });
    await store.indexMany(Array.from({ length: 400 }, (_, i) => ({ text: `burst row ${i}`, chunk_id: `r${i}` })));
    await expect.poll(async () => (await store.status()).lance?.index?.indexed_rows, { timeout: 60_000, interval: 200 }).toBe(400);
    expect((await store.status()).last_optimize).toMatchObject({ ok: true, rows: 400 });
    await store.close();
  });

  test("a running store folds rows the ANN index does not cover into it, even when no write follows", async () => {
    // An ANN build that commits after a compaction covers none of the rewritten fragments; nothing else may be left to trigger a fold then.
    const dir = tmp();
    const writer = await openStore(dir, { annMinRows: 300 });
    await writer.indexMany(Array.from({ length: 320 }, (_, i) => ({ text: `covered row ${i}`, chunk_id: `c${i}` })));
    await writer.optimize();
    await writer.settle();
    // Below 500 rows each write refreshes the keyword index itself, so only the vector index is left behind.
    await writer.indexMany(Array.from({ length: 90 }, (_, i) => ({ text: `tail row ${i}`, chunk_id: `t${i}` })));
    const before = (await writer.status()).lance;
    expect(before?.index).toMatchObject({ indexed_rows: 320, unindexed_rows: 90 });
    expect(before?.keyword_index).toMatchObject({ unindexed_rows: 0 });
    await writer.close();

    // A new process has made no commits, so neither the commit count nor a quiet spell after writes calls for an optimize.
    const store = await openStore(dir, { background: true, annMinRows: 300, gcIntervalMs: 200 });
    await expect.poll(async () => (await store.status()).lance?.index?.unindexed_rows, { timeout: 60_000, interval: 200 }).toBe(0);
    expect((await store.search({ query: "tail row 42", k: 1, mode: "keyword" })).results[0]?.chunk_id).toBe("t42");
    await store.close();
  });

  test("an optimize asked for during an ANN build waits for it: a compaction meanwhile would make the build start over or fail", async () => {
    const { fired: released, fire: release } = signal();
    const { fired: building, fire: started } = signal();
    let builds = 0;
    const store = await openStore(tmp(), {
      annMinRows: 300,
      faults: {
        beforeIndexBuild: async () => {
          builds++;
          started();
          await released;
        },
      },
    });
    await store.indexMany(Array.from({ length: 400 }, (_, i) => ({ text: `built row ${i}`, chunk_id: `b${i}` })));
    await store.optimize();
    await building;
    for (let i = 0; i < 5; i++) await store.index({ text: `written during the build ${i}`, chunk_id: `d${i}` });
    let optimized = false;
    const second = store.optimize().then((report) => ((optimized = true), report));
    // GC queues behind any maintenance job already queued, so had the optimize not waited, it would have run by now.
    await store.gc();
    expect(optimized).toBe(false);
    release();
    expect(await second).toMatchObject({ ok: true, rows: 405 });
    await store.settle();
    const status = await store.status();
    expect(builds).toBe(1);
    expect(status.lance?.index).toMatchObject({ indexed_rows: 405, unindexed_rows: 0 });
    await store.close();
  });

  test("a timed reconcile is left to a later round while an ANN build runs (the build sets the store's memory peak), runs once none does, and logs what it found", async () => {
    const { fired: released, fire: release } = signal();
    const { fired: building, fire: started } = signal();
    const logged: string[] = [];
    const store = await openStore(tmp(), {
      background: true,
      log: (line) => logged.push(line),
      annMinRows: 300,
      reconcileIntervalMs: 50,
      // Only reconciles record a recovery here: plain recovery rounds would come every hour.
      recoveryIntervalMs: 3_600_000,
      faults: {
        beforeIndexBuild: async () => {
          started();
          await released;
        },
      },
    });
    const lastRecovery = async () => (await store.status()).last_recovery as { at: string; reconcile?: unknown } | null;
    /** The next recovery recorded after `since`, polled: the timer's rounds come every 50 ms. */
    const nextRecovery = async (since: string) => {
      for (;;) {
        const report = await lastRecovery();
        if (report && report.at > since) return report;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await store.indexMany(Array.from({ length: 400 }, (_, i) => ({ text: `built row ${i}`, chunk_id: `b${i}` })));
    await store.optimize();
    await building;
    const buildStarted = new Date().toISOString();
    const during = await nextRecovery(buildStarted);
    expect(during.reconcile).toBe(RECONCILE_WAITS);
    // Rounds keep coming while the build runs; each one waits.
    expect((await nextRecovery(during.at)).reconcile).toBe(RECONCILE_WAITS);
    const buildEnds = new Date().toISOString();
    release();
    // A round after the build reconciles, and finds nothing wrong.
    let after = await nextRecovery(buildEnds);
    while (after.reconcile === RECONCILE_WAITS) after = await nextRecovery(after.at);
    expect(after.reconcile).toEqual([]);
    // A timed reconcile that ran says so in the log.
    expect(logged.filter((line) => line.startsWith("reconciled")).at(-1)).toMatch(/^reconciled 400 records with 400 Lance rows in \d+\.\d s: nothing to repair$/);
    expect((await store.status()).lance?.index).toMatchObject({ indexed_rows: 400 });
    await store.close();
  });

  test("the ANN index is trained again once the table has grown by a quarter since its training, not before", async () => {
    // An index trained on part of the table serves the rest with lower recall (1M chunks at ef 384, trained on 790k: 0.937; afresh: 0.968).
    const store = await openStore(tmp(), { annMinRows: 300 });
    const write = (from: number, to: number) => indexRows(store, "grown", from, to);
    await write(0, 400);
    await store.optimize();
    await store.settle();
    await write(400, 490);
    expect(await store.optimize()).toMatchObject({ rows: 490, ann_trained_on_rows: 400 });
    await store.settle();
    await write(490, 500);
    // 500 rows is 1.25 times the 400 the index was trained on: this optimize starts a training over all of them.
    expect(await store.optimize()).toMatchObject({ rows: 500, ann_trained_on_rows: 400 });
    await store.settle();
    expect(await store.optimize()).toMatchObject({ rows: 500, ann_trained_on_rows: 500 });
    expect((await store.status()).lance?.index).toMatchObject({ indexed_rows: 500, unindexed_rows: 0 });
    await store.close();
  });

  test("background maintenance retrains the ANN index only once writes pause, unless the table has outgrown it fourfold", async () => {
    // A training takes both cores for minutes at 1M rows: beside a bulk load it slows the writes and is stale when it ends.
    const options = { annMinRows: 300, background: true, gcIntervalMs: 20, optimizeAfterCommits: 1 };
    const write = (store: Store, from: number, to: number) => indexRows(store, "busy", from, to);
    /** Waits for a background optimize whose report matches `report`, once any training it started has ended. */
    const backgroundOptimize = (store: Store, report: Record<string, unknown>) =>
      expect
        .poll(
          async () => {
            await store.settle();
            return (await store.status()).last_optimize;
          },
          { timeout: 60_000, interval: 20 },
        )
        .toMatchObject(report);
    const indexed = async (store: Store, trainedOn: number) => {
      await write(store, 0, trainedOn);
      await store.optimize();
      await store.settle();
    };

    // Writes never pause long enough here (an hour): 1.75x growth waits, 4x does not.
    const busy = await openStore(tmp(), { ...options, annRetrainQuietMs: 3_600_000 });
    await indexed(busy, 400);
    await write(busy, 400, 700);
    await backgroundOptimize(busy, { rows: 700, ann_training: ANN_TRAINING.waiting, ann_trained_on_rows: 400 });
    await write(busy, 700, 1600);
    await backgroundOptimize(busy, { rows: 1600, ann_training: ANN_TRAINING.started, ann_trained_on_rows: 400 });
    // That training covered all 1,600 rows: an optimize asked for now finds none due.
    const now = await busy.optimize();
    expect(now).toMatchObject({ rows: 1600, ann_trained_on_rows: 1600 });
    expect(now.ann_training).toBeUndefined();
    await busy.close();

    // Writes pause for 100 ms: the training the busy optimize put off starts then, with no further write.
    const pausing = await openStore(tmp(), { ...options, annRetrainQuietMs: 100 });
    await indexed(pausing, 400);
    await write(pausing, 400, 700);
    await backgroundOptimize(pausing, { rows: 700, ann_training: ANN_TRAINING.started });
    expect(await pausing.optimize()).toMatchObject({ rows: 700, ann_trained_on_rows: 700 });
    await pausing.close();
  });

  test("builds an ANN index past the size threshold and keeps searching correctly", async () => {
    const store = await openStore(tmp(), { annMinRows: 300 });
    await store.indexMany(Array.from({ length: 400 }, (_, i) => ({ text: `indexed row ${i} about topic ${i % 17}`, chunk_id: `r${i}` })));
    await store.optimize();
    await store.settle();
    const status = await store.status();
    expect(status.lance?.index).toMatchObject({ indexed_rows: 400, unindexed_rows: 0 });
    expect(status.lance?.index_coverage).toBe(1);
    expect((await store.search({ query: "indexed row 123 about topic 4", k: 1 })).results[0]?.chunk_id).toBe("r123");
    await store.close();
  });
});
