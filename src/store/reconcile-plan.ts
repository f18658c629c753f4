import type { RecordRow } from "./metadata-store.js";
import type { VerifyProblem } from "./types.js";
import type { VectorKey } from "./vector-table.js";

/** What SQLite and Lance disagree on, and what repair must do about it. Pure: computed from two listings. */
export interface ReconcilePlan {
  /** Lance rows no version of a live chunk owns (deleted chunks, abandoned or stale writes): delete exactly these. */
  orphans: VectorKey[];
  /** Committed versions with more than one Lance row: re-write under a new generation. */
  duplicates: RecordRow[];
  /** Committed versions without a Lance row: re-write. */
  missing: RecordRow[];
  pending: RecordRow[];
  tombstones: RecordRow[];
  /** Chunks whose superseded rows GC has yet to delete (never served; GC removes them). */
  superseded: RecordRow[];
}

/**
 * Sorts every Lance row against the records. A live chunk may own two rows:
 * its committed version's and its pending version's; rows up to its
 * `gc_upto` are superseded versions waiting for GC; anything else is an
 * orphan. `scanStart` guards against a version committed after Lance was
 * listed: its row may simply not have been in the listing.
 */
export function planReconcile(records: readonly RecordRow[], keys: readonly VectorKey[], scanStart: number): ReconcilePlan {
  const byId = new Map(records.map((r) => [r.chunk_id, r]));
  const rows = new Map<string, Map<number, number>>();
  for (const key of keys) {
    const gens = rows.get(key.chunkId) ?? new Map<number, number>();
    gens.set(key.generation, (gens.get(key.generation) ?? 0) + 1);
    rows.set(key.chunkId, gens);
  }
  const plan: ReconcilePlan = { orphans: [], duplicates: [], missing: [], pending: [], tombstones: [], superseded: [] };
  for (const [chunkId, gens] of rows) {
    const record = byId.get(chunkId);
    for (const generation of gens.keys()) {
      if (record && isOwned(record, generation)) continue;
      plan.orphans.push({ chunkId, generation });
    }
    if (record?.committed_generation != null && (gens.get(record.committed_generation) ?? 0) > 1) plan.duplicates.push(record);
  }
  for (const record of records) {
    if (record.status === "pending") plan.pending.push(record);
    if (record.status === "tombstone") plan.tombstones.push(record);
    if (record.status !== "tombstone" && record.gc_upto !== null) plan.superseded.push(record);
    const committed = record.committed_generation;
    if (committed !== null && record.state_changed_at < scanStart && !rows.get(record.chunk_id)?.has(committed)) plan.missing.push(record);
  }
  return plan;
}

/** Whether a Lance row of this generation belongs to the chunk: one of its two versions, or a superseded one awaiting GC. */
function isOwned(record: RecordRow, generation: number): boolean {
  if (record.status === "tombstone") return false;
  if (generation === record.committed_generation) return true;
  if (record.status === "pending" && generation === record.generation) return true;
  return record.gc_upto !== null && generation <= record.gc_upto;
}

const sample = (ids: readonly string[]): string[] => ids.slice(0, 5);

/** The plan as verify reports it: one entry per kind of problem found. */
export function describePlan(plan: ReconcilePlan): VerifyProblem[] {
  return [
    { kind: "orphan_or_stale_lance_rows", count: plan.orphans.length, sample: sample(plan.orphans.map((o) => o.chunkId)) },
    { kind: "duplicate_lance_rows", count: plan.duplicates.length, sample: sample(plan.duplicates.map((r) => r.chunk_id)) },
    { kind: "committed_without_vector", count: plan.missing.length, sample: sample(plan.missing.map((r) => r.chunk_id)) },
    { kind: "pending_records", count: plan.pending.length, sample: sample(plan.pending.map((r) => r.chunk_id)) },
    { kind: "tombstones_awaiting_gc", count: plan.tombstones.length, sample: sample(plan.tombstones.map((r) => r.chunk_id)) },
    { kind: "superseded_rows_awaiting_gc", count: plan.superseded.length, sample: sample(plan.superseded.map((r) => r.chunk_id)) },
  ].filter((p) => p.count > 0);
}
