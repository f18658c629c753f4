/**
 * `npm run bench:soak [-- --minutes N] [--clients N] [--seed N]`: one HTTP
 * server process (`node dist/cli.js serve --transport http`) under 32
 * concurrent MCP clients (the SDK's Client over Streamable HTTP) making a
 * seeded mix of semantic_search, index_chunk, index_chunks and delete_chunk
 * calls for a bounded time (default 10 minutes). Reports throughput, p50 and
 * p99 per tool, errors, and the server's RSS and open file descriptors
 * sampled from /proc over time with their slope once warm; then stops the
 * server and runs GC and `verify` on the store. Exits 1 when a call failed, the
 * store is inconsistent, or RSS or descriptors keep growing.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { embedderFromSpec } from "../src/embed/from-spec.js";
import type { MemoryReport } from "../src/store/memory.js";
import { Store } from "../src/store/store.js";
import { CLI, startHttpServer } from "./http-server.js";
import { seedStore } from "./seed.js";
import { Corpus, makeRandom } from "./store/corpus.js";
import { percentile } from "./store/stats.js";

const EMBEDDER = "hash:384";
const SEED_CHUNKS = 5_000;
/** Writes and deletes land on this many ids, so the store stays the same size however long the soak runs. */
const ID_SPACE = 5_000;
const BATCH = 10;
const SAMPLE_EVERY_MS = 5_000;
/**
 * The first part of the run is left out of the verdict: JIT, the first
 * compactions, and Lance's 64 MiB metadata cache filling up (about 4
 * minutes at this load's ~20 commits/s; with a quarter of the run left out,
 * a 10-minute run's first warm third still caught its end).
 */
const WARM_SHARE = 0.4;
/**
 * Flat means: from the first third of the warm part of the run to the last,
 * the median moves by less than 5% (RSS; at least 16 MiB, the swing of a
 * single search's buffers) or 10% (descriptors; at least 10). Medians of
 * thirds rather than a fitted line: Lance opens and closes files per query
 * and per compaction, so the descriptor count swings by hundreds from one
 * sample to the next (111 to 587 in a 10-minute run), and a line fitted to
 * that sawtooth slopes either way by chance; a leak lifts the level itself.
 */
const RSS_DRIFT_SHARE = 0.05;
const RSS_DRIFT_MIN_MB = 16;
const FD_DRIFT_SHARE = 0.1;
const FD_DRIFT_MIN = 10;

type Tool = "semantic_search" | "index_chunk" | "index_chunks" | "delete_chunk";
const MIX: [Tool, number][] = [
  ["semantic_search", 0.6],
  ["index_chunk", 0.2],
  ["index_chunks", 0.08],
  ["delete_chunk", 0.12],
];

interface Sample {
  atMin: number;
  rssMb: number;
  fds: number;
  /** /proc's split of RSS: anonymous memory (heaps, caches) and mapped files (the native libraries' code). */
  anonMb: number;
  fileMb: number;
  /** What the server reports of itself (embedding_status `memory`), taken right after the /proc reading. */
  memory: Breakdown | null;
}

/** The server's memory by part, in MiB. */
interface Breakdown {
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  lanceCacheMb: number;
  lanceCacheEntries: number;
}

const mib = (bytes: number): number => bytes / 2 ** 20;

/** The `memory` part of embedding_status, asked on a session of its own. */
async function breakdown(client: Client): Promise<Breakdown | null> {
  try {
    const result = await client.callTool({ name: "embedding_status", arguments: {} });
    const memory = (result.structuredContent as { memory?: MemoryReport } | undefined)?.memory;
    if (!memory) return null;
    return {
      heapUsedMb: mib(memory.js_heap_used_bytes),
      heapTotalMb: mib(memory.js_heap_total_bytes),
      externalMb: mib(memory.external_bytes),
      lanceCacheMb: mib(memory.lance_cache.bytes),
      lanceCacheEntries: memory.lance_cache.entries,
    };
  } catch {
    return null;
  }
}

function options(): { minutes: number; clients: number; seed: number } {
  const { values } = parseArgs({ options: { minutes: { type: "string" }, clients: { type: "string" }, seed: { type: "string" } } });
  const number = (raw: string | undefined, fallback: number, name: string) => {
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(raw)}`);
    return n;
  };
  return { minutes: number(values.minutes, 10, "minutes"), clients: Math.round(number(values.clients, 32, "clients")), seed: Math.round(number(values.seed, 7, "seed")) };
}

async function sample(pid: number, startedAt: number, monitor: Client): Promise<Sample> {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const mb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024;
  const atMin = (Date.now() - startedAt) / 60_000;
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  return { atMin, rssMb: mb("VmRSS"), fds, anonMb: mb("RssAnon"), fileMb: mb("RssFile"), memory: await breakdown(monitor) };
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** A sample's RSS by part, for the progress lines. */
function describe(s: Sample): string {
  const m = s.memory;
  const parts = [`anon ${s.anonMb.toFixed(0)}`, `files ${s.fileMb.toFixed(0)}`];
  if (m) parts.push(`JS heap ${m.heapUsedMb.toFixed(0)}/${m.heapTotalMb.toFixed(0)}`, `external ${m.externalMb.toFixed(0)}`, `Lance caches ${m.lanceCacheMb.toFixed(0)} in ${m.lanceCacheEntries}`);
  return parts.join(", ");
}

/** How far the median of the last third of `ys` lies above that of the first third. */
function drift(ys: readonly number[]): { first: number; last: number; change: number } {
  const third = Math.max(1, Math.floor(ys.length / 3));
  const first = median(ys.slice(0, third));
  const last = median(ys.slice(-third));
  return { first, last, change: last - first };
}

/** Least-squares slope of y over x. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function main(): Promise<void> {
  const { minutes, clients, seed: runSeed } = options();
  const corpus = new Corpus(42);
  const dataDir = mkdtempSync(join(tmpdir(), "retrieval-mcp-soak-"));
  const latencies = new Map<Tool, number[]>(MIX.map(([tool]) => [tool, []]));
  const errors = new Map<Tool, string[]>(MIX.map(([tool]) => [tool, []]));
  const samples: Sample[] = [];
  try {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first.`);
    await seedStore(dataDir, EMBEDDER, corpus, SEED_CHUNKS, "soak-");
    const server = await startHttpServer(dataDir, EMBEDDER);
    console.log(`bench:soak: ${clients} clients for ${minutes} min against ${server.url} (pid ${server.pid}), ${SEED_CHUNKS} seeded chunks, ${EMBEDDER}, seed ${runSeed}; ${cpus().length} CPUs`);
    const connect = async () => {
      const client = new Client({ name: "bench-soak", version: "1" });
      await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
      return client;
    };
    const sessions = await Promise.all(Array.from({ length: clients }, connect));
    // The sampler's own session, outside the load: one embedding_status call per sample.
    const monitor = await connect();
    const startedAt = Date.now();
    const deadline = startedAt + minutes * 60_000;
    samples.push(await sample(server.pid, startedAt, monitor));
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await new Promise((resolve) => setTimeout(resolve, SAMPLE_EVERY_MS));
        if (!sampling) break;
        const s = await sample(server.pid, startedAt, monitor);
        samples.push(s);
        if (samples.length % 12 === 0) console.log(`  ${s.atMin.toFixed(1)} min: RSS ${s.rssMb.toFixed(0)} MiB (${describe(s)}), ${s.fds} fds, ${[...latencies.values()].reduce((n, l) => n + l.length, 0)} calls`);
      }
    })();

    let fresh = SEED_CHUNKS;
    await Promise.all(
      sessions.map(async (client, c) => {
        const random = makeRandom(runSeed * 1000 + c);
        const id = () => `soak-${Math.floor(random() * ID_SPACE)}`;
        while (Date.now() < deadline) {
          const roll = random();
          let acc = 0;
          const tool = MIX.find(([, share]) => (acc += share) > roll)?.[0] ?? "semantic_search";
          const args: Record<string, unknown> =
            tool === "semantic_search"
              ? { query: corpus.queries(1, SEED_CHUNKS, fresh++)[0], k: 5 }
              : tool === "index_chunk"
                ? { chunk_id: id(), text: corpus.chunk(fresh++) }
                : tool === "index_chunks"
                  ? { chunks: [...new Set(Array.from({ length: BATCH }, id))].map((chunkId) => ({ chunk_id: chunkId, text: corpus.chunk(fresh++) })) }
                  : { chunk_id: id() };
          const t0 = performance.now();
          try {
            const result = await client.callTool({ name: tool, arguments: args });
            if (result.isError) errors.get(tool)!.push(JSON.stringify(result.content).slice(0, 300));
          } catch (error) {
            errors.get(tool)!.push(error instanceof Error ? error.message : String(error));
          }
          latencies.get(tool)!.push(performance.now() - t0);
        }
      }),
    );
    const wallS = (Date.now() - startedAt) / 1000;
    sampling = false;
    await sampler;
    samples.push(await sample(server.pid, startedAt, monitor));
    await Promise.all([...sessions, monitor].map((client) => client.close()));
    await server.stop();

    const store = await Store.open({ dataDir, embedder: embedderFromSpec(EMBEDDER), background: false });
    // Deletes of the last seconds still await GC, which the stopped server would have run next.
    await store.gc();
    const verify = await store.verify();
    await store.close();

    // ------------------------------------------------------------ report
    const total = [...latencies.values()].reduce((n, l) => n + l.length, 0);
    const errorCount = [...errors.values()].reduce((n, e) => n + e.length, 0);
    console.log(`\n${total} calls in ${wallS.toFixed(0)} s: ${(total / wallS).toFixed(1)} calls/s; ${errorCount} errors.\n`);
    console.log("| tool | calls | calls/s | p50 ms | p99 ms | errors |");
    console.log("|:--|--:|--:|--:|--:|--:|");
    for (const [tool] of MIX) {
      const sorted = [...latencies.get(tool)!].sort((a, b) => a - b);
      console.log(`| ${tool} | ${sorted.length} | ${(sorted.length / wallS).toFixed(1)} | ${percentile(sorted, 0.5).toFixed(1)} | ${percentile(sorted, 0.99).toFixed(1)} | ${errors.get(tool)!.length} |`);
    }
    for (const [tool, list] of errors) for (const message of list.slice(0, 3)) console.log(`  ${tool} error: ${message}`);

    const warm = samples.filter((s) => s.atMin >= minutes * WARM_SHARE);
    const rssSlope = slope(warm.map((s) => s.atMin), warm.map((s) => s.rssMb));
    const fdSlope = slope(warm.map((s) => s.atMin), warm.map((s) => s.fds));
    const window = warm.length > 1 ? warm[warm.length - 1]!.atMin - warm[0]!.atMin : 0;
    const rssDrift = drift(warm.map((s) => s.rssMb));
    const fdDrift = drift(warm.map((s) => s.fds));
    const rssFlat = rssDrift.change < Math.max(RSS_DRIFT_SHARE * rssDrift.first, RSS_DRIFT_MIN_MB);
    const fdFlat = fdDrift.change < Math.max(FD_DRIFT_SHARE * fdDrift.first, FD_DRIFT_MIN);
    const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`;
    console.log(`\nServer process, sampled every ${SAMPLE_EVERY_MS / 1000} s (${samples.length} samples); warm: the last ${(100 * (1 - WARM_SHARE)).toFixed(0)}% of the run (${window.toFixed(1)} min, ${warm.length} samples):`);
    console.log(
      `  RSS: ${samples[0]!.rssMb.toFixed(0)} MiB at the start, ${range(warm.map((s) => s.rssMb))} MiB once warm, ${samples.at(-1)!.rssMb.toFixed(0)} MiB at the end; ` +
        `median ${rssDrift.first.toFixed(0)} -> ${rssDrift.last.toFixed(0)} MiB from the first to the last third, fitted slope ${rssSlope.toFixed(2)} MiB/min: ${rssFlat ? "flat" : "GROWING"}`,
    );
    console.log(
      `  open fds: ${samples[0]!.fds} at the start, ${range(warm.map((s) => s.fds))} once warm, ${samples.at(-1)!.fds} at the end; ` +
        `median ${fdDrift.first} -> ${fdDrift.last} from the first to the last third, fitted slope ${fdSlope.toFixed(2)} /min: ${fdFlat ? "flat" : "GROWING"}`,
    );
    const parts: [string, (s: Sample) => number | undefined][] = [
      ["anonymous memory", (s) => s.anonMb],
      ["mapped files", (s) => s.fileMb],
      ["JS heap used", (s) => s.memory?.heapUsedMb],
      ["JS heap total", (s) => s.memory?.heapTotalMb],
      ["external (Buffers)", (s) => s.memory?.externalMb],
      // Lance's own count (Session.sizeBytes), which counts shared buffers more than once: under this load it said 620 MiB
      // while all anonymous memory was 440 MiB, so what it tells is whether the caches grow, not how much RSS they take.
      ["Lance caches (Lance's count)", (s) => s.memory?.lanceCacheMb],
    ];
    console.log("  RSS by part, median of the first -> last third of the warm part (fitted slope):");
    for (const [name, value] of parts) {
      const at = warm.filter((s) => value(s) !== undefined);
      if (at.length < 3) continue;
      const ys = at.map((s) => value(s)!);
      const d = drift(ys);
      console.log(`    ${name}: ${d.first.toFixed(0)} -> ${d.last.toFixed(0)} MiB (${slope(at.map((s) => s.atMin), ys).toFixed(2)} MiB/min)`);
    }
    const entries = warm.map((s) => s.memory?.lanceCacheEntries).filter((n) => n !== undefined);
    if (entries.length > 0) console.log(`    Lance cache entries: ${entries[0]} -> ${entries.at(-1)}`);
    console.log(`  samples (min, MiB, fds): ${samples.filter((_, i) => i % 12 === 0 || i === samples.length - 1).map((s) => `${s.atMin.toFixed(1)}/${s.rssMb.toFixed(0)}/${s.fds}`).join(" ")}`);
    console.log(`verify after the run: ${verify.ok ? "ok" : `PROBLEMS ${JSON.stringify(verify.problems)}`} (${verify.checked.records} records, ${verify.checked.lance_rows} Lance rows). Load average at the end ${loadavg()[0]!.toFixed(1)}.`);
    process.exitCode = errorCount === 0 && verify.ok && rssFlat && fdFlat ? 0 : 1;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench:soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
