import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ResourceLink } from "@modelcontextprotocol/sdk/types.js";
import { assertBuilt } from "./helpers/cli.js";
import { connectHttp, connectStdio, serveHttp, type Connected } from "./helpers/clients.js";
import { ok, textOf } from "./helpers/mcp.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

beforeAll(assertBuilt);

const TOKEN = "surface-test-token-0123456789abcdef";

/** The real CLI server, reached by the SDK's client over each transport. */
const TRANSPORTS: Record<string, (dataDir: string) => Promise<Connected>> = {
  stdio: async (dataDir) => {
    const session = await connectStdio(["serve", "--data-dir", dataDir, "--embedder", "hash:64"]);
    cleanups.push(session.close);
    return session;
  },
  http: async (dataDir) => {
    const server = await serveHttp(["--data-dir", dataDir, "--embedder", "hash:64", "--token", TOKEN]);
    cleanups.push(server.stop);
    const session = await connectHttp(server.url, TOKEN);
    cleanups.push(session.close);
    return session;
  },
};

const CHUNKS = [
  { chunk_id: "recipes/sourdough.md#0", collection: "cook book", doc_id: "recipes/sourdough.md", text: "A sourdough starter needs flour, water and a warm kitchen.", metadata: { lang: "en" } },
  { chunk_id: "tides, explained", collection: "science", text: "Tides follow the moon: two high waters a day on most coasts." },
];

describe.each(Object.keys(TRANSPORTS))("MCP surface over %s", (transport) => {
  const connect = (dir: string) => TRANSPORTS[transport]!(dir);

  it("returns each hit's chunk:// uri and a resource_link, and reads the chunk back with resources/read", async () => {
    const session = await connect(tempDir());
    ok(await session.call("index_chunks", { chunks: CHUNKS }));
    const result = await session.call("semantic_search", { query: "sourdough starter flour", k: 1 });
    const [hit] = ok(result).results;
    expect(hit.uri).toBe("chunk://cook%20book/recipes%2Fsourdough.md%230");
    expect(textOf(result)).toMatch(/^1 result for "sourdough starter flour"/);
    const links = result.content.filter((c): c is ResourceLink => c.type === "resource_link");
    expect(links).toEqual([expect.objectContaining({ type: "resource_link", uri: hit.uri, name: "recipes/sourdough.md#0", mimeType: "text/plain" })]);

    const read = await session.client.readResource({ uri: hit.uri });
    expect(read.contents[0]).toEqual({ uri: hit.uri, mimeType: "text/plain", text: CHUNKS[0]!.text });
    const about = JSON.parse((read.contents[1] as { text: string }).text) as Record<string, unknown>;
    expect(about).toMatchObject({ chunk_id: "recipes/sourdough.md#0", collection: "cook book", doc_id: "recipes/sourdough.md", metadata: { lang: "en" }, status: "committed" });

    // The id with a comma and a space round-trips too; a chunk asked for in the wrong collection is not there.
    const tides = await session.client.readResource({ uri: "chunk://science/tides%2C%20explained" });
    expect(tides.contents[0]).toMatchObject({ text: CHUNKS[1]!.text });
    await expect(session.client.readResource({ uri: "chunk://cook%20book/tides%2C%20explained" })).rejects.toThrow(/-32002.*No chunk at chunk:\/\/cook%20book/);
    ok(await session.call("delete_chunk", { chunk_id: "tides, explained" }));
    await expect(session.client.readResource({ uri: "chunk://science/tides%2C%20explained" })).rejects.toThrow(/No chunk/);

    const { resourceTemplates } = await session.client.listResourceTemplates();
    expect(resourceTemplates).toEqual([expect.objectContaining({ uriTemplate: "chunk://{collection}/{chunk_id}", name: "chunk" })]);
  });

  it("completes collection names for the resource template and the prompt, and answers the prompt with cited passages", async () => {
    const session = await connect(tempDir());
    ok(await session.call("index_chunks", { chunks: [...CHUNKS, { chunk_id: "c2", collection: "cooking-notes", text: "Knife skills: keep the blade sharp." }] }));
    const template = await session.client.complete({ ref: { type: "ref/resource", uri: "chunk://{collection}/{chunk_id}" }, argument: { name: "collection", value: "coo" } });
    expect(template.completion.values).toEqual(["cook book", "cooking-notes"]);
    const prompt = await session.client.complete({ ref: { type: "ref/prompt", name: "answer_from_store" }, argument: { name: "collection", value: "SC" } });
    expect(prompt.completion.values).toEqual(["science"]);

    const { prompts } = await session.client.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(["answer_from_store"]);
    const answer = await session.client.getPrompt({ name: "answer_from_store", arguments: { question: "what does a sourdough starter need?", collection: "cook book" } });
    const [instructions, ...passages] = answer.messages;
    expect(instructions!.content).toMatchObject({ type: "text" });
    expect((instructions!.content as { text: string }).text).toMatch(/Cite every statement with the URI.*\n\nQuestion: what does a sourdough starter need\?$/s);
    expect(passages.map((m) => m.content)).toEqual([
      { type: "resource", resource: { uri: "chunk://cook%20book/recipes%2Fsourdough.md%230", mimeType: "text/plain", text: CHUNKS[0]!.text } },
    ]);
  });

  it("sends log notifications at the level the client set, and only JSON-RPC on the protocol channel", async () => {
    const session = await connect(tempDir());
    ok(await session.call("index_chunks", { chunks: CHUNKS }));
    await session.client.setLoggingLevel("debug");
    const lines = () => session.logs.map((l) => String(l.data));
    // Over HTTP, notifications outside a request travel on the GET stream the client opens after initialize.
    let probe = 0;
    await expect
      .poll(async () => {
        await session.call("semantic_search", { query: `probe ${probe++}` });
        return lines().some((l) => l.startsWith('semantic_search "probe'));
      }, { timeout: 30_000, interval: 100 })
      .toBe(true);
    await session.client.setLoggingLevel("info");
    ok(await session.call("semantic_search", { query: "hidden at info" }));
    await session.client.setLoggingLevel("debug");
    ok(await session.call("semantic_search", { query: "shown at debug" }));
    await expect.poll(lines, { timeout: 30_000 }).toContainEqual(expect.stringMatching(/^semantic_search "shown at debug": \d+ results? \(hybrid/));
    expect(lines().some((l) => l.includes("hidden at info"))).toBe(false);
    expect(session.logs.every((l) => l.logger === "retrieval-mcp")).toBe(true);
    expect(session.errors).toEqual([]);
  });
});
