import type { EvalCollection, EvalQuery } from "./collection.js";
import type { IndexReport, RunResult } from "./run.js";

export const REFERENCE_LABEL = "BM25 (reference)";

export interface CollectionOutcome {
  collection: EvalCollection;
  queries: readonly EvalQuery[];
  embedder: string;
  k: number;
  index: IndexReport;
  referenceBuildMs: number;
  /** One per store mode, labelled with the mode. */
  modes: RunResult[];
  reference: RunResult;
}

/** Markdown; the first `textColumns` columns are left-aligned, the numbers after them right-aligned. */
function table(header: readonly string[], rows: readonly (readonly string[])[], textColumns = 1): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, c) => (c < textColumns ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, c) => (c < textColumns ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

const metric = (x: number) => x.toFixed(3);
const signed = (x: number) => `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(3)}`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function find(outcome: CollectionOutcome, label: string): RunResult | undefined {
  return outcome.modes.find((m) => m.label === label);
}

/** Hybrid's nDCG minus that of the better of the other modes that ran, and minus the reference's. */
export function margins(outcome: CollectionOutcome): { overInputs: number | null; inputs: string[]; overReference: number | null; keywordOverReference: number | null } {
  const hybrid = find(outcome, "hybrid");
  const rivals = outcome.modes.filter((m) => m.label !== "hybrid");
  const keyword = find(outcome, "keyword");
  return {
    overInputs: hybrid && rivals.length > 0 ? hybrid.mean.ndcg - Math.max(...rivals.map((m) => m.mean.ndcg)) : null,
    inputs: rivals.map((m) => m.label),
    overReference: hybrid ? hybrid.mean.ndcg - outcome.reference.mean.ndcg : null,
    keywordOverReference: keyword ? keyword.mean.ndcg - outcome.reference.mean.ndcg : null,
  };
}

export function collectionReport(outcome: CollectionOutcome): string {
  const { collection, k, index } = outcome;
  const notes = [
    `${collection.documents.length.toLocaleString("en")} documents`,
    collection.skippedEmpty.length > 0 ? `${collection.skippedEmpty.length} empty ones left out (${collection.skippedEmpty.join(", ")})` : null,
    `${outcome.queries.length} queries`,
    collection.unjudgedQueries > 0 ? `${collection.unjudgedQueries} without relevance judgments left out` : null,
  ].filter(Boolean);
  const rows = [...outcome.modes, outcome.reference].map((r) => [r.label, metric(r.mean.ndcg), metric(r.mean.recall), metric(r.mean.reciprocalRank), r.meanMs.toFixed(2)]);
  const m = margins(outcome);
  const lines = [
    `### ${collection.name} (embedder ${outcome.embedder})`,
    "",
    `${notes.join(", ")}.`,
    `Indexed through the store in ${seconds(index.ms)} (${index.embedded} embedded, ${index.unchanged} unchanged); reference BM25 built in ${seconds(outcome.referenceBuildMs)}.`,
    "",
    table(["run", `nDCG@${k}`, `recall@${k}`, `MRR@${k}`, "ms/query"], rows),
    "",
  ];
  if (m.overInputs !== null) lines.push(`hybrid − max(${m.inputs.join(", ")}): ${signed(m.overInputs)} nDCG@${k}`);
  if (m.overReference !== null) lines.push(`hybrid − ${REFERENCE_LABEL}: ${signed(m.overReference)} nDCG@${k}`);
  if (m.keywordOverReference !== null) lines.push(`keyword − ${REFERENCE_LABEL}: ${signed(m.keywordOverReference)} nDCG@${k}`);
  return lines.join("\n");
}

/** One line per collection: the nDCG of every run and the margins, for a README. */
export function summaryReport(outcomes: readonly CollectionOutcome[]): string {
  const first = outcomes[0]!;
  const labels = [...first.modes.map((m) => m.label), REFERENCE_LABEL];
  const rows = outcomes.map((o) => {
    const m = margins(o);
    const ndcg = [...o.modes, o.reference].map((r) => metric(r.mean.ndcg));
    return [o.collection.name, ...ndcg, m.overInputs === null ? "–" : signed(m.overInputs), m.overReference === null ? "–" : signed(m.overReference)];
  });
  return [
    `### nDCG@${first.k} summary (embedder ${first.embedder})`,
    "",
    table(["collection", ...labels, "hybrid − best mode", "hybrid − reference"], rows),
  ].join("\n");
}

/**
 * Where fusion hurts: queries on which hybrid ranks worse than the best of
 * the other runs (modes and reference), worst first. This is what to look
 * at when tuning the fusion, on ../shared/eval only.
 */
export function lossReport(outcome: CollectionOutcome, count: number): string {
  const hybrid = find(outcome, "hybrid");
  if (!hybrid) return "";
  const rivals = [...outcome.modes.filter((m) => m.label !== "hybrid"), outcome.reference];
  const perQuery = outcome.queries.map((query, i) => {
    const best = rivals.reduce((b, r) => (r.perQuery[i]!.ndcg > b.perQuery[i]!.ndcg ? r : b));
    return { query, hybrid: hybrid.perQuery[i]!.ndcg, best, gap: hybrid.perQuery[i]!.ndcg - best.perQuery[i]!.ndcg, i };
  });
  const below = perQuery.filter((q) => q.gap < -1e-9);
  const above = perQuery.filter((q) => q.gap > 1e-9);
  const worst = below.sort((a, b) => a.gap - b.gap).slice(0, count);
  const shorten = (s: string) => (s.length > 70 ? `${s.slice(0, 67)}...` : s);
  const rows = worst.map((w) => [
    w.query.id,
    shorten(w.query.text.replace(/\s+/g, " ")),
    metric(w.hybrid),
    ...rivals.map((r) => metric(r.perQuery[w.i]!.ndcg)),
    signed(w.gap),
  ]);
  return [
    `hybrid vs the best other run per query: better on ${above.length}, equal on ${perQuery.length - above.length - below.length}, worse on ${below.length} of ${perQuery.length}.`,
    ...(rows.length > 0 ? ["", table(["query", "text", "hybrid", ...rivals.map((r) => r.label), "gap"], rows, 2)] : []),
  ].join("\n");
}
