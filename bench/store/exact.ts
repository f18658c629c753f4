/**
 * Exact nearest neighbours by a plain scan over one Float32Array: the
 * ground truth for recall and the "no database at all" latency reference.
 * Vectors are unit length, so the dot product is the cosine similarity.
 */
export class ExactScan {
  constructor(
    private readonly matrix: Float32Array,
    private readonly dimension: number,
    readonly rows: number,
  ) {}

  score(query: Float32Array, row: number): number {
    const d = this.dimension;
    const base = row * d;
    let s = 0;
    for (let j = 0; j < d; j++) s += query[j]! * this.matrix[base + j]!;
    return s;
  }

  /** Row numbers of the `k` best rows, best first, and their scores. */
  topK(query: Float32Array, k: number): { rows: number[]; scores: number[] } {
    const rows: number[] = [];
    const scores: number[] = [];
    for (let r = 0; r < this.rows; r++) {
      const s = this.score(query, r);
      if (scores.length === k && s <= scores[k - 1]!) continue;
      let at = scores.length === k ? k - 1 : scores.length;
      while (at > 0 && scores[at - 1]! < s) {
        scores[at] = scores[at - 1]!;
        rows[at] = rows[at - 1]!;
        at--;
      }
      scores[at] = s;
      rows[at] = r;
    }
    return { rows, scores };
  }

  /** Fraction of the true top k found among `found` (see recallAtK). */
  recall(query: Float32Array, truth: { scores: number[] }, found: readonly number[]): number {
    return recallAtK(truth.scores, found.slice(0, truth.scores.length).map((row) => this.score(query, row)));
  }
}

/**
 * Fraction of the true top k (`truthScores`, best first) matched by the
 * first k found results, given their exact scores. A found result counts
 * when it scores at least as well as the k-th true neighbour, so a tie at
 * the boundary is not charged as a miss.
 */
export function recallAtK(truthScores: readonly number[], foundScores: readonly number[]): number {
  const k = truthScores.length;
  const bar = truthScores[k - 1]! - 1e-5;
  const hits = foundScores.slice(0, k).filter((score) => score >= bar).length;
  return Math.min(hits, k) / k;
}
