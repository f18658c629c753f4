import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { makeRandom } from "../bench/store/corpus.js";
import { postgresStoreUrl } from "./helpers/backends.js";
import { roundRobin } from "./helpers/balancer.js";
import { assertBuilt, cleanEnv, runCli } from "./helpers/cli.js";
import { serveFixture, serveHttp, type ServingProcess } from "./helpers/clients.js";
import { ok } from "./helpers/mcp.js";
import { S3_ENV, startS3rver, type S3Endpoint } from "./helpers/s3.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();
const EMBEDDER = "hash:64";

/** One shared store: where every replica of a test keeps its metadata and vectors. */
interface SharedStore {
  /** Flags for `node dist/cli.js` (serve, verify). */
  args: string[];
  /** The same, as the replica fixture's Store.open options. */
  options: Record<string, string>;
}

interface Replica {
  process: ServingProcess;
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

async function connect(url: string): Promise<Client> {
  const client = new Client({ name: "replica-test", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

async function replicaOf(process: ServingProcess): Promise<Replica> {
  const client = await connect(process.url);
  // A call in flight when the replica dies fails then, not at the SDK's request timeout (a cut SSE stream alone does not end it).
  const died = new AbortController();
  process.child.once("exit", () => died.abort(new Error("the replica exited")));
  return {
    process,
    call: async (name, args) => (await client.callTool({ name, arguments: args }, undefined, { signal: died.signal })) as CallToolResult,
    close: async () => {
      await client.close().catch(() => undefined);
      await process.stop();
    },
  };
}

beforeAll(assertBuilt);

// RETRIEVAL_MCP_TEST_POSTGRES=off leaves these out, as the other PostgreSQL tests.
describe.skipIf("off" in inject("postgres"))("replicas on one PostgreSQL database and one s3:// prefix", () => {
  let s3: S3Endpoint;
  beforeAll(async () => {
    s3 = await startS3rver(["vectors"]);
  });
  afterAll(() => s3?.stop());

  /** A store of its own: a schema of this file's database on the run's PostgreSQL, and a prefix of the emulator's bucket. */
  async function sharedStore(): Promise<SharedStore> {
    const dataDir = tempDir();
    const database = await postgresStoreUrl(dataDir);
    const vectors = `s3://vectors/${randomUUID()}`;
    return {
      args: ["--data-dir", dataDir, "--database", database, "--vectors", vectors, "--s3-endpoint", s3.url, "--embedder", EMBEDDER],
      options: { dataDir, database, vectors, s3Endpoint: s3.url },
    };
  }

  /** `node dist/cli.js serve --transport http --stateless` on the shared store. */
  async function cliReplica(store: SharedStore): Promise<Replica> {
    return replicaOf(await serveHttp(["--stateless", ...store.args], S3_ENV));
  }

  /** The replica fixture: the same server with a fault point and short maintenance timers. */
  async function fixtureReplica(store: SharedStore, crashAt?: string): Promise<Replica> {
    return replicaOf(await serveFixture("test/fixtures/replica-server.ts", { ...S3_ENV, REPLICA_STORE: JSON.stringify(store.options), ...(crashAt ? { CRASH_AT: crashAt } : {}) }));
  }

  async function verifyClean(store: SharedStore): Promise<void> {
    // Everything went to PostgreSQL and the bucket: the data directory holds no SQLite store.
    expect(existsSync(join(store.options.dataDir!, "metadata.db"))).toBe(false);
    // Superseded rows of the last writes await the GC a server runs within seconds; `gc` runs it now.
    const gc = await runCli(["gc", ...store.args], { env: cleanEnv(S3_ENV) });
    expect(gc.code, gc.stderr).toBe(0);
    const verify = await runCli(["verify", ...store.args], { env: cleanEnv(S3_ENV) });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }

  /** Polls until `probe` finds something: how long recovery takes is the fixture's timers' business, not an assertion. */
  async function waitFor<T>(probe: () => Promise<T | undefined>): Promise<T> {
    for (;;) {
      const found = await probe();
      if (found !== undefined) return found;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it("a write acknowledged by replica A is found by the next search through replica B, and a delete through B is gone from A at once", async () => {
    const store = await sharedStore();
    const [a, b] = [await cliReplica(store), await cliReplica(store)];
    try {
      for (let i = 0; i < 6; i++) {
        const text = `round ${i}: the ferryman counts ${i + 3} lanterns on the quay`;
        expect(ok(await a.call("index_chunk", { chunk_id: `f${i}`, text, collection: i % 2 ? "odd" : "even", metadata: { round: i } }))).toMatchObject({ status: "committed" });
        // No waiting: the search starts after A acknowledged, and must see it (the bound README documents).
        const vector = ok(await b.call("semantic_search", { query: text, k: 1, mode: "vector" }));
        expect(vector.results[0]).toMatchObject({ chunk_id: `f${i}`, text });
        const keyword = ok(await b.call("semantic_search", { query: `lanterns ${i + 3}`, k: 10, mode: "keyword", filter: { round: i } }));
        expect(keyword.results.map((r: { chunk_id: string }) => r.chunk_id)).toEqual([`f${i}`]);
      }
      expect(ok(await b.call("delete_chunk", { chunk_id: "f2" }))).toMatchObject({ deleted: 1 });
      const after = ok(await a.call("semantic_search", { query: "round 2: the ferryman counts 5 lanterns on the quay", k: 6, mode: "vector" }));
      expect(after.results.map((r: { chunk_id: string }) => r.chunk_id)).not.toContain("f2");
      expect(ok(await a.call("get_chunk", { chunk_id: "f2" })).missing).toEqual(["f2"]);
    } finally {
      await a.close();
      await b.close();
    }
    await verifyClean(store);
  });

  it("two replicas writing the same and different chunks at once lose nothing acknowledged", async () => {
    const store = await sharedStore();
    const replicas = [await cliReplica(store), await cliReplica(store)];
    const random = makeRandom(1212);
    /** Every acknowledged text per chunk id, in acknowledgement order. */
    const acknowledged = new Map<string, string[]>();
    try {
      await Promise.all(
        replicas.map(async (replica, r) => {
          for (let round = 0; round < 8; round++) {
            // Own ids only this replica writes; shared ids both write, each with its own text.
            const own = Array.from({ length: 3 }, (_, i) => `own-${r}-${round}-${i}`);
            const shared = [...new Set(Array.from({ length: 3 }, () => `shared-${Math.floor(random() * 6)}`))];
            const chunks = [...own, ...shared].map((chunk_id) => ({ chunk_id, text: `${chunk_id} as replica ${r} wrote it in round ${round}` }));
            const result = ok(await replica.call("index_chunks", { chunks }));
            expect(result.committed + result.unchanged).toBe(chunks.length);
            for (const c of chunks) acknowledged.set(c.chunk_id, [...(acknowledged.get(c.chunk_id) ?? []), c.text]);
          }
        }),
      );
      const ids = [...acknowledged.keys()];
      const got = ok(await replicas[0]!.call("get_chunk", { chunk_ids: ids }));
      expect(got.missing).toEqual([]);
      for (const chunk of got.chunks as { chunk_id: string; text: string; status: string }[]) {
        // Own chunks were written once; a shared one holds one of its acknowledged versions, committed.
        expect(acknowledged.get(chunk.chunk_id)).toContain(chunk.text);
        expect(chunk.status).toBe("committed");
        // hash:64 gives these near-identical texts near-identical vectors: the chunk is among the best, not necessarily first.
        const found = ok(await replicas[1]!.call("semantic_search", { query: chunk.text, k: 10, mode: "vector" }));
        expect(found.results).toContainEqual(expect.objectContaining({ chunk_id: chunk.chunk_id, text: chunk.text }));
      }
      const status = ok(await replicas[1]!.call("embedding_status", {}));
      expect(status.counts).toMatchObject({ committed: ids.length, pending: 0 });
      // s3rver overwrites on a conditional PUT: only the store's own commit lock kept these concurrent commits apart.
      expect(status.vectors).toMatchObject({ conditional_put: false });
    } finally {
      for (const replica of replicas) await replica.close();
    }
    await verifyClean(store);
  });

  it("a replica SIGKILLed between its Lance write and its commit leaves the write to the other replica's recovery", async () => {
    const store = await sharedStore();
    const survivor = await fixtureReplica(store);
    const doomed = await fixtureReplica(store, "afterLanceWrite");
    try {
      expect(ok(await survivor.call("index_chunk", { chunk_id: "before", text: "written before the crash" }))).toMatchObject({ status: "committed" });
      const text = "the write whose replica died after step 2";
      await expect(doomed.call("index_chunk", { chunk_id: "orphan", text })).rejects.toThrow();
      expect(doomed.process.child.signalCode).toBe("SIGKILL");
      // Step 1 was durable: the survivor sees the write pending, keeps serving nothing new for it, then its recovery commits it.
      const committed = await waitFor(async () => {
        const got = ok(await survivor.call("get_chunk", { chunk_id: "orphan" }));
        return got.chunks[0]?.status === "committed" && got.chunks[0].pending === null ? got.chunks[0] : undefined;
      });
      expect(committed.text).toBe(text);
      expect(ok(await survivor.call("semantic_search", { query: text, k: 1, mode: "vector" })).results[0]).toMatchObject({ chunk_id: "orphan" });
    } finally {
      await doomed.close();
      await survivor.close();
    }
    await verifyClean(store);
  });

  it("a replica SIGKILLed while holding the commit lock does not block the other's writes", async () => {
    const store = await sharedStore();
    const survivor = await fixtureReplica(store);
    const doomed = await fixtureReplica(store, "insideCommitLock");
    try {
      await expect(doomed.call("index_chunk", { chunk_id: "held", text: "written by the replica that died holding the lock" })).rejects.toThrow();
      expect(doomed.process.child.signalCode).toBe("SIGKILL");
      for (let i = 0; i < 3; i++) {
        expect(ok(await survivor.call("index_chunk", { chunk_id: `after-${i}`, text: `written after the holder died, ${i}` }))).toMatchObject({ status: "committed" });
      }
      await waitFor(async () => {
        const got = ok(await survivor.call("get_chunk", { chunk_id: "held" }));
        return got.chunks[0]?.status === "committed" && got.chunks[0].pending === null ? true : undefined;
      });
    } finally {
      await doomed.close();
      await survivor.close();
    }
    await verifyClean(store);
  });

  it("an MCP client whose consecutive requests alternate between two stateless replicas works throughout", async () => {
    const store = await sharedStore();
    const replicas = [await cliReplica(store), await cliReplica(store)];
    const balancer = await roundRobin(replicas.map((r) => r.process.url));
    const client = await connect(balancer.url);
    const call = async (name: string, args: Record<string, unknown>) => ok((await client.callTool({ name, arguments: args })) as CallToolResult);
    try {
      for (let i = 0; i < 5; i++) {
        const text = `alternating write ${i} about kestrels over the dunes`;
        expect(await call("index_chunk", { chunk_id: `k${i}`, text, doc_id: `doc${i % 2}` })).toMatchObject({ status: "committed" });
        expect((await call("semantic_search", { query: text, k: 1, mode: "hybrid" })).results[0]).toMatchObject({ chunk_id: `k${i}` });
        expect((await call("get_chunk", { chunk_id: `k${i}` })).chunks[0]).toMatchObject({ text, status: "committed" });
      }
      expect(await call("delete_chunk", { doc_id: "doc0" })).toMatchObject({ deleted: 3 });
      expect((await call("embedding_status", {})).counts).toMatchObject({ committed: 2, pending: 0 });
      const calls = balancer.log.filter((f) => f.rpc === "tools/call").map((f) => f.replica);
      expect(calls.filter((replica, i) => i > 0 && replica !== calls[i - 1]).length).toBe(calls.length - 1);
    } finally {
      await client.close();
      await balancer.close();
      for (const replica of replicas) await replica.close();
    }
    await verifyClean(store);
  });
});
