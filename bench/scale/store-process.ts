/**
 * The store side of `npm run bench:scale`, in its own process (started by
 * bench/scale.ts through rpc.ts): it opens the store as the server does
 * (background maintenance on), generates the chunks it is told to index
 * itself (data.ts) and answers with timings. Only the public Store API is
 * used.
 */
import "./lance-threads.js";
import { embedderFromSpec } from "../../src/embed/from-spec.js";
import type { StatusReport } from "../../src/store/types.js";
import { ANN_TRAINING } from "../../src/store/maintenance.js";
import { Store } from "../../src/store/store.js";
import { diskMb, peakRssMb, pool, rssMb } from "../store/stats.js";
import { ScaleData } from "./data.js";
import { log } from "./log.js";
import { serve } from "./rpc.js";
import { indexesIn, type FoldIn, type IngestTiming, type Observation, type StoreProcessApi } from "./store-api.js";
import { TimingEmbedder } from "./timing-embedder.js";

/** How often a wait for maintenance looks at `status()`: at 1M chunks one status costs ~0.5 s of this process's time. */
const POLL_MS = 2_000;
/** The store optimizes 10 s after writes stop, checking every 5 s (src/store/core.ts): twice that without a change means it is done. */
const QUIET_MS = 30_000;
const say = (message: string) => log("store", message);

let store: Store | null = null;
let embedder: TimingEmbedder | null = null;
const data = new ScaleData();
/** The store's own log lines since the last snapshot (a failed index build shows up only here). */
let storeLog: string[] = [];
/** When the last write ended (wall clock, as status reports times): maintenance after it is what fold-in waits for. */
let lastWriteAt = 0;
let lastWriteEnded = 0;
/** Lance commits since the last fold-in: without any, the store has nothing to optimize and none is waited for. */
let commitsToFold = 0;

/**
 * Each new high-water mark of RSS, in steps of this many MB, goes to the
 * log with what Lance's caches held then, so that the report's peak can be
 * placed among the store's doings around it (a training, a cache renewal).
 */
const PEAK_LOG_STEP_MB = 128;
let loggedPeakMb = 0;
setInterval(() => {
  const mb = process.memoryUsage.rss() / 2 ** 20;
  if (mb < loggedPeakMb + PEAK_LOG_STEP_MB || !store) return;
  loggedPeakMb = mb;
  void store
    .memory()
    .then((m) => say(`RSS high-water ${Math.round(mb)} MB; Lance caches ${Math.round(m.lance_cache.bytes / 2 ** 20)} MB, live index files ${m.lance_cache.live_index_bytes === null ? "-" : Math.round(m.lance_cache.live_index_bytes / 2 ** 20)} MB`))
    .catch((error: unknown) => say(`RSS high-water ${Math.round(mb)} MB (caches not read: ${String(error)})`));
}, 1_000).unref();

function opened(): Store {
  if (!store) throw new Error("the store is not open");
  return store;
}

function observation(status: StatusReport): Observation {
  const last = status.last_optimize;
  return {
    lanceRows: status.lance?.rows ?? null,
    indexes: indexesIn(status.lance),
    fragments: status.lance ? { all: status.lance.fragments, small: status.lance.small_fragments } : null,
    running: status.maintenance_running.length,
    lastOptimize: last ? { at: last.at, took_ms: last.took_ms, ok: last.ok, ...(typeof last.ann_training === "string" ? { ann_training: last.ann_training } : {}) } : null,
  };
}

async function lanceVersion(): Promise<number> {
  return (await opened().status()).lance?.version ?? 0;
}

/** Runs a write and times it; the embedding the store did meanwhile is measured on its own calls. */
async function timedWrite(chunks: number, write: () => Promise<void>): Promise<IngestTiming> {
  const versionBefore = await lanceVersion();
  const embedBefore = embedder!.busyMs;
  const started = performance.now();
  await write();
  lastWriteEnded = performance.now();
  lastWriteAt = Date.now();
  const commits = (await lanceVersion()) - versionBefore;
  commitsToFold += commits;
  return { chunks, ms: lastWriteEnded - started, embedMs: embedder!.busyMs - embedBefore, commits };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `promise`, or "timeout" once `ms` have passed (the promise keeps running: a settle() cannot be cancelled). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), Math.max(0, ms))));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const api: StoreProcessApi = {
  async open({ dataDir, embedder: spec }) {
    embedder = new TimingEmbedder(embedderFromSpec(spec));
    store = await Store.open({
      dataDir,
      embedder,
      log: (message) => {
        say(`log: ${message}`);
        storeLog.push(`${new Date().toISOString().slice(11, 19)} ${message}`);
      },
    });
    lastWriteEnded = performance.now();
    lastWriteAt = Date.now();
    return { chunks: (await store.status()).chunks };
  },

  async ingestBatches({ from, to, batch }) {
    const batches: ReturnType<ScaleData["inputs"]>[] = [];
    for (let at = from; at < to; at += batch) batches.push(data.inputs(at, Math.min(to, at + batch)));
    return timedWrite(to - from, async () => {
      for (const inputs of batches) await opened().indexMany(inputs);
    });
  },

  async ingestSingles({ from, to, concurrency }) {
    const inputs = data.inputs(from, to);
    return timedWrite(to - from, () =>
      pool(inputs.length, concurrency, async (i) => {
        await opened().index(inputs[i]!);
      }),
    );
  },

  async observe() {
    return observation(await opened().status());
  },

  /**
   * Done when every index the store reports covers every row and no
   * retraining of the ANN index waits for writes to pause. A store that
   * reports no index is done once an optimize has run after the last write
   * (what would start a build; none comes when the writes committed
   * nothing) and nothing has changed for QUIET_MS after it: its fold-in
   * time is then the moment of that last change. Gives up
   * when nothing has changed for `stallMs`, or after `timeoutMs` in all,
   * saying so instead of hanging.
   */
  async foldIn({ stallMs, timeoutMs }): Promise<FoldIn> {
    const s = opened();
    const started = performance.now();
    const expectOptimize = commitsToFold > 0;
    commitsToFold = 0;
    let signature = "";
    let lastChange = started;
    let lastNote = started;
    for (;;) {
      const settled = await within(s.settle(), started + timeoutMs - performance.now());
      const now = performance.now();
      const seen = observation(await s.status());
      const result = (done: boolean, outcome: string, at = performance.now()): FoldIn => ({ ms: at - lastWriteEnded, done, outcome, observation: seen });
      if (settled === "timeout") return result(false, `settle() had not returned after ${Math.round(timeoutMs / 1000)} s`);
      const next = JSON.stringify([seen.indexes, seen.lastOptimize]);
      if (next !== signature) [signature, lastChange] = [next, now];
      // A retraining put off while writes went on starts once they pause, maybe after settle() returned: not over before it is.
      const training = seen.lastOptimize?.ann_training === ANN_TRAINING.waiting || seen.running > 0;
      if (seen.indexes.length > 0 && seen.indexes.every((i) => i.unindexed_rows === 0) && !training) return result(true, "every index covers every row");
      const optimizedSince = seen.lastOptimize !== null && Date.parse(seen.lastOptimize.at) >= lastWriteAt;
      if (seen.indexes.length === 0 && (optimizedSince || !expectOptimize) && now - lastChange >= QUIET_MS) {
        const after = expectOptimize ? "maintenance ran after the last write" : "nothing new was committed";
        return result(true, `no index: ${after}, then nothing changed for ${QUIET_MS / 1000} s`, lastChange);
      }
      if (now - lastChange > stallMs) return result(false, `no change for ${Math.round(stallMs / 1000)} s after settle()`);
      if (now - started > timeoutMs) return result(false, `gave up after ${Math.round(timeoutMs / 1000)} s`);
      if (now - lastNote > 60_000) {
        lastNote = now;
        say(`waiting for maintenance to fold rows in (${Math.round((now - started) / 1000)} s): ${seen.indexes.map((i) => `${i.name} ${i.unindexed_rows} unindexed`).join(", ") || "no index yet"}`);
      }
      await sleep(POLL_MS);
    }
  },

  async search({ queries, warmup, mode, filter, k, budgetMs, minQueries }) {
    const s = opened();
    const ask = (query: string) => s.search({ query, k, mode, ...(filter ? { filter } : {}) });
    for (const query of warmup) await ask(query);
    const ms: number[] = [];
    const found: string[][] = [];
    const started = performance.now();
    for (const query of queries) {
      if (budgetMs !== null && ms.length >= minQueries && performance.now() - started > budgetMs) break;
      const t0 = performance.now();
      const result = await ask(query);
      ms.push(performance.now() - t0);
      found.push(result.results.map((hit) => hit.chunk_id));
    }
    return { ms, found };
  },

  async snapshot() {
    const s = opened();
    const status = await s.status();
    const log = storeLog;
    storeLog = [];
    const memory = await s.memory();
    const mb = (bytes: number) => bytes / 2 ** 20;
    return {
      ...observation(status),
      chunks: status.chunks,
      rssMb: rssMb(),
      peakRssMb: peakRssMb(),
      lanceCacheMb: mb(memory.lance_cache.bytes),
      jsHeapMb: mb(memory.js_heap_used_bytes),
      liveIndexMb: memory.lance_cache.live_index_bytes === null ? null : mb(memory.lance_cache.live_index_bytes),
      diskMb: diskMb(s.paths.root),
      log,
    };
  },

  async close() {
    await store?.close();
    store = null;
  },
};

serve(api);
