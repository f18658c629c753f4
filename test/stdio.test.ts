import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();

interface Child {
  process: ChildProcessWithoutNullStreams;
  /** Every stdout line, parsed; a line that is not JSON-RPC fails the test. */
  messages: Record<string, any>[];
  stderr: () => string;
  request: (method: string, params: Record<string, unknown>) => Promise<Record<string, any>>;
  exited: Promise<number | null>;
}

function start(dataDir: string, env: Record<string, string> = {}): Child {
  const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/stdio-server.ts", dataDir], { stdio: "pipe", env: { ...process.env, ...env } });
  const messages: Record<string, any>[] = [];
  const waiting = new Map<number, (message: Record<string, any>) => void>();
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout }).on("line", (line) => {
    const message = JSON.parse(line) as Record<string, any>;
    expect(message.jsonrpc, line).toBe("2.0");
    messages.push(message);
    if (typeof message.id === "number") waiting.get(message.id)?.(message);
  });
  let nextId = 1;
  const send = (message: Record<string, unknown>) => child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", ...message })}\n`);
  return {
    process: child,
    messages,
    stderr: () => stderr,
    request: (method, params) => {
      const id = nextId++;
      const answer = new Promise<Record<string, any>>((resolve) => waiting.set(id, resolve));
      send({ id, method, params });
      return answer;
    },
    exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))),
  };
}

async function initialize(child: Child): Promise<void> {
  const init = await child.request("initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "stdio-test", version: "1" } });
  expect(init.result.serverInfo.name).toBe("retrieval-mcp");
  child.process.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
}

describe("stdio transport", () => {
  it("keeps stdout to JSON-RPC and closes the store on stdin EOF", async () => {
    const dir = tempDir();
    const child = start(dir);
    await initialize(child);
    const indexed = await child.request("tools/call", { name: "index_chunk", arguments: { chunk_id: "s1", text: "spoken over stdio" } });
    expect(indexed.result.structuredContent).toMatchObject({ chunk_id: "s1", status: "committed" });
    const bad = await child.request("tools/call", { name: "semantic_search", arguments: { query: "" } });
    expect(bad.result.isError).toBe(true);

    child.process.stdin.end();
    expect(await child.exited).toBe(0);
    expect(child.stderr()).toContain("loading model...");
    expect(child.stderr()).toMatch(/stopping \(stdin closed\)[\s\S]*store closed/);
    expect(child.messages.every((m) => m.jsonrpc === "2.0")).toBe(true);

    const store = await openStore(dir);
    expect((await store.search({ query: "spoken over stdio", k: 1 })).results[0]?.chunk_id).toBe("s1");
    await store.close();
  });

  it.each(["SIGTERM", "SIGINT"] as const)("closes the store and exits cleanly on %s", async (signal) => {
    const child = start(tempDir());
    await initialize(child);
    const status = await child.request("tools/call", { name: "embedding_status", arguments: {} });
    expect(status.result.structuredContent.counts).toEqual({ pending: 0, committed: 0, tombstone: 0 });
    child.process.kill(signal);
    expect(await child.exited).toBe(0);
    expect(child.stderr()).toMatch(new RegExp(`stopping \\(${signal}\\)[\\s\\S]*store closed`));
  });

  it("finishes a clean shutdown when SIGTERM follows stdin EOF, as MCP clients send it", async () => {
    const child = start(tempDir(), { CLOSE_DELAY_MS: "1500" });
    await initialize(child);
    await child.request("tools/call", { name: "index_chunk", arguments: { chunk_id: "t", text: "written just before shutdown" } });
    child.process.stdin.end();
    await expect.poll(() => child.stderr(), { timeout: 30_000 }).toContain("stopping (stdin closed)");
    child.process.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    expect(child.stderr()).toMatch(/stopping \(stdin closed\)[\s\S]*store closed/);
  });
});
