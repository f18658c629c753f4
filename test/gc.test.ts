import { expect, test } from "vitest";
import { storeBackends } from "./helpers/backends.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";
import { signal } from "./helpers/signal.js";

const tmp = useTempDirs();

test.each(storeBackends())("GC removes the vectors of 1,200 chunks deleted at once, more than one Lance filter may name ($name)", async (backend) => {
  const store = await openStore(tmp(), {}, backend);
  const ids = Array.from({ length: 1200 }, (_, i) => `big${i}`);
  await store.indexMany([...ids.map((id) => ({ chunk_id: id, text: `bulk deleted chunk ${id}` })), { chunk_id: "kept", text: "the one that stays" }]);
  await store.delete({ chunk_ids: ids });
  expect(await store.gc()).toMatchObject({ ok: true, removed: 1200 });
  const status = await store.status();
  expect(status.counts).toMatchObject({ committed: 1, tombstone: 0 });
  expect(status.lance?.rows).toBe(1);
  expect(await store.verify()).toMatchObject({ ok: true });
  await store.close();
});

test("a GC run takes on the claims there were when it started, so writes that raise new ones during every batch cannot keep it from ending", async () => {
  let batches = 0;
  let feeding = true;
  let store!: Awaited<ReturnType<typeof openStore>>;
  // Bounded, so that a GC that chased new claims would still end here and fail the counts below rather than hang.
  const MAX_FEEDS = 5;
  const faults = {
    betweenGcDeletes: async () => {
      batches++;
      if (!feeding || batches > MAX_FEEDS) return;
      // During the batch, as under load: a chunk deleted and another rewritten, each a new claim.
      await store.delete({ chunk_ids: [`gone${batches}`] });
      await store.index({ chunk_id: `busy${batches}`, text: `rewritten during batch ${batches}` });
    },
  };
  store = await openStore(tmp(), { faults });
  const ids = Array.from({ length: MAX_FEEDS + 1 }, (_, i) => i);
  await store.indexMany(ids.flatMap((i) => [{ chunk_id: `gone${i}`, text: `deleted later ${i}` }, { chunk_id: `busy${i}`, text: `first version ${i}` }]));
  await store.index({ chunk_id: "busy0", text: "second version" });
  await store.delete({ chunk_ids: ["gone0"] });

  // One tombstone and one superseded version when the run starts: one batch of each, whatever arrives meanwhile.
  expect(await store.gc()).toMatchObject({ ok: true, removed: 1 });
  expect(batches).toBe(2);
  // What the second batch raised waits for the next run, which takes it on.
  feeding = false;
  const raised = await store.status();
  expect(raised.tombstones_awaiting_gc).toBe(2);
  expect(raised.superseded_awaiting_gc).toBe(1);
  expect(await store.gc()).toMatchObject({ ok: true, removed: 2, superseded: 1 });
  expect(await store.status()).toMatchObject({ tombstones_awaiting_gc: 0, superseded_awaiting_gc: 0 });
  expect(await store.verify()).toMatchObject({ ok: true });
  await store.close();
});

test("GC requests made while a GC waits for its turn join it, so deletes under load queue one run, not one each", async () => {
  const { fired: inside, fire: entered } = signal();
  const { fired: released, fire: release } = signal();
  const store = await openStore(tmp(), {
    faults: {
      betweenGcDeletes: async () => {
        entered();
        await released;
      },
    },
  });
  await store.indexMany(["a", "b", "c"].map((id) => ({ chunk_id: id, text: `chunk ${id}` })));
  await store.delete({ chunk_ids: ["a"] });
  const first = store.gc();
  await inside;
  // The first run is in its batch; these wait for their turn, and b's tombstone is raised meanwhile.
  const later = [store.gc(), store.gc(), store.gc()];
  await store.delete({ chunk_ids: ["b"] });
  release();
  const [one, ...rest] = await Promise.all([first, ...later]);
  expect(one).toMatchObject({ ok: true, removed: 1 });
  expect(rest[0]).not.toBe(one);
  expect(rest[1]).toBe(rest[0]);
  expect(rest[2]).toBe(rest[0]);
  expect(rest[0]).toMatchObject({ ok: true, removed: 1 });
  expect(await store.status()).toMatchObject({ tombstones_awaiting_gc: 0 });
  await store.close();
});
