import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EmbedderError } from "../src/embed/embedder.js";
import { HashEmbedder } from "../src/embed/hash.js";
import { OpenAIEmbedder, estimateTokens, retryAfterMs, type OpenAIEmbedderOptions } from "../src/embed/openai.js";
import { FakeEmbeddingsServer } from "./helpers/openai-server.js";

let server: FakeEmbeddingsServer;
beforeEach(async () => {
  server = await FakeEmbeddingsServer.start();
});
afterEach(async () => {
  await server.stop();
});

function embedder(options: OpenAIEmbedderOptions = {}, model = server.model): OpenAIEmbedder {
  return new OpenAIEmbedder(model, { env: { OPENAI_BASE_URL: server.baseUrl, OPENAI_API_KEY: "sk-test" }, retryBaseMs: 10, ...options });
}

const norm = (v: Float32Array) => Math.hypot(...v);

describe("openai provider against a local OpenAI-compatible server", () => {
  it("learns the dimension from the first answer, sends the key, orders by index and normalises", async () => {
    const e = embedder();
    expect(await e.load()).toEqual({ provider: "openai", model: "fake-embed", dimension: 48, distance: "dot", normalized: true });
    const [a, b] = await e.embed(["first text", "second text"], { kind: "document" });
    const [ha, hb] = await new HashEmbedder(48).embed(["first text", "second text"], { kind: "document" });
    expect(Array.from(a!)).toEqual(Array.from(ha!).map((x) => expect.closeTo(x, 5)));
    expect(Array.from(b!)).toEqual(Array.from(hb!).map((x) => expect.closeTo(x, 5)));
    expect(norm(a!)).toBeCloseTo(1, 5);
    expect(server.requests.at(-1)).toMatchObject({ model: "fake-embed", authorization: "Bearer sk-test", input: ["first text", "second text"] });
  });

  it("asks for shorter vectors with @dimensions and binds the size into the model name", async () => {
    const e = embedder({ dimensions: 16 });
    expect(await e.load()).toMatchObject({ model: "fake-embed@16", dimension: 16 });
    expect(server.requests[0]!.dimensions).toBe(16);
  });

  it("splits big calls by count and by estimated tokens", async () => {
    const e = embedder({ maxBatchSize: 3, maxBatchTokens: 100 });
    const short = Array.from({ length: 7 }, (_, i) => `text number ${i}`);
    expect(await e.embed(short, { kind: "document" })).toHaveLength(7);
    expect(server.requests.map((r) => r.input.length)).toEqual([3, 3, 1]);

    server.requests.length = 0;
    const long = "word ".repeat(60); // about 90 estimated tokens: one per request
    expect(estimateTokens(long)).toBeGreaterThan(50);
    expect(await e.embed([long, long, "tiny"], { kind: "document" })).toHaveLength(3);
    expect(server.requests.map((r) => r.input.length)).toEqual([1, 2]);
  });

  it("retries 429 after the server's Retry-After, and 500s with backoff", async () => {
    server.script.push({ kind: "status", status: 429, body: { error: { message: "Rate limit reached" } }, headers: { "retry-after": "1" } });
    server.script.push({ kind: "status", status: 500, body: { error: { message: "internal" } } });
    server.script.push({ kind: "status", status: 503, body: "upstream unavailable" });
    const vectors = await embedder().embed(["retry me"], { kind: "document" });
    expect(vectors).toHaveLength(1);
    expect(server.requests).toHaveLength(4);
    // Retry-After is a lower bound the client must respect.
    expect(server.requests[1]!.at - server.requests[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it("gives up after its retries with the server's last answer", async () => {
    for (let i = 0; i < 3; i++) server.script.push({ kind: "status", status: 502, body: { error: { message: "bad gateway" } } });
    await expect(embedder({ maxRetries: 2 }).embed(["x"], { kind: "document" })).rejects.toThrow(/answered 502: bad gateway; gave up after 3 attempts/);
  });

  it("refuses to wait for a Retry-After longer than its limit", async () => {
    server.script.push({ kind: "status", status: 429, body: { error: { message: "quota" } }, headers: { "retry-after": "3600" } });
    await expect(embedder().embed(["x"], { kind: "document" })).rejects.toThrow(/asks to wait 3600 s/);
    expect(server.requests).toHaveLength(1);
  });

  it("times out a slow request and retries it", async () => {
    server.script.push({ kind: "slow", ms: 1500 });
    const e = embedder({ requestTimeoutMs: 300 });
    expect(await e.embed(["slow"], { kind: "document" })).toHaveLength(1);
    expect(server.requests).toHaveLength(2);

    server.script.push({ kind: "hang" }, { kind: "hang" });
    await expect(embedder({ requestTimeoutMs: 200, maxRetries: 1 }).embed(["x"], { kind: "document" })).rejects.toThrow(/did not answer within 0.2 s; gave up after 2 attempts/);
  });

  it("says what to do on 401 and on an unknown model, without retrying", async () => {
    server.script.push({ kind: "status", status: 401, body: { error: { message: "Incorrect API key provided" } } });
    const unauthorized = embedder().load();
    await expect(unauthorized).rejects.toBeInstanceOf(EmbedderError);
    await expect(unauthorized).rejects.toThrow(/answered 401: Incorrect API key provided\. The API key was rejected: set OPENAI_API_KEY/);

    await expect(embedder({}, "no-such-model").load()).rejects.toThrow(/does not serve the model "no-such-model".*ollama pull no-such-model/);
    expect(server.requests).toHaveLength(2);
  });

  it("says when the base URL has no embeddings API", async () => {
    const e = new OpenAIEmbedder(server.model, { baseUrl: server.baseUrl.replace(/\/v1$/, "/api"), retryBaseMs: 10 });
    await expect(e.load()).rejects.toThrow(/No embeddings API at this address: OPENAI_BASE_URL should be the API root/);
  });

  it("says when nothing listens at the base URL", async () => {
    const url = server.baseUrl;
    await server.stop();
    server = await FakeEmbeddingsServer.start();
    await expect(new OpenAIEmbedder("m", { baseUrl: url, maxRetries: 1, retryBaseMs: 10 }).load()).rejects.toThrow(/could not reach .*check OPENAI_BASE_URL and that the server is running/);
  });

  it("needs a key only for the OpenAI API itself", async () => {
    await expect(new OpenAIEmbedder("text-embedding-3-small", { env: {} }).load()).rejects.toThrow(/set OPENAI_API_KEY/);
  });

  it("stops a hanging request and a pending retry when the caller aborts", async () => {
    server.script.push({ kind: "hang" });
    const controller = new AbortController();
    const call = embedder().embed(["x"], { kind: "document", signal: controller.signal });
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    controller.abort(new DOMException("client went away", "AbortError"));
    await expect(call).rejects.toThrow(/client went away/);

    server.script.push({ kind: "status", status: 429, body: {}, headers: { "retry-after": "30" } });
    const waiting = new AbortController();
    const retrying = embedder().embed(["y"], { kind: "document", signal: waiting.signal });
    while (server.requests.length === 1) await new Promise((r) => setTimeout(r, 10));
    waiting.abort(new DOMException("cancelled", "AbortError"));
    await expect(retrying).rejects.toThrow(/cancelled/);
    expect(server.requests).toHaveLength(2);
  });

  it("applies the query and passage prefixes of E5 models", async () => {
    server.model = "intfloat/e5-small-v2";
    const e = embedder({}, "intfloat/e5-small-v2");
    await e.embed(["what is rust"], { kind: "query" });
    await e.embed(["Rust is a language"], { kind: "document" });
    expect(server.requests.map((r) => r.input[0])).toEqual(["query: what is rust", "passage: Rust is a language"]);
  });

  it("reads Retry-After as seconds, as a date and as milliseconds", () => {
    expect(retryAfterMs(new Headers({ "retry-after": "2" }))).toBe(2000);
    expect(retryAfterMs(new Headers({ "retry-after-ms": "150", "retry-after": "2" }))).toBe(150);
    expect(retryAfterMs(new Headers({ "retry-after": new Date(10_000).toUTCString() }), 4_000)).toBe(6000);
    expect(retryAfterMs(new Headers())).toBeNull();
  });
});
