import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, runCli } from "./helpers/cli.js";
import { connectHttp, serveHttp, type Connected } from "./helpers/clients.js";
import { ok, textOf } from "./helpers/mcp.js";
import { LocalIssuer, strangerKey } from "./helpers/oauth-issuer.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

beforeAll(assertBuilt);

const WRITE_TOOLS = ["delete_chunk", "index_chunk", "index_chunks"];
const READ_TOOLS = ["embedding_status", "get_chunk", "semantic_search"];

const sha = (token: string) => createHash("sha256").update(token).digest("hex");
const TOKENS = { admin: "admin-token-0123456789abcdef0123456789", reader: "reader-token-0123456789abcdef012345678", docsWriter: "docs-writer-0123456789abcdef0123456789", docsReader: "docs-reader-0123456789abcdef0123456789" };

async function connect(url: string, token: string): Promise<Connected> {
  const session = await connectHttp(url, token);
  cleanups.push(session.close);
  return session;
}

async function toolNames(session: Connected): Promise<string[]> {
  return (await session.client.listTools()).tools.map((t) => t.name).sort();
}

function refused(result: CallToolResult): string {
  expect(result.isError, textOf(result)).toBe(true);
  return textOf(result);
}

describe("--tokens-file: several tokens, each with a scope and optionally collections", () => {
  async function serveWithTokens(): Promise<string> {
    const dir = tempDir();
    const file = join(dir, "tokens.json");
    writeFileSync(
      file,
      JSON.stringify({
        tokens: [
          { name: "admin", sha256: sha(TOKENS.admin), scope: "write" },
          { name: "reader", sha256: sha(TOKENS.reader), scope: "read" },
          { name: "docs-writer", sha256: sha(TOKENS.docsWriter), scope: "write", collections: ["docs"] },
          { name: "docs-reader", sha256: sha(TOKENS.docsReader).toUpperCase(), scope: "read", collections: ["docs"] },
        ],
      }),
    );
    // Beyond loopback, a tokens file is enough: no --token needed.
    const server = await serveHttp(["--host", "0.0.0.0", "--data-dir", join(dir, "data"), "--embedder", "hash:64", "--tokens-file", file]);
    cleanups.push(server.stop);
    expect(server.stderr()).toContain(`(4 bearer tokens from ${file})`);
    const url = server.url.replace("0.0.0.0", "127.0.0.1");
    const admin = await connect(url, TOKENS.admin);
    ok(
      await admin.call("index_chunks", {
        chunks: [
          { chunk_id: "d1", collection: "docs", doc_id: "guide", text: "The install guide explains the lighthouse setup." },
          { chunk_id: "p1", collection: "private", doc_id: "guide", text: "Private notes on the lighthouse budget." },
        ],
      }),
    );
    return url;
  }

  it("a read token neither sees nor may call the write tools, and reads every collection", async () => {
    const url = await serveWithTokens();
    const admin = await connect(url, TOKENS.admin);
    expect(await toolNames(admin)).toEqual([...WRITE_TOOLS, ...READ_TOOLS].sort());
    const reader = await connect(url, TOKENS.reader);
    expect(await toolNames(reader)).toEqual(READ_TOOLS);
    for (const [name, args] of [
      ["index_chunk", { text: "sneaky" }],
      ["index_chunks", { chunks: [{ text: "sneaky" }] }],
      ["delete_chunk", { chunk_id: "d1" }],
    ] as const) {
      expect(refused(await reader.call(name, args))).toMatch(new RegExp(`Tool ${name} not found`));
    }
    const hits = ok(await reader.call("semantic_search", { query: "lighthouse", k: 5 })).results.map((r: { chunk_id: string }) => r.chunk_id).sort();
    expect(hits).toEqual(["d1", "p1"]);
    expect(ok(await admin.call("get_chunk", { chunk_ids: ["d1", "p1"] })).chunks).toHaveLength(2);
  });

  it("a collection-limited token sees and changes only its collections: search, get_chunk, delete, resources, completion, status", async () => {
    const url = await serveWithTokens();
    const docs = await connect(url, TOKENS.docsReader);
    const ids = async (args: Record<string, unknown>) => ok(await docs.call("semantic_search", { query: "lighthouse", k: 10, ...args })).results.map((r: { chunk_id: string }) => r.chunk_id);
    expect(await ids({})).toEqual(["d1"]);
    expect(await ids({ mode: "vector" })).toEqual(["d1"]);
    expect(await ids({ mode: "keyword" })).toEqual(["d1"]);
    expect(refused(await docs.call("semantic_search", { query: "lighthouse", collection: "private" }))).toMatch(/collection "private" is outside what these credentials \(docs-reader\) may use; they allow the collections "docs"/);
    // An unknown collection is reported without naming the ones it may not see.
    expect(refused(await docs.call("semantic_search", { query: "lighthouse", collection: "docz" }))).not.toContain("private");

    expect(ok(await docs.call("get_chunk", { chunk_ids: ["d1", "p1"] }))).toMatchObject({ chunks: [{ chunk_id: "d1" }], missing: ["p1"] });
    expect(ok(await docs.call("get_chunk", { doc_id: "guide" })).chunks.map((c: { chunk_id: string }) => c.chunk_id)).toEqual(["d1"]);
    const status = ok(await docs.call("embedding_status", { chunk_ids: ["d1", "p1"] }));
    expect(status.chunks).toEqual([expect.objectContaining({ chunk_id: "d1", status: "committed" }), { chunk_id: "p1", status: "missing", generation: null, vector_committed: false, committed_generation: null }]);

    await expect(docs.client.readResource({ uri: "chunk://private/p1" })).rejects.toThrow(/No chunk/);
    expect((await docs.client.readResource({ uri: "chunk://docs/d1" })).contents[0]).toMatchObject({ text: expect.stringContaining("install guide") });
    const completion = await docs.client.complete({ ref: { type: "ref/resource", uri: "chunk://{collection}/{chunk_id}" }, argument: { name: "collection", value: "" } });
    expect(completion.completion.values).toEqual(["docs"]);
    const prompt = await docs.client.getPrompt({ name: "answer_from_store", arguments: { question: "lighthouse budget" } });
    expect(prompt.messages.slice(1).map((m) => (m.content as { resource: { uri: string } }).resource.uri)).toEqual(["chunk://docs/d1"]);
  });

  it("a collection-limited write token writes and deletes only in its collections", async () => {
    const url = await serveWithTokens();
    const writer = await connect(url, TOKENS.docsWriter);
    expect(ok(await writer.call("index_chunk", { chunk_id: "d2", collection: "docs", text: "a second page of docs" }))).toMatchObject({ status: "committed" });
    expect(refused(await writer.call("index_chunk", { chunk_id: "x", text: "into default" }))).toMatch(/collection "default" is outside/);
    expect(refused(await writer.call("index_chunks", { chunks: [{ chunk_id: "ok", collection: "docs", text: "fine" }, { chunk_id: "no", collection: "private", text: "not fine" }] }))).toMatch(/chunks\[1\]\.collection "private" is outside/);
    // Indexing an id again would move the private chunk into docs: refused.
    expect(refused(await writer.call("index_chunk", { chunk_id: "p1", collection: "docs", text: "hijack" }))).toMatch(/chunk_id "p1" is already in use in a collection these credentials may not change/);

    expect(ok(await writer.call("delete_chunk", { chunk_ids: ["p1", "d2"] }))).toMatchObject({ deleted: 1, chunk_ids: ["d2"] });
    expect(ok(await writer.call("delete_chunk", { doc_id: "guide" }))).toMatchObject({ deleted: 1, chunk_ids: ["d1"] });
    const admin = await connect(url, TOKENS.admin);
    expect(ok(await admin.call("get_chunk", { chunk_ids: ["p1", "d1", "ok"] }))).toMatchObject({ chunks: [{ chunk_id: "p1", text: "Private notes on the lighthouse budget." }], missing: ["d1", "ok"] });
  });

  it("refuses unknown tokens with 401 and a session used with other credentials with 403", async () => {
    const url = await serveWithTokens();
    await expect(connectHttp(url, "not-a-token-0123456789abcdef0123456")).rejects.toThrow(/Unauthorized: the bearer token is not in the tokens file/);
    const reader = await connect(url, TOKENS.reader);
    const sessionId = (reader.client.transport as { sessionId?: string }).sessionId!;
    const hijack = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${TOKENS.admin}`, "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }),
    });
    expect(hijack.status).toBe(403);
    expect(await hijack.text()).toMatch(/opened with other credentials/);
  });

  it("refuses a tokens file that holds a token instead of its SHA-256, naming the field", async () => {
    const dir = tempDir();
    const file = join(dir, "tokens.json");
    writeFileSync(file, JSON.stringify({ tokens: [{ name: "oops", sha256: TOKENS.admin, scope: "write" }] }));
    const result = await runCli(["serve", "--transport", "http", "--port", "0", "--data-dir", dir, "--tokens-file", file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/The tokens file .*tokens\.json is not valid: tokens\[0\]\.sha256 must be the 64 hex digits of the token's SHA-256/);
  });
});

describe("a shared --token", () => {
  it("shorter than 32 characters is refused beyond loopback and accepted on loopback", async () => {
    const refusedRun = await runCli(["serve", "--transport", "http", "--host", "0.0.0.0", "--port", "0", "--token", "short-token", "--data-dir", tempDir()]);
    expect(refusedRun.code).toBe(2);
    expect(refusedRun.stderr).toMatch(/Cannot serve on 0\.0\.0\.0: the bearer token is 11 characters long; beyond loopback it must have at least 32/);
    const server = await serveHttp(["--token", "short-token", "--data-dir", tempDir(), "--embedder", "hash:64"]);
    cleanups.push(server.stop);
    expect(await toolNames(await connect(server.url, "short-token"))).toHaveLength(6);
  });
});

describe("OAuth resource-server mode", () => {
  const AUDIENCE = "https://retrieval.example/mcp";

  async function serveWithIssuer(): Promise<{ url: string; issuer: LocalIssuer }> {
    const issuer = await LocalIssuer.start();
    cleanups.push(() => issuer.stop());
    const server = await serveHttp(["--data-dir", tempDir(), "--embedder", "hash:64", "--oauth-issuer", issuer.url, "--oauth-audience", AUDIENCE]);
    cleanups.push(server.stop);
    expect(server.stderr()).toContain(`(OAuth access tokens from ${issuer.url} (audience ${AUDIENCE}))`);
    return { url: server.url, issuer };
  }

  it("publishes its protected-resource metadata and points 401s at it", async () => {
    const { url, issuer } = await serveWithIssuer();
    const anonymous = await fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: "{}" });
    expect(anonymous.status).toBe(401);
    const challenge = anonymous.headers.get("www-authenticate")!;
    expect(challenge).toMatch(/^Bearer resource_metadata="https:\/\/retrieval\.example\/\.well-known\/oauth-protected-resource", scope="retrieval:read retrieval:write"$/);
    for (const path of ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"]) {
      const metadata = await fetch(new URL(path, url));
      expect(metadata.status).toBe(200);
      expect(await metadata.json()).toEqual({
        resource: AUDIENCE,
        authorization_servers: [issuer.url],
        scopes_supported: ["retrieval:read", "retrieval:write"],
        bearer_methods_supported: ["header"],
        resource_name: "retrieval-mcp",
      });
    }
  });

  it("maps retrieval:read and retrieval:write to read and write sessions", async () => {
    const { url, issuer } = await serveWithIssuer();
    const reader = await connect(url, await issuer.sign({ audience: AUDIENCE, scope: "openid retrieval:read" }));
    expect(await toolNames(reader)).toEqual(READ_TOOLS);
    const writer = await connect(url, await issuer.sign({ audience: AUDIENCE, scope: "retrieval:write", subject: "agent-7" }));
    expect(await toolNames(writer)).toEqual([...WRITE_TOOLS, ...READ_TOOLS].sort());
    expect(ok(await writer.call("index_chunk", { chunk_id: "o1", text: "written with an OAuth token" }))).toMatchObject({ status: "committed" });
    expect(ok(await reader.call("semantic_search", { query: "OAuth token" })).results[0].chunk_id).toBe("o1");
  });

  it("refuses expired, wrong-audience, wrongly signed and scope-less tokens", async () => {
    const { url, issuer } = await serveWithIssuer();
    const cases = [
      { why: "expired", token: await issuer.sign({ audience: AUDIENCE, scope: "retrieval:write", expiresIn: -120 }), status: 401, says: /expired/ },
      { why: "wrong audience", token: await issuer.sign({ audience: "https://other.example/mcp", scope: "retrieval:write" }), status: 401, says: /aud claim/ },
      { why: "wrong issuer", token: await issuer.sign({ audience: AUDIENCE, scope: "retrieval:write", issuer: "https://evil.example" }), status: 401, says: /iss claim/ },
      { why: "wrong signature", token: await issuer.sign({ audience: AUDIENCE, scope: "retrieval:write", key: await strangerKey() }), status: 401, says: /signature does not verify/ },
      { why: "not a JWT", token: "0123456789abcdef0123456789abcdef", status: 401, says: /not a valid JWT/ },
      { why: "missing scope", token: await issuer.sign({ audience: AUDIENCE, scope: "openid profile" }), status: 403, says: /grants neither retrieval:read nor retrieval:write/ },
    ];
    for (const c of cases) {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${c.token}` },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
      });
      expect(response.status, c.why).toBe(c.status);
      expect(await response.text(), c.why).toMatch(c.says);
      expect(response.headers.get("www-authenticate"), c.why).toMatch(c.status === 403 ? /error="insufficient_scope"/ : /error="invalid_token"/);
    }
  });
});
