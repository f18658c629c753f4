/**
 * `npm run bench:replicas [-- --seconds N] [--clients N] [--seed N]`: the
 * same seeded mix of semantic_search and index_chunks calls, made by
 * concurrent MCP clients (the SDK's Client over Streamable HTTP), against
 *   - the embedded default: one `serve --transport http --stateless` process
 *     on SQLite and a local Lance folder (the reference),
 *   - one replica on the scale-out backend: PostgreSQL, with the vectors in
 *     a directory and then under an s3:// prefix of an S3 emulator,
 *   - two replicas on each, behind a round-robin balancer, so consecutive
 *     calls of one client land on different processes.
 * Every setup starts empty, is seeded through index_chunks, then measured
 * for the same time; afterwards its servers are stopped, and `gc` and
 * `verify` run on the store. Reports reads/s, writes/s and p50/p95 per tool as a
 * Markdown table on stdout; progress goes to stderr. Exits 1 when a call
 * failed or a store does not verify.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { roundRobin } from "../test/helpers/balancer.js";
import { assertBuilt, runCli } from "../test/helpers/cli.js";
import { serveHttp, type ServingProcess } from "../test/helpers/clients.js";
import { adminQuery, databaseUrl, startPostgresCluster, type PostgresCluster } from "../test/helpers/postgres.js";
import { S3_ENV, startS3rver, type S3Endpoint } from "../test/helpers/s3.js";
import { Corpus, makeRandom } from "./store/corpus.js";
import { ms, table } from "./store/report.js";
import { percentile } from "./store/stats.js";

const EMBEDDER = "hash:384";
const SEED_CHUNKS = 2_000;
const SEED_BATCH = 200;
/** Writes land on twice the seeded ids: about half overwrite a chunk, half add one. */
const ID_SPACE = 2 * SEED_CHUNKS;
const WRITE_BATCH = 5;
/** One call in five writes: agents mostly search, and every write is followed by searches that should see it. */
const WRITE_SHARE = 0.2;
const SEARCH_MODE = "hybrid";

type Tool = "semantic_search" | "index_chunks";

interface Options {
  seconds: number;
  clients: number;
  seed: number;
}

function options(): Options {
  const { values } = parseArgs({ options: { seconds: { type: "string" }, clients: { type: "string" }, seed: { type: "string" } } });
  const number = (raw: string | undefined, fallback: number, name: string) => {
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive whole number, got ${JSON.stringify(raw)}`);
    return n;
  };
  return { seconds: number(values.seconds, 30, "seconds"), clients: number(values.clients, 8, "clients"), seed: number(values.seed, 7, "seed") };
}

function progress(message: string): void {
  process.stderr.write(`bench:replicas: ${message}\n`);
}

/** A running setup: where clients connect, and how to stop it and check its store. */
interface Running {
  url: string;
  replicas: ServingProcess[];
  /** The store's flags for a one-shot command (`verify`) once the servers are stopped. */
  storeArgs: string[];
  env: Record<string, string>;
  stop(): Promise<void>;
  /** Removes what the setup left on disk, once `verify` has read it. */
  remove(): Promise<void>;
}

interface Setup {
  name: string;
  backend: string;
  replicas: number;
  start(): Promise<Running>;
}

interface Result {
  setup: Setup;
  wallS: number;
  latencies: Record<Tool, number[]>;
  chunksWritten: number;
  errors: string[];
  verified: string;
}

async function startReplicas(count: number, storeArgs: string[], env: Record<string, string>, remove: () => Promise<void>): Promise<Running> {
  const replicas: ServingProcess[] = [];
  for (let i = 0; i < count; i++) replicas.push(await serveHttp(["--stateless", "--embedder", EMBEDDER, ...storeArgs], env));
  const balancer = count > 1 ? await roundRobin(replicas.map((r) => r.url)) : null;
  return {
    url: balancer?.url ?? replicas[0]!.url,
    replicas,
    storeArgs,
    env,
    async stop() {
      await balancer?.close();
      for (const replica of replicas) await replica.stop();
    },
    remove,
  };
}

function embedded(): Setup {
  return {
    name: "embedded (reference)",
    backend: "SQLite + local Lance",
    replicas: 1,
    async start() {
      const dataDir = mkdtempSync(join(tmpdir(), "retrieval-mcp-bench-replicas-"));
      return startReplicas(1, ["--data-dir", dataDir], {}, async () => rmSync(dataDir, { recursive: true, force: true }));
    },
  };
}

/**
 * Replicas on one PostgreSQL database, with the vectors under one s3://
 * prefix of the emulator or in one directory (as a shared file system
 * would be); each replica's data directory holds only local files.
 */
function scaledOut(count: number, vectors: "s3" | "directory", postgres: PostgresCluster, s3: S3Endpoint): Setup {
  return {
    name: count === 1 ? "1 replica" : `${count} replicas, round-robin`,
    backend: vectors === "s3" ? "PostgreSQL + s3:// (s3rver)" : "PostgreSQL + shared directory",
    replicas: count,
    async start() {
      const name = `bench_replicas_${count}_${vectors}_${Date.now()}`;
      await adminQuery(postgres.url, `CREATE DATABASE ${name} ENCODING 'UTF8' TEMPLATE template0`);
      const dataDir = mkdtempSync(join(tmpdir(), "retrieval-mcp-bench-replicas-"));
      const location = vectors === "s3" ? ["--vectors", `s3://vectors/${randomUUID()}`, "--s3-endpoint", s3.url] : ["--vectors", join(dataDir, "shared-vectors")];
      const storeArgs = ["--data-dir", dataDir, "--database", databaseUrl(postgres.url, name), ...location];
      return startReplicas(count, storeArgs, { ...S3_ENV }, async () => rmSync(dataDir, { recursive: true, force: true }));
    },
  };
}

async function connect(url: string): Promise<Client> {
  const client = new Client({ name: "bench-replicas", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

async function call(client: Client, tool: Tool, args: Record<string, unknown>): Promise<void> {
  const result = await client.callTool({ name: tool, arguments: args });
  if (result.isError) throw new Error(`${tool}: ${JSON.stringify(result.content).slice(0, 300)}`);
}

async function seed(client: Client, corpus: Corpus): Promise<void> {
  for (let i = 0; i < SEED_CHUNKS; i += SEED_BATCH) {
    const chunks = Array.from({ length: Math.min(SEED_BATCH, SEED_CHUNKS - i) }, (_, j) => ({ chunk_id: `c${i + j}`, text: corpus.chunk(i + j) }));
    await call(client, "index_chunks", { chunks });
  }
}

async function run(setup: Setup, opts: Options, corpus: Corpus): Promise<Result> {
  progress(`${setup.name} (${setup.backend}): starting ${setup.replicas} server process${setup.replicas > 1 ? "es" : ""}`);
  const running = await setup.start();
  const latencies: Record<Tool, number[]> = { semantic_search: [], index_chunks: [] };
  const errors: string[] = [];
  let chunksWritten = 0;
  let wallS = 0;
  try {
    const seeder = await connect(running.url);
    await seed(seeder, corpus);
    await seeder.close();
    progress(`${setup.name}: seeded ${SEED_CHUNKS} chunks; ${opts.clients} clients for ${opts.seconds} s`);
    const clients = await Promise.all(Array.from({ length: opts.clients }, () => connect(running.url)));
    // Every setup gets the same calls in the same order per client: the texts come from the seed, not from timing.
    let fresh = SEED_CHUNKS;
    const started = performance.now();
    const deadline = started + opts.seconds * 1000;
    await Promise.all(
      clients.map(async (client, c) => {
        const random = makeRandom(opts.seed * 1000 + c);
        const texts = new Corpus(opts.seed * 1000 + c);
        while (performance.now() < deadline) {
          const write = random() < WRITE_SHARE;
          const tool: Tool = write ? "index_chunks" : "semantic_search";
          const ids = write ? [...new Set(Array.from({ length: WRITE_BATCH }, () => `c${Math.floor(random() * ID_SPACE)}`))] : [];
          const args = write
            ? { chunks: ids.map((chunk_id) => ({ chunk_id, text: texts.chunk(fresh++) })) }
            : { query: corpus.queries(1, SEED_CHUNKS, Math.floor(random() * 2 ** 31))[0], k: 5, mode: SEARCH_MODE };
          const t0 = performance.now();
          try {
            await call(client, tool, args);
            latencies[tool].push(performance.now() - t0);
            chunksWritten += ids.length;
          } catch (error) {
            errors.push(error instanceof Error ? error.message : String(error));
          }
        }
      }),
    );
    wallS = (performance.now() - started) / 1000;
    await Promise.all(clients.map((client) => client.close()));
  } finally {
    for (const [i, replica] of running.replicas.entries()) {
      const problems = replica.stderr().split("\n").filter((line) => /error|warning/i.test(line) && !/If-None-Match/.test(line));
      if (problems.length > 0) progress(`${setup.name}, replica ${i + 1} logged:\n  ${problems.slice(0, 5).join("\n  ")}`);
    }
    await running.stop().catch((error: unknown) => errors.push(`stopping: ${String(error)}`));
  }
  // Superseded rows of the last writes still await the GC a running server would have made within 30 s.
  const cli = (command: string) => runCli([command, "--embedder", EMBEDDER, ...running.storeArgs], { env: { ...process.env, ...running.env } });
  const gc = await cli("gc");
  if (gc.code !== 0) errors.push(`gc: ${gc.stderr}`);
  const verify = await cli("verify");
  await running.remove();
  const verified = verify.code === 0 ? "clean" : `FAILED (exit ${verify.code})`;
  if (verify.code !== 0) progress(`${setup.name}: verify failed:\n${verify.stdout}${verify.stderr}`);
  progress(`${setup.name}: ${latencies.semantic_search.length + latencies.index_chunks.length} calls in ${wallS.toFixed(1)} s, ${errors.length} errors, verify ${verified}`);
  return { setup, wallS, latencies, chunksWritten, errors, verified };
}

function report(results: readonly Result[], opts: Options): void {
  const reference = results[0]!;
  const rate = (r: Result, tool: Tool) => r.latencies[tool].length / r.wallS;
  const sorted = (r: Result, tool: Tool) => [...r.latencies[tool]].sort((a, b) => a - b);
  const rows = results.map((r) => {
    const searches = sorted(r, "semantic_search");
    const writes = sorted(r, "index_chunks");
    return [
      r.setup.name,
      r.setup.backend,
      rate(r, "semantic_search").toFixed(1),
      rate(r, "index_chunks").toFixed(1),
      (r.chunksWritten / r.wallS).toFixed(0),
      ms(percentile(searches, 0.5)),
      ms(percentile(searches, 0.95)),
      ms(percentile(writes, 0.5)),
      ms(percentile(writes, 0.95)),
      `${((rate(r, "semantic_search") + rate(r, "index_chunks")) / (rate(reference, "semantic_search") + rate(reference, "index_chunks"))).toFixed(2)}x`,
      String(r.errors.length),
      r.verified,
    ];
  });
  console.log(
    `## bench:replicas: ${opts.clients} clients, ${opts.seconds} s per setup, seed ${opts.seed}; ${EMBEDDER}, ${SEED_CHUNKS} seeded chunks; ` +
      `${Math.round(WRITE_SHARE * 100)}% of calls index_chunks (${WRITE_BATCH} chunks over ${ID_SPACE} ids), the rest semantic_search (${SEARCH_MODE}, k 5)\n`,
  );
  console.log(
    table(
      ["setup", "backend", "reads/s", "writes/s", "chunks written/s", "search p50 ms", "search p95 ms", "index_chunks p50 ms", "index_chunks p95 ms", "calls/s vs embedded", "errors", "verify"],
      rows,
    ),
  );
  console.log(
    `\n${cpus().length} CPUs (load average ${loadavg()[0]!.toFixed(1)} at the end). Every process here shares them: two replicas on this machine ` +
      "divide the same cores between them, and the PostgreSQL server and the S3 emulator run on them too, so the scale-out gain of a second " +
      "replica is not measurable here. What this run does measure is correctness (no failed call, `verify` clean after concurrent writes " +
      "through different replicas) and the cost of the scale-out backend against the embedded default. s3rver keeps objects in local files " +
      "and ignores conditional PUTs, so there compactions take the commit lock too (writes wait for them); a real object store adds its network " +
      "latency to every Lance commit and every uncached read.",
  );
  for (const r of results) for (const message of r.errors.slice(0, 3)) console.log(`- ${r.setup.name} error: ${message}`);
}

async function main(): Promise<void> {
  const opts = options();
  assertBuilt();
  const corpus = new Corpus(42);
  progress("starting PostgreSQL and s3rver");
  const postgres = await startPostgresCluster();
  const s3 = await startS3rver(["vectors"]);
  const results: Result[] = [];
  try {
    const setups = [embedded(), ...(["directory", "s3"] as const).flatMap((vectors) => [scaledOut(1, vectors, postgres, s3), scaledOut(2, vectors, postgres, s3)])];
    for (const setup of setups) results.push(await run(setup, opts, corpus));
  } finally {
    await s3.stop();
    await postgres.stop();
  }
  report(results, opts);
  if (results.some((r) => r.errors.length > 0 || r.verified !== "clean")) process.exitCode = 1;
}

await main();
