export interface QueryMetrics {
  ndcg: number;
  recall: number;
  reciprocalRank: number;
}

/**
 * nDCG@k with linear graded gains and a log2(rank + 1) discount, the ideal
 * ranking built from every judged relevant document (also those no system
 * retrieved); recall@k over documents with gain > 0; reciprocal rank of the
 * first relevant document within k (0 when none). Unjudged documents count
 * as not relevant, as in trec_eval.
 */
export function scoreRanking(ranked: readonly string[], judged: ReadonlyMap<string, number>, k: number): QueryMetrics {
  const gains = [...judged.values()].filter((g) => g > 0);
  if (gains.length === 0) throw new Error("scoreRanking needs at least one relevant judgment; leave unjudged queries out of the evaluation");
  const top = ranked.slice(0, k);
  let dcg = 0;
  let found = 0;
  let reciprocalRank = 0;
  top.forEach((id, i) => {
    const gain = judged.get(id) ?? 0;
    if (gain <= 0) return;
    dcg += gain / Math.log2(i + 2);
    found++;
    if (reciprocalRank === 0) reciprocalRank = 1 / (i + 1);
  });
  const ideal = gains
    .sort((a, b) => b - a)
    .slice(0, k)
    .reduce((sum, gain, i) => sum + gain / Math.log2(i + 2), 0);
  return { ndcg: dcg / ideal, recall: found / gains.length, reciprocalRank };
}

export function meanMetrics(perQuery: readonly QueryMetrics[]): QueryMetrics {
  const n = perQuery.length;
  if (n === 0) throw new Error("no queries to average");
  const sum = (pick: (m: QueryMetrics) => number) => perQuery.reduce((s, m) => s + pick(m), 0) / n;
  return { ndcg: sum((m) => m.ndcg), recall: sum((m) => m.recall), reciprocalRank: sum((m) => m.reciprocalRank) };
}
