/** The scale benchmark's report: markdown tables, so they paste into the README and issue notes as they are. */
import { DEFAULT_ANN_EF } from "../../src/store/vector-table.js";
import { fraction, int, ms, ratio, seconds, table } from "../store/report.js";
import { storeQuery } from "../store/search.js";
import type { Latency } from "../store/stats.js";
import { FILTERS } from "./data.js";
import { RAW_SERIES, STORE_SERIES, perSecond, withoutEmbedding, type CheckpointResult } from "./results.js";
import { checkTargets } from "./targets.js";

export interface RunInfo {
  chunks: number;
  embedder: string;
  dimension: number;
  cores: number;
  node: string;
  lanceThreads: { value: string | undefined; source: string };
  load: { before: number; after: number };
  wallMs: number;
  dataDir: string;
  kept: boolean;
  queries: { short: number; passages: number };
}

/** Store log lines shown per checkpoint, and characters of each: enough to see what failed, short enough to read. */
const LOG_LINES = 10;
const LOG_CHARS = 300;

const pair = (l: Latency): string => `${ms(l.p50)} / ${ms(l.p95)}`;
const mark = (verdict: string): string => (verdict === "met" ? "**met**" : verdict === "missed" ? "**missed**" : verdict);

export function renderReport(run: RunInfo, results: readonly CheckpointResult[]): string {
  const out: string[] = [
    `## Scale benchmark: ${int(run.chunks)} chunks, ${run.embedder} (${run.dimension}-d), ${run.cores} cores, node ${run.node}`,
    "",
    `Checkpoints at ${results.map((r) => int(r.chunks)).join(", ")} chunks; the run took ${(run.wallMs / 60_000).toFixed(1)} min. ` +
      `Load average (1 min) ${run.load.before.toFixed(1)} at start, ${run.load.after.toFixed(1)} at end: the machine is shared, so read each store number next to its reference from the same run. ` +
      `LANCE_CPU_THREADS=${run.lanceThreads.value} (${run.lanceThreads.source}) in both processes. ` +
      `Data ${run.kept ? "kept" : "in a temporary directory, removed after the run"}: ${run.dataDir}.`,
    "",
    `Chunks: ~60-word Zipfian texts (bench/store/corpus.ts), ten per doc_id, metadata \`{bucket: 0..99, tier}\`; filters ${FILTERS.map((f) => `${f.name} = \`${JSON.stringify(f.filter)}\``).join(", ")}. ` +
      `Queries: ${run.queries.short} short ones (4-9 words from one chunk plus stray words; latency series use the first 100) and ${run.queries.passages} unseen passages; k = 10, one at a time, query embedding included.`,
    "",
    "### Targets (issue 9)",
    "",
    table(
      ["target", "checked at (chunks)", "measured", "verdict"],
      checkTargets(results).map((t) => [t.target, t.at, t.measured, mark(t.verdict)]),
    ),
    "",
    "### Search latency, p50 / p95 ms",
    "",
    table(
      ["chunks", ...STORE_SERIES.filter((s) => s !== "vector, passages"), "raw LanceDB vector", "raw LanceDB full text"],
      results.map((r) => [
        int(r.chunks),
        ...STORE_SERIES.filter((s) => s !== "vector, passages").map((s) => pair(r.store[s].latency)),
        pair(r.rawSearch.vector.latency),
        pair(r.rawSearch["full text"].latency),
      ]),
    ),
    "",
    `Store columns are \`store.search\` in that mode (short queries); raw LanceDB runs the store's vector query (limit ${storeQuery(true, DEFAULT_ANN_EF).limit}, ef ${DEFAULT_ANN_EF}, refineFactor 1, cosine) and its own BM25 full-text query (limit 10) on the reference table.`,
    "",
    "### Vector recall@10 against an exact scan",
    "",
    table(
      ["chunks", "store, passages", "raw LanceDB, passages", "store, short queries", "raw LanceDB, short queries"],
      results.map((r) => [int(r.chunks), fraction(r.store["vector, passages"].recall!), fraction(r.rawSearch["vector, passages"].recall!), fraction(r.store.vector.recall!), fraction(r.rawSearch.vector.recall!)]),
    ),
    "",
    "### Every series",
    "",
    table(
      ["chunks", "series", "queries", "p50 ms", "p95 ms", "mean ms", "results/query", "outside filter"],
      results.flatMap((r) => [
        ...STORE_SERIES.map((s) => [int(r.chunks), `store ${s}`, ...seriesCells(r.store[s])]),
        ...RAW_SERIES.map((s) => [int(r.chunks), `raw LanceDB ${s}`, ...seriesCells(r.rawSearch[s])]),
      ]),
    ),
    "",
    "### Ingest (embedding excluded unless said)",
    "",
  ];
  const ingested = results.filter((r) => r.ingest !== null);
  out.push(
    ingested.length === 0
      ? "Nothing was ingested: every checkpoint's chunks were already in the kept data directory."
      : table(
          ["chunks", "rows", "store.indexMany, batches of 1,000", "same incl. embedding", "raw MergeInsert, batches of 1,000", "store/raw", "single-chunk store.index, 64 in flight", "singles/raw", "store Lance commits (batched / singles)", "raw compaction s", `${run.embedder} embedding alone`],
          ingested.map((r) => {
            const i = r.ingest!;
            const raw = perSecond(i.raw.chunks, i.raw.ms);
            const store = withoutEmbedding(i.batched);
            const singles = i.singles ? withoutEmbedding(i.singles) : Number.NaN;
            return [
              int(r.chunks),
              `${int(i.from)}-${int(i.to)}`,
              int(store),
              int(perSecond(i.batched.chunks, i.batched.ms)),
              int(raw),
              ratio(store / raw),
              i.singles ? `${int(singles)} (${int(i.singles.chunks)} chunks)` : "—",
              i.singles ? ratio(singles / raw) : "—",
              `${int(i.batched.commits)} / ${i.singles ? int(i.singles.commits) : "—"}`,
              seconds(i.raw.compactMs),
              int(perSecond(i.embedding.chunks, i.embedding.ms)),
            ];
          }),
        ),
    "",
    `chunks/s. "Embedding excluded" takes out the wall time the store spent inside its embedder's calls, measured on those very calls; the raw table gets vectors the benchmark embedded beforehand (last column). ` +
      `Single-chunk writes are the segment's last rows. The raw table is compacted every 50 MergeInserts, as the store optimizes after 50 commits; that time is not in its rate, and its search indexes are dropped after each checkpoint and built afresh at the next: raw MergeInsert is the upper bound.`,
    "",
    "### Indexes and maintenance",
    "",
    table(
      ["chunks", "store fold-in wait s", "store indexes after fold-in (indexed / unindexed rows)", "store table fragments (small) after fold-in", "largest unindexed tail during ingest", "raw compaction s", "raw vector index build s", "raw full-text index build s"],
      results.map((r) => [
        int(r.chunks),
        `${seconds(r.foldIn.ms)}${r.foldIn.done ? "" : " (not done)"}`,
        r.foldIn.observation.indexes.map((i) => `${i.name} ${i.type}: ${int(i.indexed_rows)} / ${int(i.unindexed_rows)}`).join("; ") || "none",
        r.foldIn.observation.fragments ? `${int(r.foldIn.observation.fragments.all)} (${int(r.foldIn.observation.fragments.small)})` : "—",
        r.ingest ? int(r.ingest.largestUnindexed) : "—",
        seconds(r.raw.compactMs),
        `${seconds(r.raw.vectorIndexMs)} (IVF_HNSW_SQ, ${r.raw.partitions} partition${r.raw.partitions === 1 ? "" : "s"})`,
        seconds(r.raw.textIndexMs),
      ]),
    ),
    "",
    "Fold-in wait: from the end of the segment's last write until `store.status()` showed every index covering every row, waiting with `store.settle()` while the store's own background maintenance ran (nothing was triggered by hand). " +
      "The raw reference builds each index afresh over the whole table at every checkpoint, on a table compacted into one fragment; the store's searches read its table in as many fragments as its maintenance left (Lance merges only fragments its indexes cover alike).",
    "",
    ...results.flatMap((r) => maintenanceNotes(r)),
    "### Memory and disk",
    "",
    table(
      ["chunks", "store process RSS MB", "of which Lance caches MB", "of which JS heap MB", "live index files MB", "store process peak RSS MB", "store data dir MB", "raw LanceDB table MB", "benchmark process peak RSS MB"],
      results.map((r) => [
        int(r.chunks),
        int(r.memory.storeRssMb),
        int(r.memory.storeLanceCacheMb),
        int(r.memory.storeJsHeapMb),
        r.memory.storeLiveIndexMb === null ? "-" : int(r.memory.storeLiveIndexMb),
        int(r.memory.storePeakRssMb),
        int(r.storeDiskMb),
        int(r.raw.diskMb),
        int(r.memory.benchPeakRssMb),
      ]),
    ),
    "",
    "The store runs in its own process, which holds nothing but the Store (it generates each chunk's text as it indexes it): its RSS is the server's. " +
      "The benchmark process holds the raw LanceDB reference, the ground truth and the query vectors; peaks are high-water marks since each process started.",
  );
  return `${out.join("\n")}\n`;
}

function seriesCells(s: CheckpointResult["store"]["vector"]): string[] {
  return [int(s.queries), ms(s.latency.p50), ms(s.latency.p95), ms(s.latency.mean), s.hitsPerQuery.toFixed(1), int(s.violations)];
}

function maintenanceNotes(r: CheckpointResult): string[] {
  const lines = [`- ${int(r.chunks)}: fold-in ${r.foldIn.done ? "finished" : "did NOT finish"}: ${r.foldIn.outcome}.`];
  if (r.ingest) {
    const optimizes = r.ingest.events.flatMap((e) => (e.kind === "optimize" ? [e] : []));
    const failed = optimizes.filter((e) => !e.ok).length;
    const longest = Math.max(0, ...optimizes.map((e) => e.tookMs));
    lines.push(
      `  While rows ${int(r.ingest.from)}-${int(r.ingest.to)} went in: ${optimizes.length} store optimize runs seen between slices` +
        (optimizes.length > 0 ? `, the longest ${seconds(longest)} s${failed > 0 ? `, ${failed} FAILED` : ""}` : "") +
        ".",
    );
    for (const e of r.ingest.events) {
      if (e.kind === "index appeared") lines.push(`  Index ${e.index.name} (${e.index.type}) first seen at ${int(e.atChunks)} chunks, ${int(e.index.indexed_rows)} rows indexed.`);
    }
  }
  if (r.storeLog.length > 0) lines.push(`  The store logged ${r.storeLog.length} line${r.storeLog.length === 1 ? "" : "s"} since the previous checkpoint${r.storeLog.length > LOG_LINES ? ` (the first ${LOG_LINES})` : ""}:`);
  for (const line of r.storeLog.slice(0, LOG_LINES)) lines.push(`  \`${line.length > LOG_CHARS ? `${line.slice(0, LOG_CHARS)}...` : line}\``);
  return [...lines, ""];
}
