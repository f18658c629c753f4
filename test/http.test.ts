import { request } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { lazyStore } from "../src/lazy-store.js";
import { createServer } from "../src/server.js";
import { startHttp, type HttpHandle, type HttpOptions } from "../src/transport/http.js";
import { ok } from "./helpers/mcp.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const TOKEN = "s3cret-token-0123456789abcdef01234";

/** The real server over HTTP on a free loopback port, every session sharing one lazily opened store. */
async function serve(options: Partial<HttpOptions> = {}): Promise<HttpHandle & { opens: () => number }> {
  let opens = 0;
  const dir = tempDir();
  const store = lazyStore(() => {
    opens++;
    return openStore(dir);
  });
  const http = await startHttp({
    host: "127.0.0.1",
    port: 0,
    createServer: () => createServer({ openStore: store.get, version: "test" }),
    log: () => undefined,
    ...options,
  });
  cleanups.push(async () => {
    await http.close();
    await store.close();
  });
  return { ...http, opens: () => opens };
}

async function connect(url: string, token?: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(url), token ? { requestInit: { headers: { Authorization: `Bearer ${token}` } } } : undefined);
  const client = new Client({ name: "http-test", version: "1.0.0" });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return { client, transport };
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A hand-made request, so headers fetch would not let us set (Host) can be sent. */
function raw(url: string, init: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean } = {}): Promise<RawResponse> {
  const target = new URL(init.path ?? "", url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: target.hostname, port: target.port, path: target.pathname, method: init.method ?? "POST", headers: init.headers },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    if (init.body !== undefined) {
      if (init.chunked) req.write(init.body);
      else req.end(init.body);
    }
    req.end();
  });
}

const INITIALIZE = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});
const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

describe("Streamable HTTP transport", () => {
  it("serves several clients at once over one shared store, with progress notifications", async () => {
    const http = await serve();
    expect(http.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const a = await connect(http.url);
    const b = await connect(http.url);
    expect(a.transport.sessionId).toBeDefined();
    expect(a.transport.sessionId).not.toBe(b.transport.sessionId);

    const { tools } = await a.client.listTools();
    expect(tools).toHaveLength(6);
    expect(http.opens()).toBe(0);

    const indexed = (await a.client.callTool({ name: "index_chunk", arguments: { chunk_id: "h1", text: "streamable http carries this chunk" } })) as CallToolResult;
    expect(ok(indexed)).toMatchObject({ chunk_id: "h1", status: "committed" });

    const progress: { progress: number; total?: number }[] = [];
    const chunks = Array.from({ length: 200 }, (_, i) => ({ chunk_id: `p${i}`, text: `progress chunk ${i}` }));
    const batch = (await b.client.callTool({ name: "index_chunks", arguments: { chunks } }, undefined, { onprogress: (p) => progress.push(p) })) as CallToolResult;
    expect(ok(batch)).toMatchObject({ committed: 200 });
    expect(progress.at(-1)).toMatchObject({ progress: 200, total: 200 });

    const [fromA, fromB] = await Promise.all(
      [a, b].map(async ({ client }) => ok((await client.callTool({ name: "semantic_search", arguments: { query: "streamable http chunk", k: 1 } })) as CallToolResult)),
    );
    expect(fromA!.results[0].chunk_id).toBe("h1");
    expect(fromB!.results[0].chunk_id).toBe("h1");
    expect(http.opens()).toBe(1);
  });

  it("ends a session on DELETE and answers its id with 404 afterwards", async () => {
    const http = await serve();
    const { transport } = await connect(http.url);
    const id = transport.sessionId!;
    await transport.terminateSession();
    const after = await raw(http.url, { method: "POST", headers: { ...MCP_HEADERS, "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" }, body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }) });
    expect(after.status).toBe(404);
    expect(after.body).toMatch(/Session not found/);
  });

  it("closes idle sessions", async () => {
    const http = await serve({ sessionIdleMs: 1 });
    const init = await raw(http.url, { headers: MCP_HEADERS, body: INITIALIZE });
    expect(init.status).toBe(200);
    const id = init.headers["mcp-session-id"] as string;
    const list = () =>
      raw(http.url, { headers: { ...MCP_HEADERS, "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" }, body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }) });
    let status = (await list()).status;
    while (status === 200) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      status = (await list()).status;
    }
    expect(status).toBe(404);
  });

  it("refuses foreign origins and foreign Host headers with 403, and accepts loopback and listed origins", async () => {
    const http = await serve({ allowedOrigins: ["https://app.example"] });
    const foreign = await raw(http.url, { headers: { ...MCP_HEADERS, origin: "http://evil.example" }, body: INITIALIZE });
    expect(foreign.status).toBe(403);
    expect(foreign.body).toMatch(/origin http:\/\/evil\.example/);
    const rebound = await raw(http.url, { headers: { ...MCP_HEADERS, host: `evil.example:${new URL(http.url).port}` }, body: INITIALIZE });
    expect(rebound.status).toBe(403);
    expect(rebound.body).toMatch(/Host/);

    for (const origin of ["http://localhost:6274", "http://127.0.0.1:8080", "https://app.example"]) {
      expect((await raw(http.url, { headers: { ...MCP_HEADERS, origin }, body: INITIALIZE })).status, origin).toBe(200);
    }
    expect((await raw(http.url, { headers: { ...MCP_HEADERS, host: `localhost:${new URL(http.url).port}` }, body: INITIALIZE })).status).toBe(200);
  });

  it("requires the bearer token when one is set: 401 with WWW-Authenticate when missing or wrong", async () => {
    const http = await serve({ token: TOKEN });
    const missing = await raw(http.url, { headers: MCP_HEADERS, body: INITIALIZE });
    expect(missing.status).toBe(401);
    expect(missing.headers["www-authenticate"]).toMatch(/^Bearer /);
    const wrong = await raw(http.url, { headers: { ...MCP_HEADERS, authorization: "Bearer nope" }, body: INITIALIZE });
    expect(wrong.status).toBe(401);
    expect(wrong.headers["www-authenticate"]).toMatch(/^Bearer .*error="invalid_token"/);
    const prefix = await raw(http.url, { headers: { ...MCP_HEADERS, authorization: `Bearer ${TOKEN}x` }, body: INITIALIZE });
    expect(prefix.status).toBe(401);

    await expect(connect(http.url)).rejects.toThrow();
    const { client } = await connect(http.url, TOKEN);
    expect((await client.listTools()).tools).toHaveLength(6);
  });

  it("answers 413 to bodies beyond the limit, declared or streamed", async () => {
    const http = await serve({ maxBodyBytes: 4096 });
    const big = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { padding: "x".repeat(10_000) } });
    const declared = await raw(http.url, { headers: MCP_HEADERS, body: big });
    expect(declared.status).toBe(413);
    expect(declared.body).toMatch(/exceeds the limit of 4096/);
    const streamed = await raw(http.url, { headers: { ...MCP_HEADERS, "transfer-encoding": "chunked" }, body: big, chunked: true });
    expect(streamed.status).toBe(413);
    expect((await raw(http.url, { headers: MCP_HEADERS, body: INITIALIZE })).status).toBe(200);
  });

  it("lets the SDK answer 406 and 415 to wrong Accept and Content-Type headers", async () => {
    const http = await serve();
    const accept = await raw(http.url, { headers: { "content-type": "application/json", accept: "application/json" }, body: INITIALIZE });
    expect(accept.status).toBe(406);
    const type = await raw(http.url, { headers: { "content-type": "text/plain", accept: MCP_HEADERS.accept }, body: INITIALIZE });
    expect(type.status).toBe(415);
  });

  it("answers 404 outside /mcp and 400 to a non-initialize request without a session", async () => {
    const http = await serve();
    for (const path of ["/", "/mcpx", "/mcp/extra", "/sse"]) {
      expect((await raw(http.url, { path, headers: MCP_HEADERS, body: INITIALIZE })).status, path).toBe(404);
    }
    const stray = await raw(http.url, { headers: MCP_HEADERS, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) });
    expect(stray.status).toBe(400);
    expect((await raw(http.url, { method: "GET", headers: { accept: "text/event-stream" } })).status).toBe(400);
  });

  it("refuses to listen beyond loopback without a token", async () => {
    for (const host of ["0.0.0.0", "::", "192.0.2.1"]) {
      await expect(startHttp({ host, port: 0, createServer: () => createServer({ openStore: () => Promise.reject(new Error("unused")), version: "test" }) })).rejects.toThrow(
        /Refusing to listen .* without a bearer token.*--token/,
      );
    }
  });

  it("listens on every interface when a token is set, and still demands it", async () => {
    const http = await serve({ host: "0.0.0.0", token: TOKEN });
    const url = http.url.replace("0.0.0.0", "127.0.0.1");
    expect((await raw(url, { headers: MCP_HEADERS, body: INITIALIZE })).status).toBe(401);
    const { client } = await connect(url, TOKEN);
    expect((await client.listTools()).tools).toHaveLength(6);
  });
});
