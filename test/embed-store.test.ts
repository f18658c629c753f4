import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AutoEmbedder } from "../src/embed/auto.js";
import type { Embedder } from "../src/embed/embedder.js";
import { embedderFromSpec, resolveEmbedder, type SpecOptions } from "../src/embed/from-spec.js";
import { Store } from "../src/store/store.js";
import { TINY_BERT_ID, writeTinyBert } from "./fixtures/tiny-bert.js";
import { connectInMemory, ok } from "./helpers/mcp.js";
import { FakeEmbeddingsServer } from "./helpers/openai-server.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();

const CORPUS = [
  { chunk_id: "pets", text: "A cat and a dog sleep in the house; the kitten and the puppy play with a toy." },
  { chunk_id: "db", text: "The sql query reads rows from a database table through an index." },
  { chunk_id: "sea", text: "The boat sails on the ocean; waves of sea water hit the shore." },
  { chunk_id: "bread", text: "Bake the bread in a hot oven with flour, butter and sugar." },
];

/** A port that was just free: connections to it are refused, as on a machine without network. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let openai: FakeEmbeddingsServer;
let models: string;
let NO_HUB: { HF_ENDPOINT: string };
beforeAll(async () => {
  openai = await FakeEmbeddingsServer.start();
  models = mkdtempSync(join(tmpdir(), "retrieval-mcp-models-"));
  writeTinyBert(models);
  NO_HUB = { HF_ENDPOINT: `http://127.0.0.1:${await closedPort()}` };
});
afterAll(async () => {
  await openai?.stop();
  rmSync(models, { recursive: true, force: true });
});

function options(): SpecOptions {
  return { modelPath: models, env: { ...NO_HUB, OPENAI_BASE_URL: openai.baseUrl }, log: () => undefined };
}

async function withStore<T>(dataDir: string, embedder: Embedder, run: (store: Store) => Promise<T>): Promise<T> {
  const store = await Store.open({ dataDir, embedder, background: false });
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

const PROVIDERS = [
  { spec: "hash:64", dimension: 64 },
  { spec: "offline", dimension: 512 },
  { spec: `transformers:${TINY_BERT_ID}`, dimension: 32 },
  { spec: "openai:fake-embed", dimension: 48 },
];

describe.each(PROVIDERS)("$spec through the store and semantic_search", ({ spec, dimension }) => {
  it("binds the store to the model and finds the nearest chunk", async () => {
    const dataDir = tempDir();
    await withStore(dataDir, embedderFromSpec(spec, { ...options(), dataDir }), async (store) => {
      expect((await store.indexMany(CORPUS)).map((r) => r.status)).toEqual(["committed", "committed", "committed", "committed"]);
      const { results } = await store.search({ query: "database sql query index", k: 2 });
      expect(results[0]!.chunk_id).toBe("db");
      expect(results[0]!.score).toBeGreaterThan(results[1]!.score);
      const status = await store.status();
      expect(status.model).toMatchObject({ name: embedderFromSpec(spec).model, dimension, bound: true });
      expect(`${status.model.provider}:${status.model.name}`).toBe(spec === "offline" ? "offline:universal-sentence-encoder-lite" : spec);
    });

    const session = await connectInMemory(dataDir, () => Store.open({ dataDir, embedder: embedderFromSpec(spec, { ...options(), dataDir }), background: false }));
    try {
      const found = ok(await session.call("semantic_search", { query: "bake bread with flour in the oven", k: 1 }));
      expect(found.results[0].chunk_id).toBe("bread");
    } finally {
      await session.close();
    }
  });
});

describe("model binding and auto", () => {
  it("the offline model finds a paraphrase with no word in common", async () => {
    await withStore(tempDir(), embedderFromSpec("offline"), async (store) => {
      await store.indexMany(CORPUS);
      const { results } = await store.search({ query: "Where do my pets nap?", k: 1 });
      expect(results[0]!.chunk_id).toBe("pets");
    });
  });

  it("a store refuses another embedder, naming both", async () => {
    const dataDir = tempDir();
    await withStore(dataDir, embedderFromSpec("hash:64"), (store) => store.indexMany(CORPUS));
    await expect(Store.open({ dataDir, embedder: embedderFromSpec("offline"), background: false })).rejects.toThrow(
      /bound to the embedder hash:64 \(64-d\), but offline:universal-sentence-encoder-lite was requested.*reindex --embedder offline:universal-sentence-encoder-lite/,
    );
    await expect(Store.open({ dataDir, embedder: embedderFromSpec("openai:fake-embed@16", options()), background: false })).rejects.toThrow(/hash:64.*openai:fake-embed@16/);
  });

  it("auto falls back to the offline model when the default model cannot be downloaded, and says why", async () => {
    const dataDir = tempDir();
    const lines: string[] = [];
    const auto = resolveEmbedder("auto", { dataDir, env: NO_HUB, log: (l) => lines.push(l), boundModel: null });
    expect(auto).toBeInstanceOf(AutoEmbedder);
    expect(`${auto.provider}:${auto.model}`).toBe("auto:unchosen");
    const bound = await withStore(dataDir, auto, async (store) => {
      await store.indexMany(CORPUS);
      expect((await store.search({ query: "ocean waves", k: 1 })).results[0]!.chunk_id).toBe("sea");
      return (await store.status()).model;
    });
    expect(bound).toMatchObject({ provider: "offline", name: "universal-sentence-encoder-lite", dimension: 512, bound: true });
    expect(`${auto.provider}:${auto.model}`).toBe("offline:universal-sentence-encoder-lite");
    const choices = lines.filter((l) => l.startsWith("embedder auto:"));
    expect(choices).toHaveLength(1);
    // One short line: why, what it uses now, that the store is bound to it, and how to upgrade later.
    expect(choices[0]).toMatch(
      /^embedder auto: transformers:Xenova\/all-MiniLM-L6-v2 is unavailable \(http:\/\/127\.0\.0\.1:\d+\/.*ECONNREFUSED.*\); using offline:universal-sentence-encoder-lite \(512-d, ships with the package\)\. The store is now bound to it; to upgrade later, run `retrieval-mcp reindex --embedder transformers`\.$/,
    );
    expect(choices[0]).not.toContain("To install it by hand");
    expect(choices[0]!.length).toBeLessThan(400);

    // Reopened under auto, the store keeps its bound model, even once the default model would load.
    writeTinyBert(models, "Xenova/all-MiniLM-L6-v2");
    const again = resolveEmbedder("auto", { dataDir, modelPath: models, boundModel: { provider: bound.provider, model: bound.name } });
    expect(`${again.provider}:${again.model}`).toBe("offline:universal-sentence-encoder-lite");
    await withStore(dataDir, again, async (store) => {
      expect((await store.search({ query: "a puppy and a kitten", k: 1 })).results[0]!.chunk_id).toBe("pets");
    });
  });

  it("auto chooses the default transformers model when it is installed", async () => {
    const installed = tempDir();
    writeTinyBert(installed, "Xenova/all-MiniLM-L6-v2");
    const lines: string[] = [];
    const auto = resolveEmbedder("auto", { modelPath: installed, env: NO_HUB, log: (l) => lines.push(l) });
    const dataDir = tempDir();
    await withStore(dataDir, auto, async (store) => {
      await store.indexMany(CORPUS);
      expect((await store.status()).model).toMatchObject({ provider: "transformers", name: "Xenova/all-MiniLM-L6-v2", dimension: 32 });
    });
    expect(lines).toEqual(["embedder auto: using transformers:Xenova/all-MiniLM-L6-v2 (32-d), the default local model."]);
    // An explicit spec is taken as asked, so the store can refuse it.
    await expect(Store.open({ dataDir, embedder: resolveEmbedder("hash", { boundModel: { provider: "transformers", model: "Xenova/all-MiniLM-L6-v2" } }), background: false })).rejects.toThrow(
      /bound to the embedder transformers:Xenova\/all-MiniLM-L6-v2 \(32-d\), but hash:384 was requested/,
    );
  });
});
