import { expect, test } from "vitest";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tmp = useTempDirs();

test("GC removes the vectors of 1,200 chunks deleted at once, more than one Lance filter may name", async () => {
  const store = await openStore(tmp());
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
