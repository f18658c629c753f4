import { describe, expect, test } from "vitest";
import { HashEmbedder } from "../src/embed/hash.js";
import { cancelReindex, reindexStore } from "../src/store/reindex.js";
import { storeBackends, workerEnv, type TestBackend } from "./helpers/backends.js";
import { collect, spawnTs } from "./helpers/processes.js";
import { DIM, openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tmp = useTempDirs();
const NEW_DIM = 32;
const newEmbedder = () => new HashEmbedder(NEW_DIM);

async function seed(dir: string, n: number, backend: TestBackend): Promise<void> {
  const store = await openStore(dir, {}, backend);
  await store.indexMany(Array.from({ length: n }, (_, i) => ({ chunk_id: `c${i}`, text: `reindex corpus entry ${i} about subject ${i % 7}`, metadata: { i } })));
  await store.close();
}

describe.each(storeBackends())("reindex ($name)", (backend) => {
  test("re-embeds every chunk into a new table, switches, and the old table is garbage-collected", async () => {
    const dir = tmp();
    await seed(dir, 120, backend);
    const progress: number[] = [];
    const report = await reindexStore({ ...(await backend.location(dir)), embedder: newEmbedder(), batchSize: 50, onProgress: (done) => void progress.push(done) });
    expect(report).toMatchObject({ from: `hash:${DIM}`, to: `hash:${NEW_DIM}`, copied: 120, left_pending: 0, resumed: false });
    expect(progress).toEqual([50, 100, 120, 120]);

    await expect(openStore(dir, {}, backend)).rejects.toThrow(new RegExp(`bound to the embedder hash:${NEW_DIM}`));
    const store = await openStore(dir, { embedder: newEmbedder(), keepVersionsMs: 0 }, backend);
    const status = await store.status();
    expect(status.model).toMatchObject({ provider: "hash", name: String(NEW_DIM), dimension: NEW_DIM });
    expect(status.lance).toMatchObject({ table: report.table, rows: 120 });
    expect(status.reindex).toBeNull();
    expect((await store.search({ query: "reindex corpus entry 77 about subject 0", mode: "vector", k: 1 })).results[0]?.chunk_id).toBe("c77");
    expect(await store.gc()).toMatchObject({ dropped_tables: ["chunks"] });
    expect((await store.verify()).ok).toBe(true);
    await store.close();
  });

  test("a server still running the old model is told to restart, and nothing it writes is lost", async () => {
    const dir = tmp();
    await seed(dir, 60, backend);
    const old = await openStore(dir, {}, backend);
    let wrote = false;
    await reindexStore({
      ...(await backend.location(dir)),
      embedder: newEmbedder(),
      batchSize: 20,
      onProgress: async () => {
        if (wrote) return;
        wrote = true;
        // Written while the copy runs: an update of a copied chunk and a brand new one.
        await old.index({ chunk_id: "c0", text: "rewritten during the reindex" });
        await old.index({ chunk_id: "fresh", text: "added during the reindex" });
        await old.delete({ chunk_id: "c1" });
      },
    });
    await expect(old.search({ query: "anything", mode: "vector" })).rejects.toThrow(new RegExp(`re-embedded with hash:${NEW_DIM}.*Restart it with --embedder hash:${NEW_DIM}`));
    await expect(old.index({ chunk_id: "late", text: "too late" })).rejects.toThrow(/re-embedded/);
    await old.close();

    const store = await openStore(dir, { embedder: newEmbedder() }, backend);
    await store.verify({ repair: true });
    expect(await store.verify()).toMatchObject({ ok: true });
    for (const [id, text] of [
      ["c0", "rewritten during the reindex"],
      ["fresh", "added during the reindex"],
    ]) {
      expect((await store.search({ query: text!, mode: "vector", k: 1 })).results[0]).toMatchObject({ chunk_id: id, text });
    }
    expect(await store.get(["c1", "late"])).toEqual([]);
    await store.close();
  });

  test("a reindex killed half way resumes where it stopped; status reports its progress meanwhile", async () => {
    const dir = tmp();
    await seed(dir, 400, backend);
    const child = spawnTs("test/fixtures/reindex-worker.ts", [dir, String(NEW_DIM), "25"], workerEnv(await backend.location(dir)));
    const result = collect(child);
    await new Promise<void>((resolve) => {
      child.stdout!.on("data", (d: Buffer) => {
        if (d.toString().includes('"done":100')) {
          child.kill("SIGKILL");
          resolve();
        }
      });
    });
    const killed = await result;
    expect(killed.signal).toBe("SIGKILL");
    expect(killed.stdout).not.toContain("finished");

    const old = await openStore(dir, {}, backend);
    const status = await old.status();
    expect(status.reindex).toMatchObject({ target: `hash:${NEW_DIM}`, total: 400 });
    expect(status.reindex!.done).toBeGreaterThanOrEqual(100);
    expect(status.reindex!.done).toBeLessThan(400);
    // The old model keeps serving meanwhile.
    expect((await old.search({ query: "reindex corpus entry 5 about subject 5", mode: "vector", k: 1 })).results[0]?.chunk_id).toBe("c5");
    await old.close();

    const resumed = await reindexStore({ ...(await backend.location(dir)), embedder: newEmbedder(), batchSize: 25 });
    expect(resumed.resumed).toBe(true);
    expect(resumed.copied).toBeLessThanOrEqual(400 - status.reindex!.done);
    const store = await openStore(dir, { embedder: newEmbedder() }, backend);
    expect((await store.status()).lance?.rows).toBe(400);
    expect(await store.verify()).toMatchObject({ ok: true });
    expect((await store.search({ query: "reindex corpus entry 399 about subject 0", mode: "vector", k: 1 })).results[0]?.chunk_id).toBe("c399");
    await store.close();
  });

  test("an unfinished reindex to another model must be finished or cancelled first", async () => {
    const dir = tmp();
    await seed(dir, 30, backend);
    const controller = new AbortController();
    await expect(
      reindexStore({ ...(await backend.location(dir)), embedder: newEmbedder(), batchSize: 10, signal: controller.signal, onProgress: () => controller.abort() }),
    ).rejects.toThrow(/interrupted. Progress is saved/);
    await expect(reindexStore({ ...(await backend.location(dir)), embedder: new HashEmbedder(48) })).rejects.toThrow(
      new RegExp(`reindex to hash:${NEW_DIM} .* is unfinished.*--cancel`),
    );
    expect(await cancelReindex(await backend.location(dir))).toMatchObject({ target: { model: String(NEW_DIM) } });
    const store = await openStore(dir, {}, backend);
    expect((await store.status()).reindex).toBeNull();
    expect((await store.search({ query: "reindex corpus entry 3 about subject 3", mode: "vector", k: 1 })).results[0]?.chunk_id).toBe("c3");
    await store.close();
    await expect(reindexStore({ ...(await backend.location(dir)), embedder: new HashEmbedder(DIM) })).rejects.toThrow(/already uses hash:64/);
  });
});
