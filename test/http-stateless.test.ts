import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, runCli } from "./helpers/cli.js";
import { serveHttp, type ServingProcess } from "./helpers/clients.js";
import { ok } from "./helpers/mcp.js";
import { S3_ENV, startS3rver, type S3Endpoint } from "./helpers/s3.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();
const TOKEN = "stateless-token-0123456789abcdef0123";

interface Forwarded {
  replica: number;
  method: string;
  /** The JSON-RPC method of a POST; "" for other requests. */
  rpc: string;
}

/** A load balancer at its simplest: each request goes to the next replica in turn, whatever came before. */
async function roundRobin(targets: readonly string[]): Promise<{ url: string; log: Forwarded[]; close: () => Promise<void> }> {
  const log: Forwarded[] = [];
  let next = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const replica = next++ % targets.length;
      const target = new URL(targets[replica]!);
      let rpc = "";
      try {
        rpc = (JSON.parse(body.toString()) as { method?: string }).method ?? "";
      } catch {
        // Not JSON (a GET has no body): recorded without a method.
      }
      log.push({ replica, method: req.method ?? "", rpc });
      const out = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      });
      out.on("error", () => res.destroy());
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    log,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

beforeAll(assertBuilt);

describe("serve --transport http --stateless", () => {
  let s3: S3Endpoint;
  beforeAll(async () => {
    s3 = await startS3rver(["vectors"]);
  });
  afterAll(() => s3.stop());

  it("serves an SDK client through a round-robin balancer over two replicas on one store, with vectors on s3://, for every tool", async () => {
    const dataDir = tempDir();
    const docs = tempDir();
    writeFileSync(join(docs, "guide.md"), "# Guide\n\nThe lighthouse keeper logs every passing ship in a blue ledger.\n");
    const args = ["--stateless", "--data-dir", dataDir, "--embedder", "hash:64", "--token", TOKEN, "--allow-ingest", docs, "--vectors", `s3://vectors/${randomUUID()}`, "--s3-endpoint", s3.url];
    const replicas: ServingProcess[] = [await serveHttp(args, S3_ENV), await serveHttp(args, S3_ENV)];
    const balancer = await roundRobin(replicas.map((r) => r.url));
    const transport = new StreamableHTTPClientTransport(new URL(balancer.url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } });
    const client = new Client({ name: "stateless-test", version: "1" });
    try {
      await client.connect(transport);
      expect(transport.sessionId).toBeUndefined();
      const call = async (name: string, args: Record<string, unknown>) => ok((await client.callTool({ name, arguments: args })) as CallToolResult);

      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(
        ["delete_chunk", "embedding_status", "get_chunk", "index_chunk", "index_chunks", "ingest_files", "semantic_search"].sort(),
      );
      expect(await call("index_chunk", { chunk_id: "one", text: "a chunk written through one replica and read through the other" })).toMatchObject({ status: "committed" });
      expect((await call("semantic_search", { query: "a chunk written through one replica and read through the other", k: 1, mode: "vector" })).results[0].chunk_id).toBe("one");

      const progress: number[] = [];
      const batch = (await client.callTool(
        { name: "index_chunks", arguments: { chunks: Array.from({ length: 40 }, (_, i) => ({ chunk_id: `b${i}`, text: `batch chunk ${i} about tides`, metadata: { n: i } })) } },
        undefined,
        { onprogress: (p) => progress.push(p.progress) },
      )) as CallToolResult;
      expect(ok(batch)).toMatchObject({ committed: 40 });
      expect((await call("semantic_search", { query: "tides", k: 3, mode: "keyword", filter: { n: 7 } })).results.map((r: { chunk_id: string }) => r.chunk_id)).toEqual(["b7"]);
      expect((await call("get_chunk", { chunk_ids: ["one", "b3"] })).chunks).toHaveLength(2);
      expect(await call("ingest_files", { paths: ["guide.md"] })).toMatchObject({ indexed: 1 });
      expect((await call("semantic_search", { query: "lighthouse keeper blue ledger", k: 1, mode: "hybrid" })).results[0].doc_id).toMatch(/guide\.md$/);
      expect(await call("delete_chunk", { chunk_id: "one" })).toMatchObject({ deleted: 1 });
      expect((await call("get_chunk", { chunk_id: "one" })).missing).toEqual(["one"]);
      const status = await call("embedding_status", {});
      expect(status.vectors).toMatchObject({ uri: expect.stringMatching(/^s3:\/\/vectors\//), conditional_put: false });
      // 40 batch chunks and the guide's; "one" is deleted.
      expect(status.counts.committed).toBe(status.total_chunks);
      expect(status.total_chunks).toBeGreaterThanOrEqual(41);

      const read = await client.readResource({ uri: "chunk://default/b3" });
      expect(read.contents[0]).toMatchObject({ text: "batch chunk 3 about tides" });
      const prompt = await client.getPrompt({ name: "answer_from_store", arguments: { question: "What does the lighthouse keeper log?" } });
      expect(JSON.stringify(prompt.messages)).toContain("blue ledger");
      const completion = await client.complete({ ref: { type: "ref/prompt", name: "answer_from_store" }, argument: { name: "collection", value: "def" } });
      expect(completion.completion.values).toEqual(["default"]);

      // Tool calls landed on both replicas, most of them on the other one than the call before (a write, then its read).
      const calls = balancer.log.filter((f) => f.rpc === "tools/call").map((f) => f.replica);
      expect(calls.length).toBe(10);
      expect(calls.filter((replica, i) => i > 0 && replica !== calls[i - 1]).length).toBeGreaterThanOrEqual(5);
      expect(progress.at(-1)).toBe(40);

      // Each probe of the object store was logged once, by each replica.
      for (const replica of replicas) expect(replica.stderr().match(/vectors at s3:\/\/vectors\/\S+: the object store ignored If-None-Match/g)).toHaveLength(1);
    } finally {
      await client.close();
      await balancer.close();
      for (const replica of replicas) await replica.stop();
    }
  });

  it("keeps no session: GET and DELETE get 405, every POST needs its credentials, and no Mcp-Session-Id is handed out", async () => {
    const replica = await serveHttp(["--stateless", "--data-dir", tempDir(), "--embedder", "hash:64", "--token", TOKEN]);
    try {
      const headers = { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" };
      const list = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" });
      const authorized = await fetch(replica.url, { method: "POST", headers: { ...headers, authorization: `Bearer ${TOKEN}` }, body: list });
      expect(authorized.status).toBe(200);
      expect(authorized.headers.get("mcp-session-id")).toBeNull();
      expect(await authorized.text()).toContain("semantic_search");
      expect((await fetch(replica.url, { method: "POST", headers, body: list })).status).toBe(401);
      for (const method of ["GET", "DELETE"]) {
        const refused = await fetch(replica.url, { method, headers: { accept: "text/event-stream", authorization: `Bearer ${TOKEN}` } });
        expect(refused.status, method).toBe(405);
        expect(await refused.text()).toMatch(/stateless/);
      }
      expect(replica.stderr()).toMatch(/listening on http:\S+ \(bearer token required\), stateless/);
    } finally {
      await replica.stop();
    }
  });

  it("refuses --max-sessions with --stateless, and --stateless on stdio", async () => {
    const capped = await runCli(["serve", "--transport", "http", "--stateless", "--max-sessions", "4", "--data-dir", tempDir()]);
    expect(capped.code).toBe(2);
    expect(capped.stderr).toMatch(/--max-sessions does not apply with --stateless/);
    const stdio = await runCli(["serve", "--stateless", "--data-dir", tempDir()]);
    expect(stdio.code).toBe(2);
    expect(stdio.stderr).toMatch(/--stateless only apply to --transport http/);
  });
});
