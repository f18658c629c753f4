import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { TransformersReranker } from "../src/embed/reranker.js";
import { TINY_CROSS_ENCODER_ID, referenceScore, writeTinyCrossEncoder } from "./fixtures/tiny-cross-encoder.js";
import { assertBuilt, runCli } from "./helpers/cli.js";
import { connectStdio } from "./helpers/clients.js";
import { ok } from "./helpers/mcp.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

beforeAll(assertBuilt);

const TEXTS: Record<string, string> = {
  sleeps: "the cat sleeps",
  pet: "the dog is a good pet",
  both: "a cat and a dog",
  food: "cat food",
  fish: "fish swim in the river",
  bird: "the bird can fly",
};
const QUERY = "cat pet";
const words = (text: string) => text.split(" ");

/** The order the reranker must produce: the given candidates by the hand-computed cross-encoder score. */
function byReference(candidates: readonly string[]): string[] {
  return [...candidates].sort((a, b) => referenceScore(words(QUERY), words(TEXTS[b]!)) - referenceScore(words(QUERY), words(TEXTS[a]!)));
}

function modelRoot(): string {
  const root = tempDir();
  writeTinyCrossEncoder(root);
  return root;
}

describe("cross-encoder reranker (--reranker transformers:<model>)", () => {
  it("scores each (query, text) pair as the model computes it by hand", async () => {
    const reranker = new TransformersReranker(TINY_CROSS_ENCODER_ID, { modelPath: modelRoot(), offline: true });
    cleanups.push(() => reranker.close());
    const texts = Object.values(TEXTS);
    const scores = await reranker.score(QUERY, texts);
    texts.forEach((text, i) => expect(scores[i]).toBeCloseTo(referenceScore(words(QUERY), words(text)), 5));
  });

  it("re-scores the fused hybrid candidates and orders them by its score; other modes and a store without it are untouched", async () => {
    const dataDir = tempDir();
    const plain = await openStore(dataDir);
    await plain.indexMany(Object.entries(TEXTS).map(([chunk_id, text]) => ({ chunk_id, text })));
    const fused = await plain.search({ query: QUERY, k: 10 });
    expect(fused.reranker).toBeNull();
    await plain.close();
    const candidates = fused.results.map((r) => r.chunk_id);
    const expected = byReference(candidates);
    // The reranker must change something, or this test could not fail.
    expect(expected).not.toEqual(candidates);

    const reranker = new TransformersReranker(TINY_CROSS_ENCODER_ID, { modelPath: modelRoot(), offline: true });
    const store = await openStore(dataDir, { reranker });
    cleanups.push(() => store.close());
    const reranked = await store.search({ query: QUERY, k: 3 });
    expect(reranked.reranker).toBe(`transformers:${TINY_CROSS_ENCODER_ID}`);
    expect(reranked.results.map((r) => r.chunk_id)).toEqual(expected.slice(0, 3));
    for (const hit of reranked.results) expect(hit.score).toBeCloseTo(referenceScore(words(QUERY), words(hit.text)), 5);
    const vector = await store.search({ query: QUERY, k: 3, mode: "vector" });
    expect(vector.reranker).toBeNull();
  });

  it("runs in the server behind semantic_search, over stdio with the SDK client", async () => {
    const root = modelRoot();
    const session = await connectStdio(["serve", "--data-dir", tempDir(), "--embedder", "hash:64", "--reranker", `transformers:${TINY_CROSS_ENCODER_ID}`, "--model-path", root, "--offline"]);
    cleanups.push(session.close);
    ok(await session.call("index_chunks", { chunks: Object.entries(TEXTS).map(([chunk_id, text]) => ({ chunk_id, text })) }));
    const plain = ok(await session.call("semantic_search", { query: QUERY, k: 10, mode: "vector" }));
    expect(plain.reranker).toBeNull();
    const result = ok(await session.call("semantic_search", { query: QUERY, k: 10 }));
    expect(result.reranker).toBe(`transformers:${TINY_CROSS_ENCODER_ID}`);
    const ids = result.results.map((r: { chunk_id: string }) => r.chunk_id);
    expect(ids).toEqual(byReference(ids));
  });

  it("refuses a reranker spec it cannot run as a usage error", async () => {
    const result = await runCli(["search", "cat", "--reranker", "openai:rerank-1", "--data-dir", tempDir()]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Invalid reranker "openai:rerank-1": use transformers[:<model>]');
  });
});
