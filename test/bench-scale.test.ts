import { describe, expect, it } from "vitest";
import { checkpointsFor } from "../bench/scale/ingest.js";
import type { CheckpointResult, SeriesResult, StoreSeries } from "../bench/scale/results.js";
import { indexesIn } from "../bench/scale/store-api.js";
import { renderReport } from "../bench/scale/report.js";
import { checkTargets, type TargetInput } from "../bench/scale/targets.js";
import { RunningTopK, mergeTopK } from "../bench/scale/truth.js";
import { makeRandom } from "../bench/store/corpus.js";
import { ExactScan, recallAtK } from "../bench/store/exact.js";

function unitVectors(count: number, dimension: number, seed: number): Float32Array {
  const random = makeRandom(seed);
  const out = new Float32Array(count * dimension);
  for (let r = 0; r < count; r++) {
    let norm = 0;
    for (let d = 0; d < dimension; d++) norm += (out[r * dimension + d] = random() - 0.5) ** 2;
    for (let d = 0; d < dimension; d++) out[r * dimension + d]! /= Math.sqrt(norm);
  }
  return out;
}

describe("RunningTopK", () => {
  it("fed in uneven batches, equals one exact scan over all rows", () => {
    const dimension = 16;
    const rows = unitVectors(1_000, dimension, 7);
    const queries = Array.from({ length: 5 }, (_, q) => unitVectors(1, dimension, 100 + q));
    const running = new RunningTopK(queries, dimension, 10);
    for (const [from, to] of [[0, 1], [1, 300], [300, 301], [301, 1_000]] as const) running.add(from, rows.subarray(from * dimension, to * dimension));
    const scan = new ExactScan(rows, dimension, 1_000);
    expect(running.rows).toBe(1_000);
    queries.forEach((q, i) => expect(running.truth(i)).toEqual(scan.topK(q, 10)));
  });

  it("refuses rows out of order, which would silently corrupt the ground truth", () => {
    const running = new RunningTopK([new Float32Array([1, 0])], 2, 1);
    running.add(0, new Float32Array([1, 0]));
    expect(() => running.add(2, new Float32Array([0, 1]))).toThrow(/expected row 1, got 2/);
  });

  it("merge keeps the earlier list's row ahead on equal scores", () => {
    expect(mergeTopK({ rows: [1, 2], scores: [0.9, 0.5] }, { rows: [7, 8], scores: [0.9, 0.6] }, 3)).toEqual({ rows: [1, 7, 8], scores: [0.9, 0.9, 0.6] });
  });
});

describe("recallAtK", () => {
  it("counts a found result that ties the k-th true neighbour as a hit", () => {
    expect(recallAtK([0.9, 0.8, 0.7], [0.9, 0.7, 0.1])).toBeCloseTo(2 / 3, 12);
    expect(recallAtK([0.9, 0.8], [0.5])).toBe(0);
  });
});

describe("indexesIn", () => {
  it("finds every index in status().lance, whether one object or a list", () => {
    const vector = { name: "vector_idx", type: "IVF_HNSW_SQ", indexed_rows: 90, unindexed_rows: 10 };
    const text = { name: "text_idx", type: "INVERTED", indexed_rows: 100, unindexed_rows: 0 };
    expect(indexesIn({ table: "chunks", rows: 100, index: vector, indexes: [text], index_coverage: 0.9 })).toEqual([vector, text]);
    expect(indexesIn({ rows: 5, index: null })).toEqual([]);
    expect(indexesIn(null)).toEqual([]);
  });
});

describe("checkpointsFor", () => {
  it("stops at 100k, 300k and 1M on the way, and always at the last chunk", () => {
    expect(checkpointsFor(1_000_000)).toEqual([100_000, 300_000, 1_000_000]);
    expect(checkpointsFor(500_000)).toEqual([100_000, 300_000, 500_000]);
    expect(checkpointsFor(100_000)).toEqual([100_000]);
    expect(checkpointsFor(20_000)).toEqual([20_000]);
  });
});

const series = (p50: number, p95: number, recall: number | null = null): SeriesResult => ({ latency: { p50, p95, mean: p50 }, queries: 100, hitsPerQuery: 10, violations: 0, recall });
const checkpoint = (chunks: number, hybridP50: number, peakMb: number): TargetInput => ({
  chunks,
  ingest: {
    from: 0,
    to: chunks,
    batched: { chunks: 10_000, ms: 2_000, embedMs: 500, commits: 10 },
    singles: { chunks: 1_000, ms: 1_100, embedMs: 100, commits: 30 },
    singlesConcurrency: 64,
    raw: { chunks: 10_000, ms: 1_000, commits: 10, compactMs: 0 },
    embedding: { chunks: 10_000, ms: 500 },
    events: [],
    largestUnindexed: 0,
    atEnd: { lanceRows: chunks, indexes: [], fragments: null, lastOptimize: null, running: 0 },
  },
  store: {
    vector: series(10, 12, 0.8),
    "vector, passages": series(10, 12, 0.96),
    keyword: series(16, 20),
    hybrid: series(hybridP50, 40),
    "hybrid + filter 1%": series(30, 80),
    "hybrid + filter 30%": series(30, 81),
  } satisfies Record<StoreSeries, SeriesResult>,
  memory: { storeRssMb: 100, storePeakRssMb: peakMb, storeLanceCacheMb: 10, storeJsHeapMb: 10, storeLiveIndexMb: 5, benchPeakRssMb: 100 },
});

describe("checkTargets", () => {
  it("checks each target at 1M, growth against 100k, and says met or missed from the numbers", () => {
    const rows = checkTargets([checkpoint(100_000, 10, 500), checkpoint(1_000_000, 25, 2_100)]);
    const verdicts = Object.fromEntries(rows.map((r) => [r.target, r.verdict]));
    expect(verdicts).toEqual({
      "hybrid p50 <= 2x vector p50": "missed", // 25 > 2 x 10
      "hybrid p50 <= 30 ms": "met",
      "keyword p50 <= 15 ms": "missed",
      "hybrid + filter 1% p95 <= 2x unfiltered hybrid p95": "met", // 80 <= 2 x 40
      "hybrid + filter 30% p95 <= 2x unfiltered hybrid p95": "missed", // 81 > 80
      "hybrid p50 at 1,000,000 <= 2x at 100,000": "missed", // 25 > 2 x 10
      "vector recall@10 >= 0.95, passage queries": "met",
      "batched ingest >= 5,000 chunks/s, embedding excluded": "met", // 10,000 / 1.5 s
      "concurrent single-chunk index >= 0.1x raw batched MergeInsert": "met", // 1,000 / 1 s vs 10,000 / 1 s
      "peak RSS of the store process <= 2 GB": "missed",
    });
    expect(rows.every((r) => r.at.startsWith("1,000,000") || r.at.startsWith("100,000 -> "))).toBe(true);
  });

  it("in a smaller run, checks at the largest checkpoint, names its size, and leaves growth unmeasured", () => {
    const rows = checkTargets([checkpoint(100_000, 10, 500)]);
    expect(rows.find((r) => r.target.startsWith("hybrid p50 <= 30"))).toMatchObject({ at: "100,000 (target is for 1,000,000)", verdict: "met" });
    expect(rows.find((r) => r.target.startsWith("hybrid p50 at"))!.verdict).toBe("not measured");
  });
});

describe("renderReport", () => {
  const result = (chunks: number, fragments: { all: number; small: number } | null): CheckpointResult => ({
    ...checkpoint(chunks, 10, 500),
    foldIn: { ms: 1_000, done: true, outcome: "every index covers every row", observation: { lanceRows: chunks, indexes: [], fragments, lastOptimize: null, running: 0 } },
    raw: { compactMs: 10, vectorIndexMs: 100, textIndexMs: 10, partitions: 1, diskMb: 10 },
    rawSearch: { vector: series(5, 6, 0.9), "vector, passages": series(5, 6, 0.96), "full text": series(3, 4) },
    indexes: [],
    storeDiskMb: 20,
    storeLog: [],
    elapsedMs: 60_000,
  });
  const run = {
    chunks: 300_000,
    embedder: "hash:384",
    dimension: 384,
    cores: 2,
    node: "v20",
    lanceThreads: { value: "8", source: "test" },
    load: { before: 0, after: 0 },
    wallMs: 60_000,
    dataDir: "/data",
    kept: false,
    queries: { short: 100, passages: 100 },
  };

  it("gives the store table's fragments (small ones) after fold-in at each checkpoint, and a dash where the store had no table", () => {
    const report = renderReport(run, [result(100_000, null), result(300_000, { all: 8, small: 5 })]);
    const maintenance = report.slice(report.indexOf("### Indexes and maintenance"));
    const header = maintenance.split("\n").find((line) => line.startsWith("| chunks"))!.split("|").map((c) => c.trim());
    const column = header.indexOf("store table fragments (small) after fold-in");
    expect(column).toBeGreaterThan(0);
    const cell = (chunks: string) => maintenance.split("\n").find((line) => line.startsWith(`| ${chunks} |`))!.split("|").map((c) => c.trim())[column];
    expect(cell("100,000")).toBe("—");
    expect(cell("300,000")).toBe("8 (5)");
  });
});
