import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { CLI, assertBuilt, cleanEnv, runCli } from "./helpers/cli.js";
import { ok } from "./helpers/mcp.js";
import { useTempDirs } from "./helpers/tmp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

const tempDir = useTempDirs();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

beforeAll(assertBuilt);

/** `serve --transport http` as a real process; resolves with its URL once it listens. */
async function serveHttp(args: string[], env: Record<string, string> = {}): Promise<string> {
  return (await serveHttpProcess(args, env)).url;
}

async function serveHttpProcess(args: string[], env: Record<string, string> = {}): Promise<{ url: string; pid: number }> {
  const child = spawn(process.execPath, [CLI, "serve", "--transport", "http", "--port", "0", "--data-dir", tempDir(), "--embedder", "hash:64", ...args], {
    env: cleanEnv(env),
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    await exited;
  });
  return new Promise((resolve, reject) => {
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      const match = /listening on (http:\/\/\S+\/mcp)/.exec(stderr);
      if (match) resolve({ url: match[1]!, pid: child.pid! });
    });
    child.once("exit", () => reject(new Error(`serve exited early: ${stderr}`)));
  });
}

async function connect(url: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(url));
  const client = new Client({ name: "sessions-test", version: "1.0.0" });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return { client, transport };
}

const INITIALIZE = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});

function initialize(url: string): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: INITIALIZE });
}

describe("serve --max-sessions", () => {
  it("answers a client past the cap with 503 and Retry-After while existing sessions keep working, and admits it once one ends", async () => {
    const url = await serveHttp(["--max-sessions", "2"]);
    const a = await connect(url);
    const b = await connect(url);
    ok((await a.client.callTool({ name: "index_chunk", arguments: { chunk_id: "s1", text: "sessions under a cap" } })) as CallToolResult);

    const refused = await initialize(url);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await refused.text()).toMatch(/at most 2 .*--max-sessions/);
    await expect(connect(url)).rejects.toThrow(/Too many sessions/);

    // Both sessions in place serve tool calls as before the refusals.
    for (const { client } of [a, b]) {
      const found = ok((await client.callTool({ name: "semantic_search", arguments: { query: "sessions under a cap", k: 1 } })) as CallToolResult);
      expect(found.results[0].chunk_id).toBe("s1");
    }

    await b.transport.terminateSession();
    const c = await connect(url);
    expect(ok((await c.client.callTool({ name: "get_chunk", arguments: { chunk_id: "s1" } })) as CallToolResult).chunks).toHaveLength(1);
    expect((await initialize(url)).status).toBe(503);
  });

  it("rejects a cap that is not a positive whole number, and the flag on stdio", async () => {
    for (const value of ["0", "1.5", "many"]) {
      const result = await runCli(["serve", "--transport", "http", "--max-sessions", value, "--data-dir", tempDir()]);
      expect(result.code, value).toBe(2);
      expect(result.stderr).toMatch(/--max-sessions must be a whole number from 1/);
    }
    const stdio = await runCli(["serve", "--max-sessions", "4", "--data-dir", tempDir()]);
    expect(stdio.code).toBe(2);
    expect(stdio.stderr).toMatch(/--max-sessions only apply to --transport http/);
  });
});

describe.runIf(process.platform === "linux")("serve --transport http and the allocator", () => {
  const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
  const children = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);

  it("serves from a child started with a fixed 1 MiB mmap threshold that stops with its parent, unless the user set a threshold", async () => {
    const wrapped = await serveHttpProcess([]);
    const [server] = children(wrapped.pid);
    expect(server, "the server process").toBeDefined();
    expect(environ(server!)).toContain("MALLOC_MMAP_THRESHOLD_=1048576");
    const { client } = await connect(wrapped.url);
    expect((await client.listTools()).tools).toHaveLength(6);

    // The server does not outlive its parent, even one killed outright.
    process.kill(wrapped.pid, "SIGKILL");
    while (existsSync(`/proc/${server}`) && !readFileSync(`/proc/${server}/stat`, "utf8").includes(") Z ")) await new Promise((resolve) => setTimeout(resolve, 50));

    const chosen = await serveHttpProcess([], { MALLOC_MMAP_THRESHOLD_: "262144" });
    expect(children(chosen.pid)).toEqual([]);
    expect(environ(chosen.pid)).toContain("MALLOC_MMAP_THRESHOLD_=262144");
  });
});
