import { describe, expect, test } from "vitest";
import type { RecordRow } from "../src/store/metadata-store.js";
import { describePlan, planReconcile } from "../src/store/reconcile-plan.js";

const SCAN_START = 1_000_000;

function record(chunk_id: string, fields: Partial<RecordRow>): RecordRow {
  return { chunk_id, status: "committed", generation: 1, vector_committed: 1, model: "hash:64", state_changed_at: SCAN_START - 10, committed_generation: 1, gc_upto: null, ...fields };
}

const key = (chunkId: string, generation: number) => ({ chunkId, generation });

describe("planReconcile sorts every Lance row against the records", () => {
  test("a committed chunk with its one row is clean", () => {
    const plan = planReconcile([record("a", { generation: 4, committed_generation: 4 })], [key("a", 4)], SCAN_START);
    expect(describePlan(plan)).toEqual([]);
  });

  test("a chunk being rewritten owns two rows: its committed and its pending version", () => {
    const rewriting = record("a", { status: "pending", generation: 9, committed_generation: 4, vector_committed: 0 });
    const plan = planReconcile([rewriting], [key("a", 4), key("a", 9)], SCAN_START);
    expect(plan.orphans).toEqual([]);
    expect(plan.pending).toEqual([rewriting]);
  });

  test("rows up to gc_upto are superseded versions awaiting GC, not orphans; a row past it that no version owns is an orphan", () => {
    const rewritten = record("a", { generation: 12, committed_generation: 12, gc_upto: 9 });
    const plan = planReconcile([rewritten], [key("a", 4), key("a", 9), key("a", 12), key("a", 11)], SCAN_START);
    expect(plan.superseded).toEqual([rewritten]);
    // 11 is above gc_upto and is neither version: an abandoned write's row.
    expect(plan.orphans).toEqual([key("a", 11)]);
  });

  test("a stale row between the committed and the pending version is deleted exactly, never the versions around it", () => {
    const plan = planReconcile([record("a", { status: "pending", generation: 12, committed_generation: 4 })], [key("a", 4), key("a", 9), key("a", 12)], SCAN_START);
    expect(plan.orphans).toEqual([key("a", 9)]);
  });

  test("rows of deleted chunks and of chunks no record knows are orphans; tombstones are reported", () => {
    const deleted = record("d", { status: "tombstone", generation: 5, committed_generation: null });
    const plan = planReconcile([deleted], [key("d", 5), key("ghost", 1)], SCAN_START);
    expect(plan.orphans).toEqual([key("d", 5), key("ghost", 1)]);
    expect(plan.tombstones).toEqual([deleted]);
  });

  test("a committed version with two rows is a duplicate, with none a missing vector, unless it was committed after Lance was listed", () => {
    const doubled = record("a", { generation: 3, committed_generation: 3 });
    const lost = record("b", { generation: 6, committed_generation: 6 });
    const late = record("c", { generation: 7, committed_generation: 7, state_changed_at: SCAN_START + 5 });
    const plan = planReconcile([doubled, lost, late], [key("a", 3), key("a", 3)], SCAN_START);
    expect(plan.duplicates).toEqual([doubled]);
    expect(plan.missing).toEqual([lost]);
    expect(describePlan(plan).map((p) => [p.kind, p.count])).toEqual([
      ["duplicate_lance_rows", 1],
      ["committed_without_vector", 1],
    ]);
  });

  test("each listing may come in any order, and rows of chunks no record knows are orphans wherever their ids sort, once per generation", () => {
    const records = [record("m", { generation: 2, committed_generation: 2 }), record("c", { generation: 5, committed_generation: 5 }), record("x", { generation: 1, committed_generation: 1 })];
    const keys = [key("z", 1), key("x", 1), key("a", 3), key("m", 2), key("d", 1), key("c", 5), key("a", 3), key("m", 2), key("a", 1)];
    const plan = planReconcile(records, keys, SCAN_START);
    expect(plan.orphans).toEqual([key("a", 1), key("a", 3), key("d", 1), key("z", 1)]);
    expect(plan.duplicates.map((r) => r.chunk_id)).toEqual(["m"]);
    expect(plan.missing).toEqual([]);
  });

  test("a rewrite in flight whose committed version lost its row is missing too: search could not serve it", () => {
    const plan = planReconcile([record("a", { status: "pending", generation: 9, committed_generation: 4 })], [key("a", 9)], SCAN_START);
    expect(plan.missing.map((r) => r.chunk_id)).toEqual(["a"]);
  });
});
