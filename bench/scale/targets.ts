/**
 * Issue 9's targets, checked against the measured checkpoints. A target
 * stated for 1M chunks is checked at the 1M checkpoint, or, in a smaller
 * run, at the largest one with the size named next to it.
 */
import { fraction, int, ms, ratio } from "../store/report.js";
import { perSecond, withoutEmbedding, type CheckpointResult } from "./results.js";

export const TARGET_CHUNKS = 1_000_000;
/** The growth target compares hybrid latency at 1M with this size. */
export const GROWTH_BASE_CHUNKS = 100_000;

export type Verdict = "met" | "missed" | "not measured";

export interface TargetRow {
  target: string;
  /** The checkpoint(s) it was checked at. */
  at: string;
  measured: string;
  verdict: Verdict;
}

export type TargetInput = Pick<CheckpointResult, "chunks" | "ingest" | "store" | "memory">;

const verdict = (ok: boolean): Verdict => (ok ? "met" : "missed");
const notMeasured = (target: string, why: string): TargetRow => ({ target, at: "—", measured: why, verdict: "not measured" });

export function checkTargets(results: readonly TargetInput[]): TargetRow[] {
  if (results.length === 0) return [];
  const top = results.find((r) => r.chunks === TARGET_CHUNKS) ?? results.reduce((a, b) => (b.chunks > a.chunks ? b : a));
  const at = top.chunks === TARGET_CHUNKS ? int(top.chunks) : `${int(top.chunks)} (target is for ${int(TARGET_CHUNKS)})`;
  const s = top.store;
  const hybrid = s.hybrid.latency;
  const rows: TargetRow[] = [
    {
      target: "hybrid p50 <= 2x vector p50",
      at,
      measured: `${ms(hybrid.p50)} ms vs ${ms(s.vector.latency.p50)} ms: ${ratio(hybrid.p50 / s.vector.latency.p50)}`,
      verdict: verdict(hybrid.p50 <= 2 * s.vector.latency.p50),
    },
    { target: "hybrid p50 <= 30 ms", at, measured: `${ms(hybrid.p50)} ms`, verdict: verdict(hybrid.p50 <= 30) },
    { target: "keyword p50 <= 15 ms", at, measured: `${ms(s.keyword.latency.p50)} ms`, verdict: verdict(s.keyword.latency.p50 <= 15) },
  ];
  for (const name of ["hybrid + filter 1%", "hybrid + filter 30%"] as const) {
    const p95 = s[name].latency.p95;
    rows.push({
      target: `${name} p95 <= 2x unfiltered hybrid p95`,
      at: int(top.chunks),
      measured: `${ms(p95)} ms vs ${ms(hybrid.p95)} ms: ${ratio(p95 / hybrid.p95)}`,
      verdict: verdict(p95 <= 2 * hybrid.p95),
    });
  }
  const base = results.find((r) => r.chunks === GROWTH_BASE_CHUNKS);
  const big = results.find((r) => r.chunks === TARGET_CHUNKS);
  const growth = `hybrid p50 at ${int(TARGET_CHUNKS)} <= 2x at ${int(GROWTH_BASE_CHUNKS)}`;
  if (base && big) {
    const [from, to] = [base.store.hybrid.latency.p50, big.store.hybrid.latency.p50];
    rows.push({ target: growth, at: `${int(GROWTH_BASE_CHUNKS)} -> ${int(TARGET_CHUNKS)}`, measured: `${ms(from)} -> ${ms(to)} ms: ${ratio(to / from)}`, verdict: verdict(to <= 2 * from) });
  } else {
    rows.push(notMeasured(growth, `needs checkpoints at ${int(GROWTH_BASE_CHUNKS)} and ${int(TARGET_CHUNKS)} chunks`));
  }
  const recall = s["vector, passages"].recall ?? Number.NaN;
  rows.push({
    target: "vector recall@10 >= 0.95, passage queries",
    at,
    measured: `${fraction(recall)} (short queries: ${fraction(s.vector.recall ?? Number.NaN)}, no target)`,
    verdict: verdict(recall >= 0.95),
  });
  const ingest = top.ingest;
  const batchedTarget = "batched ingest >= 5,000 chunks/s, embedding excluded";
  const singlesTarget = "concurrent single-chunk index >= 0.1x raw batched MergeInsert";
  if (ingest) {
    const rate = withoutEmbedding(ingest.batched);
    rows.push({ target: batchedTarget, at: `${at}, rows ${int(ingest.from)}-${int(ingest.to)}`, measured: `${int(rate)} chunks/s`, verdict: verdict(rate >= 5_000) });
    const raw = perSecond(ingest.raw.chunks, ingest.raw.ms);
    if (ingest.singles) {
      const singles = withoutEmbedding(ingest.singles);
      rows.push({
        target: singlesTarget,
        at,
        measured: `${int(singles)} vs ${int(raw)} chunks/s: ${ratio(singles / raw)} (${ingest.singlesConcurrency} in flight)`,
        verdict: verdict(singles >= 0.1 * raw),
      });
    } else {
      rows.push(notMeasured(singlesTarget, "no single-chunk writes in this segment"));
    }
  } else {
    const why = "the chunks were already in the kept --data-dir: nothing was ingested";
    rows.push(notMeasured(batchedTarget, why), notMeasured(singlesTarget, why));
  }
  rows.push({ target: "peak RSS of the store process <= 2 GB", at, measured: `${int(top.memory.storePeakRssMb)} MB`, verdict: verdict(top.memory.storePeakRssMb <= 2048) });
  return rows;
}
