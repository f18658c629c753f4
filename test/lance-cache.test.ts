import { expect, test } from "vitest";
import { HashEmbedder } from "../src/embed/hash.js";
import { CACHE_BYTES_PER_INDEX_BYTE } from "../src/store/lance-connection.js";
import { ANN_TRAINING } from "../src/store/maintenance.js";
import { seeded, textOf, word } from "./helpers/rewrites.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tmp = useTempDirs();
const CHUNKS = 1_000;
const CYCLES = 30;
/** Low, so that a table this small reaches it within the test; the rule is the one a server runs with its 64 MiB. */
const FLOOR = 2 ** 20;

test("after every optimize Lance's caches hold at most twice what the live indexes take there plus a floor: the entries of the files each optimize replaces do not pile up, and searches still find their chunks", async () => {
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
    expect(cache.bytes).toBeLessThanOrEqual(2 * FLOOR + 2 * CACHE_BYTES_PER_INDEX_BYTE * cache.live_index_bytes!);
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

test("a retraining of the ANN index moves the table to fresh caches and frees the old ones at once: the replaced index's entries do not stay beside the new one's, nor wait for the garbage collector", async () => {
  const dir = tmp();
  const store = await openStore(dir, { annMinRows: 300, embedder: new HashEmbedder(384) });
  const write = (from: number, to: number) =>
    store.indexMany(Array.from({ length: to - from }, (_, i) => ({ chunk_id: `c${from + i}`, text: `${textOf(from + i, 0)} ${word(from + i)}` })));
  // Vector searches read every partition of the index into the caches.
  const searched = async () => {
    for (let i = 0; i < 20; i++) await store.search({ query: textOf(i * 17, 0), k: 10, mode: "vector" });
    return (await store.memory()).lance_cache.bytes;
  };
  await write(0, 2_000);
  await store.optimize();
  await store.settle();
  const before = await searched();
  await write(2_000, 2_500);
  // 2,500 rows are 1.25 times the 2,000 the index was trained on: this optimize retrains it.
  expect(await store.optimize()).toMatchObject({ ann_training: ANN_TRAINING.started, ann_trained_on_rows: 2_000 });
  await store.settle();
  expect(await store.optimize()).toMatchObject({ ann_trained_on_rows: 2_500 });
  // Both indexes side by side took 2.3 times the caches before the retraining (5.3 MB against 2.3); a fresh
  // connection takes 1.6 times, holding the new index, 1.25 times the rows, and every other index loaded whole.
  expect(await searched()).toBeLessThan(2 * before);
  // Closing a connection frees none of its caches; they went with a collection the renewal ran.
  expect((await store.memory()).lance_cache.closed_connections_bytes).toBe(0);
  await store.close();
});
