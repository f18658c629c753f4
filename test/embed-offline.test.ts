import { describe, expect, it } from "vitest";
import { OfflineEmbedder } from "../src/embed/offline.js";

const dot = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * b[i]!, 0);

describe("offline provider (Universal Sentence Encoder lite from an npm package)", () => {
  it("loads with no network and embeds by meaning into unit vectors", async () => {
    const embedder = new OfflineEmbedder();
    expect(await embedder.load()).toEqual({ provider: "offline", model: "universal-sentence-encoder-lite", dimension: 512, distance: "dot", normalized: true });
    const texts = ["My dog loves to chase balls in the park.", "The puppy plays fetch outside.", "Quarterly revenue rose by four percent.", ""];
    const [dog, puppy, revenue, empty] = await embedder.embed(texts, { kind: "document" });
    for (const v of [dog!, puppy!, revenue!, empty!]) {
      expect(v).toHaveLength(512);
      expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    }
    expect(dot(dog!, puppy!)).toBeGreaterThan(dot(dog!, revenue!) + 0.2);
  });

  it("keeps one vector per text when texts have no tokens", async () => {
    const embedder = new OfflineEmbedder();
    for (const texts of [[""], ["a", ""], ["", "\u{1F600}"], ["a", "", "b", "   "]]) {
      const vectors = await embedder.embed(texts, { kind: "document" });
      expect(vectors, JSON.stringify(texts)).toHaveLength(texts.length);
      for (const v of vectors) expect(v.every(Number.isFinite)).toBe(true);
    }
    const [alone] = await embedder.embed(["b"], { kind: "document" });
    const [, , inBatch] = await embedder.embed(["a", "", "b", ""], { kind: "document" });
    expect(dot(alone!, inBatch!)).toBeCloseTo(1, 4);
  });

  it("keeps order across internal steps and stops when aborted", async () => {
    const embedder = new OfflineEmbedder();
    const texts = Array.from({ length: 40 }, (_, i) => `sentence number ${i}`);
    const all = await embedder.embed(texts, { kind: "document" });
    const [last] = await embedder.embed([texts[39]!], { kind: "document" });
    expect(dot(all[39]!, last!)).toBeCloseTo(1, 4);

    const controller = new AbortController();
    controller.abort(new DOMException("stop", "AbortError"));
    await expect(embedder.embed(texts, { kind: "document", signal: controller.signal })).rejects.toThrow(/stop/);
  });
});
