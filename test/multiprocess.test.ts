import { expect, test } from "vitest";
import { collect, spawnTs } from "./helpers/processes.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";
import { ExpectedState } from "./helpers/worker-log.js";

const tmp = useTempDirs();
const OPS = 150;

/**
 * I5: processes writing and deleting side by side on one data directory,
 * as several MCP clients' stdio servers do, including on the same chunk
 * ids. Nothing is lost, nothing is duplicated, nobody sees "database is
 * locked", and a third process reading meanwhile sees each chunk at most
 * once.
 */
test("two processes writing and deleting on one data directory keep I1-I5", async () => {
  const dir = tmp();
  // Create the store first so both workers open an existing, bound directory.
  const first = await openStore(dir);
  await first.index({ text: "seed chunk", chunk_id: "seed" });
  await first.close();

  const ids = Array.from({ length: 30 }, (_, i) => `s${i}`);
  const workers = ["a", "b"].map((name, i) =>
    collect(spawnTs("test/fixtures/store-worker.ts", [dir, name, String(OPS), String(1000 + i)], { WORKER_IDS: "30", WORKER_PREFIX: "s" })),
  );

  const reader = await openStore(dir);
  let reads = 0;
  let running = true;
  const readerLoop = (async () => {
    while (running) {
      const { results } = await reader.search({ query: "chunk written by op seed", k: 20 });
      expect(new Set(results.map((r) => r.chunk_id)).size).toBe(results.length);
      for (const r of results) expect((await reader.get([r.chunk_id]))[0]?.text ?? r.text).toBeDefined();
      reads++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const results = await Promise.all(workers);
  running = false;
  await readerLoop;
  await reader.close();

  const states = results.map((r, i) => {
    expect(r, `worker ${i}`).toMatchObject({ code: 0 });
    // Routine work (an optimize, a cache renewal) is logged at "info"; anything else is a warning.
    expect(r.stderr.split("\n").filter((line) => line !== "" && !line.startsWith("info: ")), `worker ${i}`).toEqual([]);
    expect(r.stdout).toContain('"done"');
    const state = new ExpectedState(ids);
    state.apply(r.stdout);
    return state;
  });
  expect(states.reduce((n, s) => n + s.acknowledged, 0)).toBeGreaterThanOrEqual(2 * OPS);
  expect(reads).toBeGreaterThan(0);

  const store = await openStore(dir);
  await store.recover({ reconcile: true });
  await store.gc();
  await ExpectedState.checkTogether(store, states);
  const verify = await store.verify();
  expect(verify).toMatchObject({ ok: true, problems: [] });
  expect(verify.checked.lance_rows).toBe((await store.status()).counts.committed);
  expect((await store.get(["seed"]))[0]?.text).toBe("seed chunk");
  await store.close();
});
