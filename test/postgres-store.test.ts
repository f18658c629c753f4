import { expect, test } from "vitest";
import { POSTGRES } from "./helpers/backends.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tmp = useTempDirs();

test("smoke", async () => {
  const dir = tmp();
  const store = await openStore(dir, {}, POSTGRES);
  await store.indexMany([{ chunk_id: "a", text: "otters sleep holding hands", metadata: { lang: "en" } }, { chunk_id: "b", text: "beavers build dams" }]);
  const { results } = await store.search({ query: "otters", k: 5, filter: { lang: "en" } });
  expect(results.map((r) => r.chunk_id)).toEqual(["a"]);
  await store.delete({ chunk_ids: ["a"] });
  expect(await store.gc()).toMatchObject({ ok: true });
  expect(await store.verify()).toMatchObject({ ok: true });
  await store.close();
});
