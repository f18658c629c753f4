/** One ranked list entering fusion: ids best first, with that retriever's own scores. */
export interface RankedList {
  ids: readonly string[];
  scores: readonly number[];
  weight: number;
}

export interface Fused {
  id: string;
  score: number;
}

/** RRF's damping constant: the value from Cormack et al. that most systems keep. */
export const RRF_K = 60;

/**
 * Weighted reciprocal rank fusion: each list adds weight / (RRF_K + rank)
 * for the ids it holds. Ranks, not raw scores, so BM25 and cosine need no
 * common scale.
 */
export function reciprocalRankFusion(lists: readonly RankedList[]): Fused[] {
  const scores = new Map<string, number>();
  for (const list of lists) {
    list.ids.forEach((id, rank) => scores.set(id, (scores.get(id) ?? 0) + list.weight / (RRF_K + rank + 1)));
  }
  return [...scores].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score);
}
