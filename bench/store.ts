/**
 * `npm run bench:store` (`-- --quick` for a 20k-chunk check; `-- --ef N` to
 * try another HNSW ef). The store's write and search paths next to LanceDB
 * used directly on the same data in the same run, and an exact scan in JS:
 *   - ingest: store.indexMany in batches, concurrent single-chunk
 *     store.index calls, raw MergeInsert of the same vectors; chunks/s with
 *     and without embedding, and Lance commits used;
 *   - search p50/p95 at 10k and full size, before and after the ANN index,
 *     with recall@10 against the exact top 10, and the index build time;
 *   - recall and latency of the index across ef and refineFactor;
 *   - peak RSS.
 * Prints markdown tables; asserts nothing. Data lives in a temp dir that is
 * removed at the end.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { HashEmbedder } from "../src/embed/hash.js";
import { Store } from "../src/store/store.js";
import { DEFAULT_ANN_EF } from "../src/store/vector-table.js";
import { ExactScan } from "./store/exact.js";
import { ingestBatched, ingestSingles, type IngestRow } from "./store/ingest.js";
import { createRawTable, openRawTable } from "./store/raw-lance.js";
import { fraction, int, ms, ratio, seconds, table } from "./store/report.js";
import { GroundTruth, grid, measureSearch, storeQuery, sweep, type SearchRow, type SweepRow } from "./store/search.js";
import { peakRssMb, rssMb, timed } from "./store/stats.js";
import { embedOneByOne, input, makeWorkload, queryEmbedMs, type Workload } from "./store/workload.js";

const quick = process.argv.includes("--quick");
const efFlag = process.argv.indexOf("--ef");
const ANN_EF = efFlag > 0 ? Number(process.argv[efFlag + 1]) : DEFAULT_ANN_EF;
const CHUNKS = quick ? 20_000 : 100_000;
const SMALL = 10_000;
const SINGLES = quick ? 5_000 : 20_000;
const CONCURRENCY = 64;
const BATCH = 1_000;
const QUERIES = 200;
// An unindexed query at 100k scans every vector; fewer samples keep the run short.
const FLAT_QUERIES = 100;
const SWEEP_EF = [16, 32, 64, 128, 256] as const;
const SWEEP_REFINE = [null, 1, 2, 5] as const;
// Ingest and the flat measurements must not race a background index build.
const NO_ANN = Number.MAX_SAFE_INTEGER;

const log = (message: string) => process.stderr.write(`[bench:store ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

interface Phase {
  name: string;
  rssMb: number;
}

interface Results {
  ingest: IngestRow[];
  embedOneByOneMs: number;
  queryEmbedMs: number;
  compactionMs: number;
  builds: { rows: number; ms: number }[];
  search: SearchRow[];
  sweep: SweepRow[];
  phases: Phase[];
  load: { before: number; after: number };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bench-store-"));
  const embedder = new HashEmbedder(384);
  const open = (name: string, annMinRows: number) => Store.open({ dataDir: join(dir, name), embedder, background: false, annMinRows, annEf: ANN_EF });
  const phases: Phase[] = [];
  const phase = (name: string) => {
    phases.push({ name, rssMb: rssMb() });
    log(`${name} (RSS ${Math.round(rssMb())} MB)`);
  };
  const loadBefore = loadavg()[0]!;
  try {
    log(`${CHUNKS.toLocaleString("en-US")} chunks${quick ? " (--quick)" : ""}, ef ${ANN_EF}, data in ${dir}`);
    const w = await makeWorkload(embedder, CHUNKS, QUERIES);
    const embedOneMs = await embedOneByOne(w, SINGLES - 1);
    const queryMs = await queryEmbedMs(w);
    phase("texts generated and embedded");

    let big = await open("big", NO_ANN);
    const raw = await createRawTable(join(dir, "raw"), "raw", w.dimension);
    const batched = await ingestBatched(w, big, raw, CHUNKS, BATCH);
    raw.close();
    rmSync(join(dir, "raw"), { recursive: true, force: true });
    phase("batched ingest done");

    const singlesStore = await open("singles", NO_ANN);
    const singles = await ingestSingles(w, singlesStore, SINGLES, CONCURRENCY, embedOneMs);
    await singlesStore.close();
    rmSync(join(dir, "singles"), { recursive: true, force: true });
    phase("single-chunk ingest done");

    // Flat search is measured on a compacted table, as the store's periodic optimize leaves it.
    const compaction = await timed(() => big.optimize());

    const search: SearchRow[] = [];
    const builds: { rows: number; ms: number }[] = [];
    const small = await indexFirst(w, await open("small", NO_ANN), SMALL);
    await small.optimize();
    const smallTruth = new GroundTruth(new ExactScan(w.vectors, w.dimension, SMALL), w.queryVectors);
    search.push(await measureSearch(w, small, await openRawTable(small.paths.lanceDir, "chunks"), smallTruth, QUERIES, ANN_EF));
    await small.close();
    const smallIndexed = await open("small", 1);
    builds.push({ rows: SMALL, ms: await buildIndex(smallIndexed) });
    search.push(await measureSearch(w, smallIndexed, await openRawTable(smallIndexed.paths.lanceDir, "chunks"), smallTruth, QUERIES, ANN_EF));
    await smallIndexed.close();
    phase(`search at ${SMALL.toLocaleString("en-US")} done`);

    const bigScan = new ExactScan(w.vectors, w.dimension, CHUNKS);
    const bigTruth = new GroundTruth(bigScan, w.queryVectors);
    search.push(await measureSearch(w, big, await openRawTable(big.paths.lanceDir, "chunks"), bigTruth, FLAT_QUERIES, ANN_EF));
    await big.close();
    big = await open("big", 1);
    builds.push({ rows: CHUNKS, ms: await buildIndex(big) });
    phase(`ANN index built at ${CHUNKS.toLocaleString("en-US")}`);
    const bigTable = await openRawTable(big.paths.lanceDir, "chunks");
    search.push(await measureSearch(w, big, bigTable, bigTruth, QUERIES, ANN_EF));
    const sweepRows = await sweep(bigTable, [bigTruth, new GroundTruth(bigScan, w.passageVectors)], [storeQuery(true, ANN_EF), ...grid(SWEEP_EF, SWEEP_REFINE)]);
    await big.close();
    phase(`search at ${CHUNKS.toLocaleString("en-US")} done`);

    print({
      ingest: [batched.raw, batched.store, singles],
      embedOneByOneMs: embedOneMs,
      queryEmbedMs: queryMs,
      compactionMs: compaction.ms,
      builds,
      search,
      sweep: sweepRows,
      phases,
      load: { before: loadBefore, after: loadavg()[0]! },
    }, w);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function indexFirst(w: Workload, store: Store, chunks: number): Promise<Store> {
  for (let from = 0; from < chunks; from += BATCH) {
    await store.indexMany(Array.from({ length: Math.min(BATCH, chunks - from) }, (_, j) => input(w, from + j)));
  }
  return store;
}

/** The store's own path to an index: optimize() starts the build in the background, settle() waits for it. */
async function buildIndex(store: Store): Promise<number> {
  const { ms: took } = await timed(async () => {
    await store.optimize();
    await store.settle();
  });
  const index = (await store.status()).lance?.index;
  if (!index) throw new Error("the store did not build an ANN index; see its last_optimize report");
  return took;
}

function print(r: Results, w: Workload): void {
  const rawQuery = storeQuery(true, ANN_EF);
  const out: string[] = [];
  out.push(
    `## Store benchmark: ${int(CHUNKS)} chunks, hash embedder ${w.dimension}-d, ${availableParallelism()} cores, node ${process.version}`,
    "",
    `Load average (1 min) ${r.load.before.toFixed(1)} at start, ${r.load.after.toFixed(1)} at end: the machine is shared, so absolute numbers are noisy; each store number sits next to its reference from the same run.`,
    "",
    "### Ingest",
    "",
  );
  const [rawRow, , singlesRow] = r.ingest;
  const perSecond = (chunks: number, msValue: number) => chunks / (msValue / 1000);
  const embedPerChunk = w.embedBatchedMs / w.texts.length;
  const rows = r.ingest.map((row) => {
    const withEmbedding = row.embedMs === null ? row.ms + embedPerChunk * row.chunks : row.ms;
    const withoutEmbedding = row.embedMs === null ? row.ms : row.ms - row.embedMs;
    return [row.path, int(row.chunks), seconds(row.ms), int(perSecond(row.chunks, withEmbedding)), int(perSecond(row.chunks, withoutEmbedding)), int(row.commits), int(row.chunks / row.commits)];
  });
  rows.push(
    ["hash embedding alone, batches of 1,000", int(w.texts.length), seconds(w.embedBatchedMs), int(perSecond(w.texts.length, w.embedBatchedMs)), "—", "—", "—"],
    ["hash embedding alone, one text per call", int(SINGLES - 1), seconds(r.embedOneByOneMs), int(perSecond(SINGLES - 1, r.embedOneByOneMs)), "—", "—", "—"],
  );
  out.push(table(["path", "chunks", "wall s", "chunks/s incl. embedding", "chunks/s excl. embedding", "Lance commits", "chunks/commit"], rows));
  const singlesExcl = perSecond(singlesRow!.chunks, singlesRow!.ms - singlesRow!.embedMs!);
  const singlesIncl = perSecond(singlesRow!.chunks, singlesRow!.ms);
  const rawExcl = perSecond(rawRow!.chunks, rawRow!.ms);
  const rawIncl = perSecond(rawRow!.chunks, rawRow!.ms + embedPerChunk * rawRow!.chunks);
  out.push(
    "",
    `"incl. embedding" for the raw row adds the measured batched embedding time; "excl." subtracts the embedding time measured separately on the same texts (batched for indexMany, one call per text for store.index).`,
    `Grouped single-chunk writes / raw batched MergeInsert: **${ratio(singlesExcl / rawExcl)}** excluding embedding, ${ratio(singlesIncl / rawIncl)} including it (target >= 0.5x).`,
    `Store compaction after ingest (store.optimize, ${int(CHUNKS)} rows): ${seconds(r.compactionMs)} s.`,
    "",
    "### Vector search (store.search mode `vector`, k = 10, one query at a time)",
    "",
  );
  out.push(
    table(
      ["chunks", "ANN index", "queries", "store p50 ms", "store p95 ms", "raw Lance p50 ms", "raw Lance p95 ms", "store/raw p50", "store/raw p95", "JS exact scan p50 ms", "JS scan p95 ms", "recall@10 store", "recall@10 raw"],
      r.search.map((s) => [
        int(s.rows),
        s.index,
        int(s.queries),
        ms(s.store.p50),
        ms(s.store.p95),
        ms(s.raw.p50),
        ms(s.raw.p95),
        ratio(s.store.p50 / s.raw.p50),
        ratio(s.store.p95 / s.raw.p95),
        ms(s.scan.p50),
        ms(s.scan.p95),
        fraction(s.storeRecall),
        fraction(s.rawRecall),
      ]),
    ),
    "",
    `Every latency includes embedding the query text (hash, mean ${(r.queryEmbedMs * 1000).toFixed(0)} µs). Raw Lance runs exactly the store's query on the store's table: limit ${rawQuery.limit} (the store's over-fetch), ef ${rawQuery.ef}, refineFactor 1, \`dot\` without the index and \`cosine\` with it. Target: store/raw < 1.3x.`,
    `ANN index build (IVF_HNSW_SQ, store.optimize + settle): ${r.builds.map((b) => `${seconds(b.ms)} s at ${int(b.rows)} rows`).join(", ")}.`,
    "",
    `### ANN recall@10 vs latency at ${int(CHUNKS)} chunks (raw Lance on the store's index, cosine, top 10 of each answer, query embedding excluded)`,
    "",
    `Two query sets of ${QUERIES} each: keyword queries (3-7 words from one chunk plus 1-2 stray words, as above) and passages (unseen chunk-like texts, "more like this").`,
    "",
    table(
      ["limit", "ef", "refineFactor", "recall@10 keyword", "p50 ms", "p95 ms", "recall@10 passage", "p50 ms", "p95 ms"],
      r.sweep.map((s, i) => [
        i === 0 ? `${s.settings.limit} (the store's query)` : String(s.settings.limit),
        String(s.settings.ef),
        s.settings.refine === null ? "off" : String(s.settings.refine),
        ...s.sets.flatMap((set) => [fraction(set.recall), ms(set.latency.p50), ms(set.latency.p95)]),
      ]),
    ),
    "",
    "### Memory",
    "",
    table(
      ["phase", "RSS MB"],
      [...r.phases.map((p) => [p.name, int(p.rssMb)]), ["peak RSS of the whole run", int(peakRssMb())]],
    ),
    "",
    `The benchmark itself holds the ${int(w.texts.length)} texts and their vectors (${int(w.vectors.byteLength / 2 ** 20)} MB of Float32Array) for the references, so the store's own share is below the peak.`,
  );
  process.stdout.write(`${out.join("\n")}\n`);
}

await main();
