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
 *
 * Both listings are sorted by chunk id and walked side by side, so nothing
 * is held per chunk beyond the listings themselves. Listings of one slice
 * of the chunk ids at a time (verify.ts) add their findings to `plan`.
 */
export function planReconcile(records: readonly RecordRow[], keys: readonly VectorKey[], scanStart: number, plan: ReconcilePlan = emptyPlan()): ReconcilePlan {
  const sortedRecords = [...records].sort((a, b) => byChunkId(a.chunk_id, b.chunk_id));
  const sortedKeys = [...keys].sort((a, b) => byChunkId(a.chunkId, b.chunkId) || a.generation - b.generation);
  let next = 0;
  // Rows of one chunk: each generation no version owns is one orphan, however many rows it has (deleteExactly takes them all).
  const sortRows = (chunkId: string, record: RecordRow | undefined): number => {
    let committedRows = 0;
    for (let previous = -1; next < sortedKeys.length && sortedKeys[next]!.chunkId === chunkId; next++) {
      const key = sortedKeys[next]!;
      if (record && key.generation === record.committed_generation) committedRows++;
      if (key.generation !== previous && !(record && isOwned(record, key.generation))) plan.orphans.push(key);
      previous = key.generation;
    }
    return committedRows;
  };
  // Rows of chunks no record knows, up to `chunkId` (all that are left without one).
  const sortUnknownBefore = (chunkId?: string): void => {
    while (next < sortedKeys.length && (chunkId === undefined || sortedKeys[next]!.chunkId < chunkId)) sortRows(sortedKeys[next]!.chunkId, undefined);
  };
  for (const record of sortedRecords) {
    sortUnknownBefore(record.chunk_id);
    const committedRows = sortRows(record.chunk_id, record);
    if (record.status === "pending") plan.pending.push(record);
    if (record.status === "tombstone") plan.tombstones.push(record);
    if (record.status !== "tombstone" && record.gc_upto !== null) plan.superseded.push(record);
    if (record.committed_generation === null) continue;
    if (committedRows > 1) plan.duplicates.push(record);
    if (committedRows === 0 && record.state_changed_at < scanStart) plan.missing.push(record);
  }
  sortUnknownBefore();
  return plan;
}

export const emptyPlan = (): ReconcilePlan => ({ orphans: [], duplicates: [], missing: [], pending: [], tombstones: [], superseded: [] });

/** Code-unit order, the same on both sides of the walk (localeCompare would not be). */
const byChunkId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

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
