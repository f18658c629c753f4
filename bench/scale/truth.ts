/**
 * Exact top-k of a fixed set of queries over a table that only grows,
 * kept up to date batch by batch as rows are ingested: at any checkpoint
 * the ground truth for recall is at hand without holding every vector
 * (1M x 384 floats would be 1.5 GB in this process) or scanning them again.
 */
import { ExactScan, recallAtK } from "../store/exact.js";

export interface TopK {
  /** Row numbers, best first. */
  rows: number[];
  scores: number[];
}

/**
 * The best `k` of two best-first lists. On equal scores the earlier row
 * (from `a`, which holds the lower row numbers) stays ahead, as a single
 * scan over all rows would keep it.
 */
export function mergeTopK(a: TopK, b: TopK, k: number): TopK {
  const out: TopK = { rows: [], scores: [] };
  let i = 0;
  let j = 0;
  while (out.rows.length < k && (i < a.rows.length || j < b.rows.length)) {
    const fromA = j >= b.rows.length || (i < a.rows.length && a.scores[i]! >= b.scores[j]!);
    const [list, at] = fromA ? [a, i++] : [b, j++];
    out.rows.push(list.rows[at]!);
    out.scores.push(list.scores[at]!);
  }
  return out;
}

export class RunningTopK {
  private best: TopK[];
  private seen = 0;

  constructor(
    readonly queries: readonly Float32Array[],
    private readonly dimension: number,
    private readonly k: number,
  ) {
    this.best = queries.map(() => ({ rows: [], scores: [] }));
  }

  /** Rows covered so far: every row below this number has been added. */
  get rows(): number {
    return this.seen;
  }

  /** Adds rows `from`.. (as many as `vectors` holds, row-major); rows must come in order, each once. */
  add(from: number, vectors: Float32Array): void {
    if (from !== this.seen) throw new Error(`rows must be added in order: expected row ${this.seen}, got ${from}`);
    const count = vectors.length / this.dimension;
    const scan = new ExactScan(vectors, this.dimension, count);
    this.best = this.best.map((best, q) => {
      const top = scan.topK(this.queries[q]!, this.k);
      return mergeTopK(best, { rows: top.rows.map((r) => r + from), scores: top.scores }, this.k);
    });
    this.seen += count;
  }

  /** The exact top k of query `q` over the rows added so far. */
  truth(q: number): TopK {
    return this.best[q]!;
  }
}

/** Mean recall@k of `found` (row numbers per query, best first), scoring each found row with `score`. */
export function meanRecall(truths: readonly TopK[], found: readonly (readonly number[])[], score: (query: number, row: number) => number): number {
  const total = truths.reduce((sum, truth, q) => sum + recallAtK(truth.scores, found[q]!.slice(0, truth.scores.length).map((row) => score(q, row))), 0);
  return total / truths.length;
}
