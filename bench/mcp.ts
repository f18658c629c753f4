/**
 * `npm run bench:mcp`: what the MCP layer costs. semantic_search and
 * index_chunk latency (p50/p95) and throughput on a 10k-chunk store with the
 * hash embedder, through
 *   - the store API in this process (the reference),
 *   - stdio: one `node dist/cli.js serve` process per client, as MCP hosts run it,
 *   - Streamable HTTP: one server process, one session per client,
 * with 1, 8 and 32 concurrent clients, plus the time from spawning the
 * server to its `initialize` answer. Prints tables; asserts nothing.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { embedderFromSpec } from "../src/embed/from-spec.js";
import { Store } from "../src/store/store.js";
import { CLI, startHttpServer } from "./http-server.js";
import { seedStore } from "./seed.js";
import { Corpus } from "./store/corpus.js";
import { percentile } from "./store/stats.js";

const EMBEDDER = "hash:384";
const CORPUS_CHUNKS = 10_000;
const CLIENTS = [1, 8, 32] as const;
const OPS: Record<Op, number> = { search: 300, index: 200 };
const WARMUP_OPS = 8;
// The default mode, what an agent gets without asking.
const SEARCH_MODE = "hybrid";
const STARTUP_RUNS = 10;

type Op = "search" | "index";

/** One client's way to reach the store. */
interface Endpoint {
  search(query: string): Promise<void>;
  index(chunkId: string, text: string): Promise<void>;
  /** Resolves once the server's start-up recovery (a full Lance scan) has run, so it does not compete with the measurement. */
  settled(since: number): Promise<void>;
  close(): Promise<void>;
}

interface Cell {
  path: string;
  clients: number;
  op: Op;
  ops: number;
  p50: number;
  p95: number;
  perSecond: number;
}

// ------------------------------------------------------------------ data

/** The store benchmark's corpus: Zipfian words over a 20k vocabulary, as in natural text, so BM25 and vectors both do real work. */
const corpus = new Corpus(42);
/** Texts written during the run come after the seeded ones, so every write is new content. */
let nextFresh = CORPUS_CHUNKS;

// ------------------------------------------------------------------ stats

/** Runs `total` operations spread over the endpoints, each endpoint one at a time. */
async function measure(path: string, endpoints: readonly Endpoint[], op: Op, total: number, idPrefix: string): Promise<Cell> {
  const count = total + WARMUP_OPS * endpoints.length;
  const queries = corpus.queries(count, CORPUS_CHUNKS, nextFresh);
  const texts = corpus.passages(count, nextFresh);
  nextFresh += count;
  let next = 0;
  const run = (endpoint: Endpoint, i: number) =>
    op === "search" ? endpoint.search(queries[i]!) : endpoint.index(`${idPrefix}-${i}`, texts[i]!);
  // Warm-up: first calls pay for lazy loading and JIT, which `initialize` timing covers separately.
  await Promise.all(endpoints.map(async (e) => {
    for (let w = 0; w < WARMUP_OPS; w++) await run(e, next++);
  }));
  const latencies: number[] = [];
  let remaining = total;
  const started = performance.now();
  await Promise.all(
    endpoints.map(async (endpoint) => {
      while (remaining > 0) {
        remaining--;
        const i = next++;
        const t0 = performance.now();
        await run(endpoint, i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const wallMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return { path, clients: endpoints.length, op, ops: total, p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), perSecond: (total / wallMs) * 1000 };
}

// ------------------------------------------------------------------ endpoints

function storeEndpoint(store: Store): Endpoint {
  return {
    async search(query) {
      await store.search({ query, k: 5, mode: SEARCH_MODE });
    },
    async index(chunkId, text) {
      await store.index({ chunk_id: chunkId, text });
    },
    settled: () => store.settle(),
    async close() {},
  };
}

function clientEndpoint(client: Client): Endpoint {
  const call = async (name: string, args: Record<string, unknown>) => {
    const result = await client.callTool({ name, arguments: args });
    if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
  };
  return {
    search: (query) => call("semantic_search", { query, k: 5, mode: SEARCH_MODE }),
    index: (chunkId, text) => call("index_chunk", { chunk_id: chunkId, text }),
    async settled(since) {
      for (;;) {
        const result = await client.callTool({ name: "embedding_status", arguments: {} });
        if (result.isError) throw new Error(`embedding_status failed: ${JSON.stringify(result.content)}`);
        const last = (result.structuredContent as { last_recovery: { at: string } | null }).last_recovery;
        if (last && Date.parse(last.at) >= since) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    close: () => client.close(),
  };
}

async function stdioEndpoint(dataDir: string): Promise<Endpoint> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "serve", "--data-dir", dataDir, "--embedder", EMBEDDER],
    env: getDefaultEnvironment(),
    stderr: "ignore",
  });
  const client = new Client({ name: "bench-stdio", version: "1" });
  await client.connect(transport);
  return clientEndpoint(client);
}

async function httpEndpoint(url: string): Promise<Endpoint> {
  const client = new Client({ name: "bench-http", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return clientEndpoint(client);
}

// ------------------------------------------------------------------ start-up

/** Spawn to `initialize` answer, speaking raw JSON-RPC so no client library start-up is counted. */
async function timeToInitialize(dataDir: string): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, "serve", "--data-dir", dataDir, "--embedder", EMBEDDER], { stdio: ["pipe", "pipe", "ignore"] });
  child.stdin.write(
    `${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } } })}\n`,
  );
  const lines = createInterface({ input: child.stdout });
  const [line] = (await once(lines, "line")) as [string];
  const elapsed = performance.now() - started;
  if (!(JSON.parse(line) as { result?: unknown }).result) throw new Error(`initialize failed: ${line}`);
  const exited = once(child, "exit");
  child.stdin.end();
  await exited;
  return elapsed;
}

// ------------------------------------------------------------------ report

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "-";
}

function printTable(cells: readonly Cell[]): void {
  const reference = (cell: Cell) => cells.find((c) => c.path === "store API" && c.op === cell.op && c.clients === cell.clients);
  const header = ["operation", "path", "clients", "ops", "p50 ms", "p95 ms", "ops/s", "p50 vs store", "ops/s vs store"];
  const rows = cells.map((c) => {
    const ref = reference(c);
    const isRef = c.path === "store API";
    return [
      c.op === "search" ? "semantic_search" : "index_chunk",
      c.path,
      String(c.clients),
      String(c.ops),
      fmt(c.p50, 2),
      fmt(c.p95, 2),
      fmt(c.perSecond, 0),
      isRef || !ref ? "1.00x" : `${fmt(c.p50 / ref.p50, 2)}x`,
      isRef || !ref ? "1.00x" : `${fmt(c.perSecond / ref.perSecond, 2)}x`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cols: string[]) => `| ${cols.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (i < 2 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`);
  for (const row of rows) console.log(line(row));
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first.`);
  const dataDir = mkdtempSync(join(tmpdir(), "retrieval-mcp-bench-"));
  const cells: Cell[] = [];
  // Whatever is still open when a step fails: server processes must not outlive the benchmark.
  const open = new Map<object, () => Promise<void>>();
  const opened = <T extends { close?: () => Promise<void>; stop?: () => Promise<void> }>(thing: T): T => {
    open.set(thing, (thing.close ?? thing.stop)!.bind(thing));
    return thing;
  };
  const release = async (things: readonly object[]): Promise<void> => {
    await Promise.all(things.map((thing) => {
      const close = open.get(thing);
      open.delete(thing);
      return close?.();
    }));
  };
  const began = performance.now();
  try {
    // Other work on the machine shifts every number; the load average says how much there was.
    console.log(`bench:mcp on ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, node ${process.version}, embedder ${EMBEDDER}, search mode ${SEARCH_MODE}, load average ${loadavg()[0]!.toFixed(1)}`);
    let t = performance.now();
    await seedStore(dataDir, EMBEDDER, corpus, CORPUS_CHUNKS, "seed-");
    console.log(`seeded ${CORPUS_CHUNKS} chunks through the store in ${fmt((performance.now() - t) / 1000)} s`);

    const startups: number[] = [];
    for (let i = 0; i < STARTUP_RUNS; i++) startups.push(await timeToInitialize(dataDir));
    startups.sort((a, b) => a - b);
    console.log(
      `spawn -> initialize answer over stdio (${STARTUP_RUNS} runs): p50 ${fmt(percentile(startups, 0.5), 0)} ms, min ${fmt(startups[0]!, 0)} ms, max ${fmt(startups[startups.length - 1]!, 0)} ms (target < 300 ms)`,
    );

    // Searches first, on the table as seeded and compacted; writes after, so every search cell sees the same table.
    for (const op of ["search", "index"] as const) {
      const since = Date.now();
      const store = await Store.open({ dataDir, embedder: embedderFromSpec(EMBEDDER) });
      for (const clients of CLIENTS) {
        const endpoints = Array.from({ length: clients }, () => storeEndpoint(store));
        await endpoints[0]!.settled(since);
        cells.push(await measure("store API", endpoints, op, OPS[op], `store-${clients}`));
      }
      await store.close();

      for (const clients of CLIENTS) {
        t = performance.now();
        const spawnedAt = Date.now();
        const endpoints = await Promise.all(Array.from({ length: clients }, async () => opened(await stdioEndpoint(dataDir))));
        await Promise.all(endpoints.map((e) => e.settled(spawnedAt)));
        console.log(`${op}: started ${clients} stdio server process${clients === 1 ? "" : "es"} in ${fmt((performance.now() - t) / 1000)} s`);
        cells.push(await measure("stdio", endpoints, op, OPS[op], `stdio-${clients}`));
        await release(endpoints);
      }

      const startedAt = Date.now();
      const server = opened(await startHttpServer(dataDir, EMBEDDER));
      for (const clients of CLIENTS) {
        const endpoints = await Promise.all(Array.from({ length: clients }, async () => opened(await httpEndpoint(server.url))));
        await endpoints[0]!.settled(startedAt);
        cells.push(await measure("http", endpoints, op, OPS[op], `http-${clients}`));
        await release(endpoints);
      }
      await release([server]);
    }

    console.log("");
    printTable(cells.sort((a, b) => (a.op === b.op ? a.clients - b.clients : a.op === "search" ? -1 : 1)));
    console.log(
      "\nstore API: calls on one Store in this process. stdio: one server process per client on the same data directory (as MCP hosts run it)." +
        "\nhttp: one server process, one session per client. Latency is per call as the client sees it; ops/s is the aggregate of all clients." +
        `\nTotal time ${fmt((performance.now() - began) / 1000)} s; load average at the end ${loadavg()[0]!.toFixed(1)}.`,
    );
  } finally {
    await Promise.allSettled([...open.values()].map((close) => close()));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench:mcp failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
