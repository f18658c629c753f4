import { cpSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";
import { loadMigrations } from "../src/store/migrate.js";
import type { SearchMode } from "../src/store/schemas.js";
import type { Store } from "../src/store/store.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tmp = useTempDirs();
const MODES: SearchMode[] = ["hybrid", "vector", "keyword"];
/** A data directory written by 0.1.0 (schema V005); its README says what it holds. */
const LEGACY_STORE = fileURLToPath(new URL("./fixtures/store-v005/", import.meta.url));

async function ids(store: Store, query: string, mode: SearchMode, extra: Record<string, unknown> = {}): Promise<string[]> {
  return (await store.search({ query, k: 20, mode, ...extra })).results.map((r) => r.chunk_id).sort();
}

test("a store written by 0.1.0 (schema V005) upgrades on open, serves what it had committed, and recovery finishes what it left pending", async () => {
  const dir = tmp();
  cpSync(LEGACY_STORE, dir, { recursive: true });
  const store = await openStore(dir);

  // Before recovery: the committed chunks are served as they were; a write cut short has no committed version to show.
  for (const mode of MODES) {
    expect(await ids(store, "The zoo enclosure number", mode, { collection: "default" }), mode).toEqual(expect.arrayContaining(["zoo#2", "zoo#3"]));
    expect(await ids(store, "The zoo enclosure number", mode), mode).not.toContain("zoo#4");
    expect(await ids(store, "A wild animal was seen near camp", mode, { collection: "field", filter: { tags: "wild" } }), mode).toEqual(
      ["wild#0", "wild#1", "wild#2", "wild#3", "wild#4"],
    );
    expect((await store.search({ query: "albatross seabird aviary", k: 1, mode })).results[0]).toMatchObject({
      chunk_id: "zoo#0",
      text: "The albatross moved to the seabird aviary.",
    });
  }
  const before = await store.status(["zoo#1", "loose", "zoo#4"]);
  expect(before.counts).toEqual({ pending: 2, committed: 8, tombstone: 1 });
  expect(before.chunk_states?.map((c) => [c.chunk_id, c.status, c.committed_generation])).toEqual([
    ["zoo#1", "pending", null],
    ["loose", "pending", null],
    ["zoo#4", "tombstone", null],
  ]);
  expect(await store.get(["zoo#1"])).toMatchObject([{ status: "pending", text: "The penguin colony grew to forty birds." }]);

  await store.recover({ reconcile: true });
  await store.gc();
  const after = await store.status();
  expect(after.counts).toEqual({ pending: 0, committed: 10, tombstone: 0 });
  for (const mode of MODES) {
    expect((await store.search({ query: "penguin colony forty birds", k: 1, mode })).results[0], mode).toMatchObject({ chunk_id: "zoo#1" });
    expect((await store.search({ query: "unfinished note capybara", k: 1, mode })).results[0], mode).toMatchObject({ chunk_id: "loose" });
  }
  const verify = await store.verify();
  expect(verify).toMatchObject({ ok: true, problems: [] });
  expect(verify.checked.lance_rows).toBe(10);
  await store.close();

  // Reopened: every migration is recorded once, and nothing is left to do.
  const again = await openStore(dir);
  expect((await again.verify()).ok).toBe(true);
  await again.close();
  expect(loadMigrations().length).toBeGreaterThanOrEqual(6);
});
