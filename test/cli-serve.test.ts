import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { beforeAll, describe, expect, it } from "vitest";
import { CLI, assertBuilt, cleanEnv } from "./helpers/cli.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();

beforeAll(assertBuilt);

type Message = Record<string, any>;

describe("retrieval-mcp serve", () => {
  it("over stdio writes nothing but JSON-RPC to stdout while every tool is called, and exits 0 on EOF", async () => {
    const dataDir = tempDir();
    const child = spawn(process.execPath, [CLI, "serve", "--data-dir", dataDir, "--embedder", "hash:64"], { env: cleanEnv(), stdio: "pipe" });
    let rawStdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (rawStdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const lines: string[] = [];
    const waiting = new Map<number, (message: Message) => void>();
    createInterface({ input: child.stdout }).on("line", (line) => {
      lines.push(line);
      try {
        const message = JSON.parse(line) as Message;
        if (typeof message.id === "number") waiting.get(message.id)?.(message);
      } catch {
        // Recorded in `lines`; the assertions below name the offending line.
      }
    });
    const exited = once(child, "exit");
    let nextId = 1;
    const send = (message: Message) => child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", ...message })}\n`);
    const request = (method: string, params: Message): Promise<Message> => {
      const id = nextId++;
      const answer = new Promise<Message>((resolve) => waiting.set(id, resolve));
      send({ id, method, params });
      return answer;
    };
    const callTool = async (name: string, args: Message, meta?: Message): Promise<Message> =>
      (await request("tools/call", { name, arguments: args, ...(meta ? { _meta: meta } : {}) })).result as Message;

    const init = await request("initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "purity-test", version: "1" } });
    expect(init.result.serverInfo.name).toBe("retrieval-mcp");
    send({ method: "notifications/initialized" });
    const { result: listed } = await request("tools/list", {});
    const names = (listed.tools as { name: string }[]).map((t) => t.name).sort();
    expect(names).toEqual(["delete_chunk", "embedding_status", "get_chunk", "index_chunk", "index_chunks", "semantic_search"]);

    expect((await callTool("index_chunk", { chunk_id: "one", text: "a lighthouse on a rocky island", doc_id: "d1" })).structuredContent.status).toBe("committed");
    const batch = await callTool(
      "index_chunks",
      { chunks: Array.from({ length: 20 }, (_, i) => ({ chunk_id: `b${i}`, text: `batch chunk ${i} about harbours and ships`, doc_id: "d2" })) },
      { progressToken: "p1" },
    );
    expect(batch.structuredContent.committed).toBe(20);
    const search = await callTool("semantic_search", { query: "lighthouse island", k: 3 });
    expect(search.structuredContent.results[0].chunk_id).toBe("one");
    expect((await callTool("get_chunk", { chunk_id: "one" })).isError).not.toBe(true);
    expect((await callTool("embedding_status", { chunk_ids: ["one"] })).structuredContent.counts.committed).toBe(21);
    expect((await callTool("delete_chunk", { doc_id: "d2" })).structuredContent.deleted).toBe(20);
    expect((await callTool("semantic_search", { query: "" })).isError).toBe(true);

    child.stdin.end();
    const [code] = await exited;
    expect(code, stderr).toBe(0);
    expect(lines.length).toBeGreaterThanOrEqual(10);
    expect(rawStdout.endsWith("\n")).toBe(true);
    for (const line of lines) {
      let message: Message | null = null;
      try {
        message = JSON.parse(line) as Message;
      } catch {
        message = null;
      }
      expect(message?.jsonrpc, `stdout line is not JSON-RPC: ${line.slice(0, 200)}`).toBe("2.0");
    }
    // The progress notifications travelled the same clean channel.
    expect(lines.some((l) => l.includes('"notifications/progress"'))).toBe(true);
  });

  it("over HTTP requires the token, serves tools and stops cleanly on SIGTERM", async () => {
    const dataDir = tempDir();
    const token = "s3cret-token";
    const child = spawn(process.execPath, [CLI, "serve", "--transport", "http", "--port", "0", "--data-dir", dataDir, "--embedder", "hash:64"], {
      env: cleanEnv({ RETRIEVAL_MCP_TOKEN: token }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
        const match = /listening on (http:\/\/\S+\/mcp) \(bearer token required\)/.exec(stderr);
        if (match) resolve(match[1]!);
      });
      child.once("exit", () => reject(new Error(`serve exited early: ${stderr}`)));
    });
    const exited = once(child, "exit");

    const anonymous = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
    });
    expect(anonymous.status).toBe(401);

    const client = new Client({ name: "http-test", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    const indexed = await client.callTool({ name: "index_chunk", arguments: { chunk_id: "h1", text: "spoken over http" } });
    expect(indexed.structuredContent).toMatchObject({ chunk_id: "h1", status: "committed" });
    await client.close();

    child.kill("SIGTERM");
    const [code] = await exited;
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/stopping \(SIGTERM\)/);
    expect(stdout).toBe("");
  });
});
