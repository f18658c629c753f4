import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { describe, expect, test } from "vitest";
import { scratchDuring } from "../src/store/lance-scratch.js";
import { Watchdog } from "../src/store/watchdog.js";
import { collect, runTs, spawnTs } from "./helpers/processes.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tmp = useTempDirs();

/** The LanceDB variables a process sees once the store's LanceDB module has loaded, given these in its environment. */
async function lanceEnv(env: Record<string, string>): Promise<{ threads?: string; shuffleBatchBytes?: string; tmpdir: string; pid: number }> {
  const result = await runTs("test/fixtures/lance-env.ts", [], env);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout);
}

describe("LanceDB's thread pool", () => {
  test(`with no pool size set, the store gives LanceDB at least 8 threads and a full-text index over 60,000 rows builds on this ${cpus().length}-core machine`, async () => {
    // Unset (empty counts as unset): the store's own choice applies. With the
    // default pool (one thread per core) a 2-core machine never finished an FTS
    // build over 1M rows; with 8 threads it took 12 s.
    const result = await runTs("test/fixtures/fts-build.ts", [tmp(), "60000"], { LANCE_CPU_THREADS: "" });
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { threads: string; keyword_index: { indexed_rows: number; unindexed_rows: number } };
    expect(Number(report.threads)).toBeGreaterThanOrEqual(8);
    expect(report.keyword_index).toMatchObject({ indexed_rows: 60_000, unindexed_rows: 0 });
  }, 300_000);

  test("a pool size the user chose is kept", async () => {
    expect(await lanceEnv({ LANCE_CPU_THREADS: "12" })).toMatchObject({ threads: "12" });
  });
});

describe("LanceDB's index-build buffer", () => {
  test("with none set, an ANN build's shuffle gathers at most 32 MiB before writing, not LanceDB's 128 MiB", async () => {
    expect(await lanceEnv({ LANCE_SHUFFLE_BATCH_BYTES: "" })).toMatchObject({ shuffleBatchBytes: String(32 * 2 ** 20) });
  });

  test("a size the user chose is kept", async () => {
    expect(await lanceEnv({ LANCE_SHUFFLE_BATCH_BYTES: "268435456" })).toMatchObject({ shuffleBatchBytes: "268435456" });
  });
});

describe("LanceDB's temporary files", () => {
  const SCRATCH = "retrieval-mcp-lance-";

  test("an ANN build leaves none of its shuffle files behind, and the process's own temp directory goes when it exits", async () => {
    const base = tmp();
    // LanceDB 0.31 left every build's shuffle (shuffle_data.lance and the like) in the temp directory.
    const worker = await collect(spawnTs("test/fixtures/ann-worker.ts", [tmp(), "1200", "1000"], { TMPDIR: base }));
    expect(worker.code, worker.stderr).toBe(0);
    const built = JSON.parse(worker.stdout.trim().split("\n").at(-1)!) as { built: boolean; temp_files: string[] };
    expect(built.built).toBe(true);
    expect(built.temp_files).toEqual([]);
    expect(readdirSync(base).filter((name) => name.startsWith(SCRATCH))).toEqual([]);
  }, 300_000);

  test("shuffle files are removed only once no work that can shuffle runs in the process, and nothing else in its temp directory is", async () => {
    // This process loaded the store's LanceDB module (through the helpers), so its temp directory is its own.
    const scratch = tmpdir();
    expect(basename(scratch)).toMatch(new RegExp(`^${SCRATCH}${process.pid}-`));
    const shuffle = join(scratch, ".tmpShuffle");
    const other = join(scratch, ".tmpOther");
    let finishOther!: () => void;
    const otherBuild = scratchDuring(() => new Promise<void>((resolve) => (finishOther = resolve)));
    await scratchDuring(async () => {
      mkdirSync(shuffle);
      writeFileSync(join(shuffle, "shuffle_data.lance"), "rows by partition");
      mkdirSync(other);
      writeFileSync(join(other, "spill.bin"), "not a shuffle");
    });
    // The other build may still be reading it.
    expect(existsSync(join(shuffle, "shuffle_data.lance"))).toBe(true);
    finishOther();
    await otherBuild;
    expect(existsSync(shuffle)).toBe(false);
    expect(readdirSync(other)).toEqual(["spill.bin"]);
  });

  test("a store process removes dead processes' temp directories as it starts, keeps live ones', and puts its own beside the one it inherited", async () => {
    const base = tmp();
    const exited = spawn(process.execPath, ["-e", ""]);
    await once(exited, "exit");
    const dead = join(base, `${SCRATCH}${exited.pid}-abc123`);
    const live = join(base, `${SCRATCH}${process.pid}-def456`);
    for (const dir of [dead, live]) {
      mkdirSync(join(dir, ".tmpLeft"), { recursive: true });
      writeFileSync(join(dir, ".tmpLeft", "shuffle_data.lance"), "left behind");
    }
    // As a child of a store process inherits it.
    const report = await lanceEnv({ TMPDIR: live });
    expect(dirname(report.tmpdir)).toBe(base);
    expect(basename(report.tmpdir)).toMatch(new RegExp(`^${SCRATCH}${report.pid}-`));
    expect(existsSync(dead)).toBe(false);
    expect(readdirSync(join(live, ".tmpLeft"))).toEqual(["shuffle_data.lance"]);
    expect(existsSync(report.tmpdir)).toBe(false);
  });
});

describe("LanceDB's log", () => {
  test("a filtered search on a new table (stable row ids, counted by a scan) logs nothing, unless the user asks LanceDB for warnings", async () => {
    const quiet = await runTs("test/fixtures/filtered-search.ts", [tmp()], { LANCEDB_LOG: undefined });
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(JSON.parse(quiet.stdout)).toEqual(["c1", "c13", "c17", "c21", "c25", "c29", "c33", "c37", "c5", "c9"]);
    expect(quiet.stderr).not.toMatch(/WARN/);
    // The same search with warnings on: Lance says it scanned because the table has stable row ids.
    const told = await runTs("test/fixtures/filtered-search.ts", [tmp()], { LANCEDB_LOG: "warn" });
    expect(told.code, told.stderr).toBe(0);
    expect(told.stderr).toMatch(/count_pushdown: skipped because the dataset uses stable row ids/);
  });
});

describe("the watchdog", () => {
  test("native work that never finishes is reported stuck and no longer waited for; it clears once the work ends", async () => {
    const lines: string[] = [];
    const watchdog = new Watchdog((line) => lines.push(line));
    let finish!: () => void;
    const hung = new Promise<string>((resolve) => (finish = () => resolve("done late")));
    expect(await watchdog.watch("index build", 20, () => hung)).toBeUndefined();
    expect(watchdog.report()).toMatchObject([{ kind: "index build", stuck: true }]);
    expect(lines.join("\n")).toMatch(/index build has been running for \d+ s and may be stuck; the store goes on without waiting for it\. .*LANCE_CPU_THREADS/);
    finish();
    await hung;
    // The watchdog hears of the end through its own continuation of the work's promise; on a loaded machine that is a few turns later.
    await expect.poll(() => watchdog.report()).toEqual([]);
    expect(lines.at(-1)).toMatch(/index build finished after \d+ s, past its limit/);
  });

  test("an optimize past its limit does not hold up the store: it reports it in status, and the store writes and searches meanwhile", async () => {
    const store = await openStore(tmp(), { optimizeLimitMs: 0 });
    await store.indexMany(Array.from({ length: 50 }, (_, i) => ({ chunk_id: `c${i}`, text: `heron note ${i}` })));
    const report = await store.optimize();
    expect(report).toMatchObject({ ok: true, still_running: true });
    const running = (await store.status()).maintenance_running;
    await store.index({ chunk_id: "later", text: "written while the optimize runs" });
    expect((await store.search({ query: "written while the optimize runs", k: 1, mode: "keyword" })).results[0]?.chunk_id).toBe("later");
    // Seen running (stuck) unless it already finished; either way it clears.
    expect(running.every((w) => w.kind === "optimize" && w.stuck)).toBe(true);
    await expect.poll(async () => (await store.status()).maintenance_running, { timeout: 60_000 }).toEqual([]);
    await store.close();
  });
});
