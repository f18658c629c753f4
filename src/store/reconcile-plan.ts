import type { RecordRow } from "./metadata.js";
import type { VectorKey } from "./vector-table.js";
import type { VerifyProblem } from "./types.js";

/** What SQLite and Lance disagree on, and what repair must do about it. Pure: computed from two listings. */
export interface ReconcilePlan {
  /** Lance rows no live record owns, or left from an older write: delete up to this generation. */
  orphans: VectorKey[];
  /** Committed records with more than one Lance row of their generation: re-write under a new generation. */
  duplicates: RecordRow[];
  /** Committed records whose generation has no Lance row: re-write. */
  missing: RecordRow[];
  pending: RecordRow[];
  tombstones: RecordRow[];
}

/**
 * Compares every Lance row with the records. `scanStart` guards against a
 * record committed after Lance was listed: its row may simply not have been
 * in the listing, so it is not reported missing.
 */
export function planReconcile(records: readonly RecordRow[], keys: readonly VectorKey[], scanStart: number): ReconcilePlan {
  const byId = new Map(records.map((r) => [r.chunk_id, r]));
  const rows = new Map<string, Map<number, number>>();
  for (const key of keys) {
    const gens = rows.get(key.chunkId) ?? new Map<number, number>();
    gens.set(key.generation, (gens.get(key.generation) ?? 0) + 1);
    rows.set(key.chunkId, gens);
  }
  const plan: ReconcilePlan = { orphans: [], duplicates: [], missing: [], pending: [], tombstones: [] };
  for (const [chunkId, gens] of rows) {
    const record = byId.get(chunkId);
    if (!record || record.status === "tombstone") {
      plan.orphans.push({ chunkId, generation: Math.max(...gens.keys()) });
      continue;
    }
    const stale = [...gens.keys()].filter((g) => g < record.generation);
    if (stale.length > 0) plan.orphans.push({ chunkId, generation: Math.max(...stale) });
    if ((gens.get(record.generation) ?? 0) > 1 && record.status === "committed") plan.duplicates.push(record);
  }
  for (const record of records) {
    if (record.status === "pending") plan.pending.push(record);
    else if (record.status === "tombstone") plan.tombstones.push(record);
    else if (record.state_changed_at < scanStart && !rows.get(record.chunk_id)?.has(record.generation)) plan.missing.push(record);
  }
  return plan;
}

const sample = (ids: readonly string[]): string[] => ids.slice(0, 5);

/** The plan as verify reports it: one entry per kind of problem found. */
export function describePlan(plan: ReconcilePlan, lexical: { missing: string[]; extra: number[] }): VerifyProblem[] {
  return [
    { kind: "orphan_or_stale_lance_rows", count: plan.orphans.length, sample: sample(plan.orphans.map((o) => o.chunkId)) },
    { kind: "duplicate_lance_rows", count: plan.duplicates.length, sample: sample(plan.duplicates.map((r) => r.chunk_id)) },
    { kind: "committed_without_vector", count: plan.missing.length, sample: sample(plan.missing.map((r) => r.chunk_id)) },
    { kind: "pending_records", count: plan.pending.length, sample: sample(plan.pending.map((r) => r.chunk_id)) },
    { kind: "tombstones_awaiting_gc", count: plan.tombstones.length, sample: sample(plan.tombstones.map((r) => r.chunk_id)) },
    {
      kind: "lexical_index_drift",
      count: lexical.missing.length + lexical.extra.length,
      sample: [...lexical.missing.slice(0, 5), ...lexical.extra.slice(0, 5).map((rowid) => `fts rowid ${rowid}`)],
    },
  ].filter((p) => p.count > 0);
}
