import { expect, test } from "vitest";
import { seeded, textOf, word } from "./helpers/rewrites.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tmp = useTempDirs();
const CHUNKS = 1_000;
const CYCLES = 30;
/** Low, so that a table this small reaches it within the test; the rule is the one a server runs with its 64 MiB. */
const FLOOR = 2 ** 20;

test("after every optimize Lance's caches hold at most twice the live index files plus a floor: the entries of the files each optimize replaces do not pile up, and searches still find their chunks", async () => {
  const dir = tmp();
  const store = await openStore(dir, { cacheRenewalFloorBytes: FLOOR });
  await store.indexMany(Array.from({ length: CHUNKS }, (_, i) => ({ chunk_id: `c${i}`, text: `${textOf(i, 0)} ${"filler words about animals ".repeat(8)}` })));
  const random = seeded(11);
  let renewals = 0;
  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    const rewritten = [...new Set(Array.from({ length: 20 }, () => Math.floor(random() * CHUNKS)))];
    await store.indexMany(rewritten.map((i) => ({ chunk_id: `c${i}`, text: `${textOf(i, cycle)} ${"more words ".repeat(8)}` })));
    const report = await store.optimize();
    if (report.renewed_caches) renewals++;
    // Without renewals the caches held 75 MiB after 30 cycles, against ~8 MiB of index files. The floor counts twice
    // here: this reading adds the connection that opens tables and what the table read since the optimize decided.
    const cache = (await store.memory()).lance_cache;
    expect(cache.live_index_bytes).toBeGreaterThan(0);
    expect(cache.bytes).toBeLessThanOrEqual(2 * FLOOR + 2 * cache.live_index_bytes!);
    // Searches read the new index files into the caches, as a server's searches do between optimizes.
    const i = Math.floor(random() * CHUNKS);
    const found = await store.search({ query: `${word(i)} enclosure ${i}`, k: 30, mode: "keyword" });
    expect(found.results.map((h) => h.chunk_id)).toContain(`c${i}`);
    expect((await store.search({ query: textOf(i, 0), k: 5, mode: "vector" })).results).toHaveLength(5);
  }
  expect(renewals).toBeGreaterThan(0);
  await store.gc();
  expect(await store.verify()).toMatchObject({ ok: true });
  await store.close();
});
