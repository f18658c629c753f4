import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TransformersEmbedder } from "../src/embed/transformers.js";
import { TINY_BERT_ID, referenceEmbedding, tokenId, writeTinyBert } from "./fixtures/tiny-bert.js";
import { FakeHub } from "./helpers/fake-hub.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();

function expectClose(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i]!, 5);
}

const ids = (tokens: string[]) => tokens.map(tokenId);

describe("transformers provider on the tiny BERT fixture", () => {
  it("tokenises, runs the ONNX graph, mean-pools and normalises exactly as computed by hand", async () => {
    const models = tempDir();
    writeTinyBert(models);
    const embedder = new TransformersEmbedder(TINY_BERT_ID, { modelPath: models, offline: true, dataDir: tempDir() });
    try {
      expect(await embedder.load()).toEqual({ provider: "transformers", model: TINY_BERT_ID, dimension: 32, distance: "dot", normalized: true });
      // Unequal lengths in one batch: padding must not leak into the mean.
      const [cats, dog, unknown] = await embedder.embed(["Cats sleep.", "a DOG", "zq"], { kind: "document" });
      expectClose(cats!, referenceEmbedding(ids(["[CLS]", "cat", "##s", "sleep", ".", "[SEP]"])));
      expectClose(dog!, referenceEmbedding(ids(["[CLS]", "a", "dog", "[SEP]"])));
      expectClose(unknown!, referenceEmbedding(ids(["[CLS]", "z", "##q", "[SEP]"])));
      expect(Math.hypot(...cats!)).toBeCloseTo(1, 5);
    } finally {
      await embedder.close();
    }
  });

  it("embeds more texts than one step in order", async () => {
    const models = tempDir();
    writeTinyBert(models);
    const embedder = new TransformersEmbedder(TINY_BERT_ID, { modelPath: models, offline: true });
    const texts = Array.from({ length: 21 }, (_, i) => (i % 2 ? "the cat" : "a fish swim"));
    const vectors = await embedder.embed(texts, { kind: "document" });
    expect(vectors).toHaveLength(21);
    expectClose(vectors[20]!, referenceEmbedding(ids(["[CLS]", "a", "fish", "swim", "[SEP]"])));
    expectClose(vectors[19]!, referenceEmbedding(ids(["[CLS]", "the", "cat", "[SEP]"])));
    await embedder.close();
  });

  it("adds E5's query and passage prefixes by model name", async () => {
    const models = tempDir();
    writeTinyBert(models, "fixtures/e5-tiny");
    const embedder = new TransformersEmbedder("fixtures/e5-tiny", { modelPath: models, offline: true });
    const [query] = await embedder.embed(["cat"], { kind: "query" });
    const [passage] = await embedder.embed(["cat"], { kind: "document" });
    expectClose(query!, referenceEmbedding(ids(["[CLS]", "query", ":", "cat", "[SEP]"])));
    expectClose(passage!, referenceEmbedding(ids(["[CLS]", "p", "##a", "##s", "##s", "##a", "##g", "##e", ":", "cat", "[SEP]"])));
    await embedder.close();
  });

  it("downloads into <dataDir>/models with progress on the log, then loads from that cache offline", async () => {
    const hubRoot = tempDir();
    writeTinyBert(hubRoot);
    const hub = await FakeHub.start(hubRoot);
    const dataDir = tempDir();
    const lines: string[] = [];
    try {
      const first = new TransformersEmbedder(TINY_BERT_ID, { dataDir, env: { HF_ENDPOINT: hub.url }, log: (l) => lines.push(l) });
      expect((await first.load()).dimension).toBe(32);
      await first.close();
      expect(hub.served).toEqual(expect.arrayContaining(["config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx"]));
      expect(existsSync(join(dataDir, "models", TINY_BERT_ID, "onnx", "model.onnx"))).toBe(true);
      expect(lines).toContain(`downloading ${TINY_BERT_ID} (onnx/model.onnx) into ${join(dataDir, "models")}`);
      expect(lines.some((l) => /onnx\/model\.onnx\): 100% of 0\.\d MB/.test(l))).toBe(true);
    } finally {
      await hub.stop();
    }
    const lines2: string[] = [];
    const cached = new TransformersEmbedder(TINY_BERT_ID, { dataDir, offline: true, log: (l) => lines2.push(l) });
    const [v] = await cached.embed(["hello world"], { kind: "document" });
    expectClose(v!, referenceEmbedding(ids(["[CLS]", "hello", "world", "[SEP]"])));
    expect(lines2).toEqual([]);
    await cached.close();
  });

  it("loads the ONNX variant --dtype names: q8 fetches onnx/model_quantized.onnx and never the fp32 file", async () => {
    const hubRoot = tempDir();
    const dir = writeTinyBert(hubRoot);
    copyFileSync(join(dir, "onnx", "model.onnx"), join(dir, "onnx", "model_quantized.onnx"));
    const hub = await FakeHub.start(hubRoot);
    try {
      const embedder = new TransformersEmbedder(TINY_BERT_ID, { dataDir: tempDir(), dtype: "q8", env: { HF_ENDPOINT: hub.url }, log: () => undefined });
      const [v] = await embedder.embed(["hello world"], { kind: "document" });
      expectClose(v!, referenceEmbedding(ids(["[CLS]", "hello", "world", "[SEP]"])));
      await embedder.close();
      expect(hub.served).toContain("onnx/model_quantized.onnx");
      expect(hub.served).not.toContain("onnx/model.onnx");
      // A missing variant is named in the install hint.
      const fp16 = new TransformersEmbedder(TINY_BERT_ID, { dataDir: tempDir(), dtype: "fp16", env: { HF_ENDPOINT: hub.url }, log: () => undefined });
      await expect(fp16.load()).rejects.toThrow(/download config\.json, tokenizer\.json, tokenizer_config\.json, onnx\/model_fp16\.onnx from/);
    } finally {
      await hub.stop();
    }
  });

  it("explains how to install the model by hand when the download fails", async () => {
    const hub = await FakeHub.start(tempDir());
    const dataDir = tempDir();
    try {
      const embedder = new TransformersEmbedder("Xenova/all-MiniLM-L6-v2", { dataDir, env: { HF_ENDPOINT: hub.url }, log: () => undefined });
      const failure = embedder.load();
      await expect(failure).rejects.toThrow(`downloading from ${hub.url} failed`);
      await expect(failure).rejects.toThrow(
        `download config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx from ${hub.url}/Xenova/all-MiniLM-L6-v2/tree/main into ${join(dataDir, "models", "Xenova/all-MiniLM-L6-v2")}/`,
      );
      await expect(failure).rejects.toThrow(/--model-path <dir> \(RETRIEVAL_MCP_MODEL_DIR\).*--embedder offline/);
    } finally {
      await hub.stop();
    }
  });

  it("does not touch the network in offline mode and says so", async () => {
    const models = tempDir();
    const embedder = new TransformersEmbedder("Xenova/bge-small-en-v1.5", { modelPath: models, env: { RETRIEVAL_MCP_OFFLINE: "1", HF_ENDPOINT: "http://127.0.0.1:9" } });
    await expect(embedder.load()).rejects.toThrow(/offline mode is on, so nothing was downloaded.*into .*Xenova\/bge-small-en-v1\.5\//);
  });

  it("bounds the download time", async () => {
    const { createServer } = await import("node:http");
    const stalled = createServer(() => undefined);
    await new Promise<void>((resolve) => stalled.listen(0, "127.0.0.1", resolve));
    const port = (stalled.address() as { port: number }).port;
    try {
      const embedder = new TransformersEmbedder(TINY_BERT_ID, { dataDir: tempDir(), env: { HF_ENDPOINT: `http://127.0.0.1:${port}` }, downloadTimeoutMs: 300, log: () => undefined });
      await expect(embedder.load()).rejects.toThrow(/no complete download within 0.3 s/);
    } finally {
      stalled.closeAllConnections();
      stalled.close();
    }
  });
});
