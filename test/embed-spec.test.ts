import { describe, expect, it } from "vitest";
import { AutoEmbedder } from "../src/embed/auto.js";
import { EmbedderSpecError, embedderFromSpec, resolveEmbedder } from "../src/embed/from-spec.js";
import { OfflineEmbedder } from "../src/embed/offline.js";
import { OpenAIEmbedder } from "../src/embed/openai.js";
import { resolveModelFiles } from "../src/embed/options.js";
import { applyPrefix, prefixesFor } from "../src/embed/prefixes.js";
import { TransformersEmbedder } from "../src/embed/transformers.js";

const key = (e: { provider: string; model: string }) => `${e.provider}:${e.model}`;

describe("embedder specs", () => {
  it("builds every provider without loading anything", () => {
    expect(embedderFromSpec("auto")).toBeInstanceOf(AutoEmbedder);
    expect(key(embedderFromSpec("transformers"))).toBe("transformers:Xenova/all-MiniLM-L6-v2");
    expect(embedderFromSpec("transformers:Xenova/bge-small-en-v1.5")).toBeInstanceOf(TransformersEmbedder);
    expect(key(embedderFromSpec("offline"))).toBe("offline:universal-sentence-encoder-lite");
    expect(embedderFromSpec("offline:universal-sentence-encoder-lite")).toBeInstanceOf(OfflineEmbedder);
    expect(key(embedderFromSpec("hash"))).toBe("hash:384");
    const openai = embedderFromSpec("openai:text-embedding-3-small@256", { env: { OPENAI_BASE_URL: "http://localhost:11434" } });
    expect(openai).toBeInstanceOf(OpenAIEmbedder);
    expect(key(openai)).toBe("openai:text-embedding-3-small@256");
    expect((openai as OpenAIEmbedder).url).toBe("http://localhost:11434/v1/embeddings");
  });

  it("rejects bad specs with the list of choices", () => {
    expect(() => embedderFromSpec("bert")).toThrow(EmbedderSpecError);
    expect(() => embedderFromSpec("bert")).toThrow(/Available: auto \(default\), transformers/);
    expect(() => embedderFromSpec("auto:x")).toThrow(/auto takes no model/);
    expect(() => embedderFromSpec("hash:3")).toThrow(/from 8 to 8192/);
    expect(() => embedderFromSpec("offline:other")).toThrow(/one model/);
    expect(() => embedderFromSpec("openai:")).toThrow(/name the model/);
    expect(() => embedderFromSpec("openai:m@0")).toThrow(/at least 1/);
  });

  it("resolves auto to the bound model of an existing store", () => {
    expect(key(resolveEmbedder("auto", { boundModel: { provider: "hash", model: "64" } }))).toBe("hash:64");
    expect(key(resolveEmbedder("auto", { boundModel: { provider: "openai", model: "text-embedding-3-small@256" } }))).toBe("openai:text-embedding-3-small@256");
    expect(resolveEmbedder("auto", { boundModel: null })).toBeInstanceOf(AutoEmbedder);
    expect(key(resolveEmbedder("offline", { boundModel: { provider: "hash", model: "64" } }))).toBe("offline:universal-sentence-encoder-lite");
  });

  it("takes model locations from options, then the environment", () => {
    expect(resolveModelFiles({ dataDir: "/data", env: {} })).toMatchObject({ cacheDir: "/data/models", modelPath: undefined, offline: false });
    expect(resolveModelFiles({ env: { RETRIEVAL_MCP_MODEL_DIR: "/models", HF_HUB_OFFLINE: "1", XDG_CACHE_HOME: "/c" } })).toMatchObject({
      cacheDir: "/c/retrieval-mcp/models",
      modelPath: "/models",
      offline: true,
    });
    expect(resolveModelFiles({ modelPath: "/flag", offline: false, env: { RETRIEVAL_MCP_MODEL_DIR: "/env", RETRIEVAL_MCP_OFFLINE: "true" } })).toMatchObject({ modelPath: "/flag", offline: false });
  });

  it("knows the prefixes of E5, BGE and nomic models", () => {
    expect(applyPrefix(["q"], prefixesFor("intfloat/multilingual-e5-small"), "query")).toEqual(["query: q"]);
    expect(applyPrefix(["d"], prefixesFor("Xenova/e5-base-v2"), "document")).toEqual(["passage: d"]);
    expect(applyPrefix(["q"], prefixesFor("Xenova/bge-small-en-v1.5"), "query")).toEqual(["Represent this sentence for searching relevant passages: q"]);
    expect(applyPrefix(["d"], prefixesFor("BAAI/bge-base-en-v1.5"), "document")).toEqual(["d"]);
    expect(applyPrefix(["d"], prefixesFor("nomic-embed-text"), "document")).toEqual(["search_document: d"]);
    expect(applyPrefix(["q"], prefixesFor("Xenova/all-MiniLM-L6-v2"), "query")).toEqual(["q"]);
    expect(applyPrefix(["q"], prefixesFor("some/model-e5x"), "query")).toEqual(["q"]);
  });
});
