import { describe, expect, test } from "vitest";
import type { FaultHooks } from "../src/store/store.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tmp = useTempDirs();

class InjectedFault extends Error {}

/** Throws at `point` on its (skip + 1)-th call only. */
function failOnce(point: keyof FaultHooks, skip = 0): { faults: FaultHooks } {
  let calls = 0;
  return {
    faults: {
      [point]: () => {
        if (calls++ !== skip) return;
        throw new InjectedFault(`injected fault at ${point}`);
      },
    },
  };
}

/** Reopens the store as a restarted server would, runs recovery and GC, and checks I1-I4. */
async function restartAndCheck(dir: string, expectations: { present: Record<string, string>; absent: string[] }): Promise<void> {
  const store = await openStore(dir);
  await store.recover({ reconcile: true });
  await store.gc();
  const status = await store.status();
  expect(status.counts.pending).toBe(0);
  expect(status.counts.tombstone).toBe(0);
  expect(await store.verify()).toMatchObject({ ok: true, problems: [] });
  for (const [id, text] of Object.entries(expectations.present)) {
    expect((await store.get([id]))[0]).toMatchObject({ text, status: "committed" });
    const { results } = await store.search({ query: text, k: 3 });
    expect(results[0]).toMatchObject({ chunk_id: id, text });
  }
  for (const id of expectations.absent) {
    expect(await store.get([id])).toEqual([]);
  }
  const { results } = await store.search({ query: "fault", k: 50 });
  expect(new Set(results.map((r) => r.chunk_id)).size).toBe(results.length);
  await store.close();
}

describe("a fault at each phase boundary leaves a store that recovery makes whole", () => {
  test("after step 1 (pending written, Lance untouched)", async () => {
    const dir = tmp();
    const store = await openStore(dir, failOnce("afterPending", 1));
    await store.index({ text: "fault test kept chunk", chunk_id: "kept" });
    await expect(store.index({ text: "fault test new chunk", chunk_id: "new" })).rejects.toThrow(InjectedFault);
    await expect(store.index({ text: "fault test kept chunk, rewritten", chunk_id: "kept" })).resolves.toMatchObject({ status: "committed" });
    // The pending chunk is invisible until recovery commits it.
    expect((await store.search({ query: "fault test new chunk", k: 5 })).results.map((r) => r.chunk_id)).not.toContain("new");
    await store.close();
    await restartAndCheck(dir, { present: { new: "fault test new chunk", kept: "fault test kept chunk, rewritten" }, absent: [] });
  });

  test("after step 2 (vector in Lance, record still pending)", async () => {
    const dir = tmp();
    const store = await openStore(dir, failOnce("afterLanceWrite"));
    await expect(store.index({ text: "fault test vector written", chunk_id: "v" })).rejects.toThrow(/saved as pending and recovery will retry/);
    expect((await store.search({ query: "fault test vector written", k: 5 })).results).toEqual([]);
    expect((await store.status(["v"])).chunk_states?.[0]).toMatchObject({ status: "pending", vector_committed: false });
    await store.close();
    await restartAndCheck(dir, { present: { v: "fault test vector written" }, absent: [] });
  });

  test("a replay of writes whose vectors reached Lance adds no second row for them, whether their generations lie close or far apart", async () => {
    // The first and the last of 22 writes fail after step 2: recovery replays generations 1 and 22 together.
    let calls = 0;
    const store = await openStore(tmp(), {
      faults: {
        afterLanceWrite: () => {
          if (++calls === 1 || calls === 22) throw new InjectedFault("injected fault at afterLanceWrite");
        },
      },
    });
    const chunks = ["first", "second", "third"].map((word) => ({ text: `fault test replayed ${word}`, chunk_id: word }));
    await expect(store.indexMany(chunks)).rejects.toThrow(/saved as pending and recovery will retry/);
    for (let i = 0; i < 20; i++) await store.index({ text: `fault test between ${i}`, chunk_id: `between${i}` });
    await expect(store.index({ text: "fault test replayed last", chunk_id: "last" })).rejects.toThrow(/saved as pending and recovery will retry/);
    expect(await store.recover()).toMatchObject({ ok: true, redriven: 4 });
    // Without reconcile, which would repair a duplicate before verify could see it.
    expect(await store.verify()).toMatchObject({ ok: true, problems: [] });
    expect((await store.status()).lance?.rows).toBe(24);
    await store.close();
  });

  test("inside step 3 (the commit transaction rolls back)", async () => {
    const dir = tmp();
    const store = await openStore(dir);
    await store.index({ text: "fault test original text", chunk_id: "u" });
    await store.close();
    const faulty = await openStore(dir, failOnce("duringCommit"));
    await expect(faulty.index({ text: "fault test updated text", chunk_id: "u" })).rejects.toThrow(/injected fault at duringCommit/);
    // Lance now holds both vectors, SQLite the new text as pending: the committed original keeps being served, never the new text.
    for (const query of ["fault test original text", "fault test updated text"]) {
      const { results } = await faulty.search({ query, k: 5 });
      expect(results.map((r) => [r.chunk_id, r.text])).toEqual([["u", "fault test original text"]]);
    }
    await faulty.close();
    await restartAndCheck(dir, { present: { u: "fault test updated text" }, absent: [] });
  });

  test("inside GC, between the Lance delete and the SQLite delete", async () => {
    const dir = tmp();
    const store = await openStore(dir, failOnce("betweenGcDeletes"));
    await store.indexMany([
      { text: "fault test doomed one", chunk_id: "d1" },
      { text: "fault test doomed two", chunk_id: "d2" },
      { text: "fault test survivor", chunk_id: "s" },
    ]);
    await store.delete({ chunk_ids: ["d1", "d2"] });
    await expect(store.gc()).rejects.toThrow(InjectedFault);
    const status = await store.status();
    expect(status.counts.tombstone).toBe(2);
    expect(status.lance?.rows).toBe(1);
    expect(status.last_gc).toMatchObject({ ok: false, error: "injected fault at betweenGcDeletes" });
    expect((await store.search({ query: "fault test doomed", k: 5 })).results.map((r) => r.chunk_id)).toEqual(["s"]);
    await store.close();
    await restartAndCheck(dir, { present: { s: "fault test survivor" }, absent: ["d1", "d2"] });
  });

  test("a Lance write that fails outright (table files gone) keeps the chunk pending, then recovers", async () => {
    const dir = tmp();
    const { renameSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const table = join(dir, "lance", "chunks.lance");
    let armed = false;
    const store = await openStore(dir, {
      faults: {
        afterPending: () => {
          if (armed) renameSync(table, `${table}.away`);
        },
      },
    });
    await store.index({ text: "fault test before the outage", chunk_id: "b" });
    armed = true;
    await expect(store.index({ text: "fault test lance down", chunk_id: "l" })).rejects.toThrow(/Writing the vectors failed.*saved as pending/);
    await store.close();
    // The failed append may have left its data file in a new, manifest-less folder of that name.
    rmSync(table, { recursive: true, force: true });
    renameSync(`${table}.away`, table);
    await restartAndCheck(dir, { present: { l: "fault test lance down", b: "fault test before the outage" }, absent: [] });
  });
});
