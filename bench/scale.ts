/**
 * `npm run bench:scale` (issue 9): how the store's search, ingest and
 * maintenance hold up from 100k to 1M chunks, next to LanceDB used directly
 * on the same data in the same run.
 *
 *   --chunks N       chunks to ingest (default 1,000,000); checkpoints at
 *                    100k, 300k and 1M when the run reaches them, and at N
 *   --quick          100,000 chunks (about three minutes here)
 *   --embedder SPEC  embedder of the store and the reference (default hash:384)
 *   --data-dir DIR   keep the store and the reference table there; a later
 *                    run with the same DIR reuses what they hold instead of
 *                    ingesting it again (and resumes a run cut short)
 *
 * The store runs in a child process (bench/scale/store-process.ts) using the
 * public Store API only, so its RSS is its own; this process builds the raw
 * LanceDB reference table, keeps the exact top 10 of every query as rows
 * arrive, and prints markdown tables on stdout (progress on stderr).
 * Asserts nothing: the targets table says met or missed.
 */
import { lanceThreads } from "./scale/lance-threads.js";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { embedderFromSpec } from "../src/embed/from-spec.js";
import { K } from "./store/search.js";
import { measureCheckpoint, type Context } from "./scale/checkpoint.js";
import { DATA_VERSION, ScaleData } from "./scale/data.js";
import { catchUp, checkpointsFor, ingestSegment } from "./scale/ingest.js";
import { log } from "./scale/log.js";
import { RawReference } from "./scale/raw-reference.js";
import { renderReport, type RunInfo } from "./scale/report.js";
import type { CheckpointResult } from "./scale/results.js";
import { Remote } from "./scale/rpc.js";
import type { StoreProcessApi } from "./scale/store-api.js";
import { RunningTopK } from "./scale/truth.js";

const DEFAULT_CHUNKS = 1_000_000;
const QUICK_CHUNKS = 100_000;
/** Queries per set: 200 keeps recall@10 within about ±0.01 and each vector series under a minute at 1M. */
const QUERIES = 200;
const MARKER = "bench-scale.json";
/** How long the store process may take to close before it is killed (a native index build may still hold it). */
const CLOSE_GRACE_MS = 120_000;

interface Options {
  chunks: number;
  embedder: string;
  dataDir: string | null;
}

function options(): Options {
  const { values } = parseArgs({
    options: { chunks: { type: "string" }, quick: { type: "boolean" }, embedder: { type: "string" }, "data-dir": { type: "string" } },
    strict: true,
  });
  if (values.quick && values.chunks !== undefined) throw new Error("--quick means --chunks 100000; give one of them.");
  const chunks = values.quick ? QUICK_CHUNKS : values.chunks === undefined ? DEFAULT_CHUNKS : Number(values.chunks.replace(/[_,]/g, ""));
  if (!Number.isInteger(chunks) || chunks < 1_000) throw new Error(`--chunks must be a whole number of at least 1,000, got ${JSON.stringify(values.chunks)}.`);
  return { chunks, embedder: values.embedder ?? "hash:384", dataDir: values["data-dir"] === undefined ? null : resolve(values["data-dir"]) };
}

/**
 * A kept data directory is reused only for the same chunks and embedder:
 * anything else would measure a store against the wrong ground truth.
 */
function claimDataDir(dir: string, embedder: string): void {
  const marker = join(dir, MARKER);
  const wanted = { data: DATA_VERSION, embedder };
  if (existsSync(marker)) {
    const found = JSON.parse(readFileSync(marker, "utf8")) as typeof wanted;
    if (found.data !== wanted.data || found.embedder !== wanted.embedder) {
      throw new Error(`${dir} holds bench:scale data of ${JSON.stringify(found)}, but this run makes ${JSON.stringify(wanted)}. Use another --data-dir, or delete this one.`);
    }
    return;
  }
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new Error(`--data-dir ${dir} is not empty and was not made by bench:scale; give a new or empty directory.`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(marker, `${JSON.stringify(wanted)}\n`);
}

async function main(): Promise<void> {
  const opts = options();
  const startedAt = performance.now();
  const loadBefore = loadavg()[0]!;
  const root = opts.dataDir ?? mkdtempSync(join(tmpdir(), "bench-scale-"));
  claimDataDir(root, opts.embedder);
  const points = checkpointsFor(opts.chunks);
  log("bench", `${opts.chunks.toLocaleString("en-US")} chunks (checkpoints ${points.map((c) => c.toLocaleString("en-US")).join(", ")}), ${opts.embedder}, data in ${root}, LANCE_CPU_THREADS=${lanceThreads.value} (${lanceThreads.source})`);

  const embedder = embedderFromSpec(opts.embedder);
  const { dimension } = await embedder.load();
  const data = new ScaleData();
  const queries = data.querySets(QUERIES, points[0]!, opts.chunks);
  const queryVectors = { short: await embedder.embed(queries.short, { kind: "query" }), passages: await embedder.embed(queries.passages, { kind: "query" }) };
  const truth = { short: new RunningTopK(queryVectors.short, dimension, K), passages: new RunningTopK(queryVectors.passages, dimension, K) };

  const run = {
    chunks: opts.chunks,
    embedder: opts.embedder,
    dimension,
    cores: availableParallelism(),
    node: process.version,
    lanceThreads,
    dataDir: root,
    kept: opts.dataDir !== null,
    queries: { short: QUERIES, passages: QUERIES },
  };
  const store = Remote.start<StoreProcessApi>(fileURLToPath(new URL("./scale/store-process.ts", import.meta.url)));
  const rawDir = join(root, "raw");
  const raw = await RawReference.open(rawDir, dimension);
  const results: CheckpointResult[] = [];
  try {
    const held = { store: (await store.call("open", { dataDir: join(root, "store"), embedder: opts.embedder })).chunks, raw: await raw.rows() };
    log("bench", `store process ${store.pid}; the store holds ${held.store.toLocaleString("en-US")} chunks, the raw table ${held.raw.toLocaleString("en-US")} rows`);
    const resume = Math.max(held.store, held.raw);
    if (resume > opts.chunks) throw new Error(`${root} already holds ${resume.toLocaleString("en-US")} chunks, more than --chunks ${opts.chunks}: run with --chunks ${resume} or another --data-dir.`);
    const ctx: Context = { store, raw, data, embedder, truth, dimension, queries, queryVectors, rawDir, startedAt };
    if (resume > 0) await catchUp(ctx, held, resume);
    let at = resume;
    for (const chunks of points.filter((c) => c >= resume)) {
      const ingest = chunks > at ? await ingestSegment(ctx, at, chunks) : null;
      at = chunks;
      results.push(await measureCheckpoint(ctx, chunks, ingest));
      // A long run that dies later still leaves what it measured in the log.
      if (chunks !== points.at(-1)) log("bench", `report so far:\n${render(run, results, startedAt, loadBefore)}`);
    }
    await Promise.race([store.call("close", null), new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref())]);
  } finally {
    await store.stop(CLOSE_GRACE_MS);
    raw.close();
    await embedder.close?.();
    if (!opts.dataDir) rmSync(root, { recursive: true, force: true });
  }
  process.stdout.write(render(run, results, startedAt, loadBefore));
  log("bench", `done in ${((performance.now() - startedAt) / 60_000).toFixed(1)} min`);
}

/** The report of what has been measured so far, with the run's wall time and load as of now. */
function render(run: Omit<RunInfo, "load" | "wallMs">, results: readonly CheckpointResult[], startedAt: number, loadBefore: number): string {
  return renderReport({ ...run, load: { before: loadBefore, after: loadavg()[0]! }, wallMs: performance.now() - startedAt }, results);
}

await main();
