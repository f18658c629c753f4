import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { LoggingMessageNotificationSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { TransformersEmbedder } from "../src/embed/transformers.js";
import { writeTinyBert } from "./fixtures/tiny-bert.js";
import { FakeHub } from "./helpers/fake-hub.js";
import { ok, textOf } from "./helpers/mcp.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const DEFAULT_MODEL = "Xenova/all-MiniLM-L6-v2";

/** The SDK's client over stdio to a server whose `auto` embedder downloads from `hub`. */
async function connect(hub: FakeHub, limits: { downloadMs: number; waitMs: number }) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ["--import", "tsx", "test/fixtures/auto-server.ts", tempDir(), hub.url, String(limits.downloadMs), String(limits.waitMs)],
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const client = new Client({ name: "first-use", version: "1" });
  const logs: string[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(String(n.params.data)));
  await client.connect(transport);
  cleanups.push(() => client.close());
  const call = async (name: string, args: Record<string, unknown>, timeout?: number) =>
    (await client.callTool({ name, arguments: args }, undefined, timeout === undefined ? undefined : { timeout })) as CallToolResult;
  return { client, call, logs, stderr: () => stderr };
}

async function startHub(withModel: boolean): Promise<FakeHub> {
  const root = tempDir();
  if (withModel) writeTinyBert(root, DEFAULT_MODEL);
  const hub = await FakeHub.start(root);
  cleanups.push(() => hub.stop());
  return hub;
}

describe("the first model load, with a network that hangs", () => {
  it("belongs to no request: a cancelled call does not stop it, later calls hear it is still loading, and it finishes once", async () => {
    const hub = await startHub(true);
    hub.hold();
    const server = await connect(hub, { downloadMs: 600_000, waitMs: 500 });

    // The client gives up on the first call (as an MCP client's request timeout does) and cancels it.
    await expect(server.call("index_chunk", { chunk_id: "a", text: "the cat sleeps" }, 300)).rejects.toThrow(/timed out/i);
    await expect
      .poll(async () => ok(await server.call("embedding_status", {})).model.load, { timeout: 30_000 })
      .toMatchObject({ state: "loading", error: null, detail: expect.stringContaining("downloading config.json") });
    const waiting = await server.call("index_chunk", { chunk_id: "a", text: "the cat sleeps" });
    expect(waiting.isError).toBe(true);
    expect(textOf(waiting)).toMatch(/The embedding model auto:unchosen is still loading \(\d+ s so far; auto: trying transformers:Xenova\/all-MiniLM-L6-v2 \(downloading config\.json from http/);
    expect(textOf(waiting)).toMatch(/embedding_status shows its progress\. Nothing was written\.$/);

    expect(ok(await server.call("embedding_status", {})).total_chunks).toBe(0);
    await expect.poll(() => server.logs, { timeout: 30_000 }).toContainEqual(expect.stringMatching(/^loading the embedding model auto:unchosen; requests that need it wait up to 0\.5 s/));

    hub.release();
    await expect.poll(async () => (await server.call("index_chunk", { chunk_id: "a", text: "the cat sleeps" })).isError ?? false, { timeout: 60_000, interval: 250 }).toBe(false);
    const ready = ok(await server.call("embedding_status", {}));
    expect(ready.model).toMatchObject({ provider: "transformers", name: DEFAULT_MODEL, dimension: 32, bound: true, load: { state: "ready", detail: null } });
    // One load, not one per call: the hub saw exactly the requests of a single load into an empty cache.
    // In any order: a load fetches some files at once, and they arrive as they please (swapped under load in CI).
    const seen = hub.requested.length;
    const reference = new TransformersEmbedder(DEFAULT_MODEL, { dataDir: tempDir(), env: { HF_ENDPOINT: hub.url }, log: () => undefined });
    await reference.load();
    await reference.close();
    expect(hub.requested.slice(0, seen).sort()).toEqual(hub.requested.slice(seen).sort());
    expect(server.logs).toContainEqual(expect.stringMatching(new RegExp(`^downloading ${DEFAULT_MODEL} \\(onnx/model\\.onnx\\)`)));
    expect(ok(await server.call("semantic_search", { query: "cat", k: 1 })).results[0].chunk_id).toBe("a");
  });

  it("auto falls back to the offline model once the download deadline passes, and says so in one line", async () => {
    const hub = await startHub(false);
    hub.hold();
    const server = await connect(hub, { downloadMs: 2_000, waitMs: 300 });
    const early = await server.call("semantic_search", { query: "anything" });
    // An empty store needs no model to search; a write does.
    expect(early.isError).not.toBe(true);
    const waiting = await server.call("index_chunk", { text: "tides follow the moon" });
    expect(textOf(waiting)).toMatch(/still loading/);
    await expect.poll(async () => (await server.call("index_chunk", { chunk_id: "t", text: "tides follow the moon" })).isError ?? false, { timeout: 60_000, interval: 250 }).toBe(false);
    const status = ok(await server.call("embedding_status", {}));
    expect(status.model).toMatchObject({ provider: "offline", name: "universal-sentence-encoder-lite", bound: true, load: { state: "ready" } });
    const line = server.logs.find((l) => l.startsWith("embedder auto:"));
    expect(line).toMatch(/^embedder auto: transformers:Xenova\/all-MiniLM-L6-v2 is unavailable \(http:\/\/127\.0\.0\.1:\d+\/.*config\.json: no complete download within 2 s\); using offline:universal-sentence-encoder-lite .*The store is now bound to it; to upgrade later, run `retrieval-mcp reindex --embedder transformers`\.$/);
    expect(server.stderr()).toContain(line);
  });
});
