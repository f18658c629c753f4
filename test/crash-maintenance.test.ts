import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { makeRandom } from "../bench/store/corpus.js";
import { HashEmbedder } from "../src/embed/hash.js";
import type { Store, StoreOptions } from "../src/store/store.js";
import { assertBuilt, cleanEnv, cliCommand, runCli } from "./helpers/cli.js";
import { collect, spawnTs, type ProcessResult } from "./helpers/processes.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tmp = useTempDirs();
beforeAll(assertBuilt);

/** Fixed so a failure replays; each test draws its kill moment from its own stream. */
const SEED = Number(process.env.RETRIEVAL_MCP_CRASH_SEED || 8_2024);

/**
 * Reopens the store as a restarted server would (recovery, GC) and checks
 * it is consistent: nothing pending, no tombstones, `verify` clean, and one
 * Lance row per committed chunk.
 */
async function recovered(dir: string, options: Partial<StoreOptions> = {}): Promise<Store> {
  const store = await openStore(dir, options);
  await store.recover({ reconcile: true });
  await store.gc();
  const status = await store.status();
  expect(status.counts).toMatchObject({ pending: 0, tombstone: 0 });
  const verify = await store.verify();
  expect(verify).toMatchObject({ ok: true, problems: [] });
  expect(verify.checked.lance_rows).toBe(status.counts.committed);
  return store;
}

/** Every chunk is there with its text and is the top vector hit for its own text. */
async function expectPresent(store: Store, texts: ReadonlyMap<string, string>, sample = texts.size): Promise<void> {
  const ids = [...texts.keys()].sort();
  const stored = (await store.get(ids)).sort((a, b) => (a.chunk_id < b.chunk_id ? -1 : 1));
  expect(stored.map((c) => [c.chunk_id, c.text, c.status])).toEqual(ids.map((id) => [id, texts.get(id), "committed"]));
  for (const id of ids.filter((_, i) => i % Math.ceil(ids.length / sample) === 0)) {
    const { results } = await store.search({ query: texts.get(id)!, mode: "vector", k: 1 });
    expect(results[0]?.chunk_id, `vector search for ${id}`).toBe(id);
  }
}

/** Starts `node dist/cli.js ...args`; the caller kills it. */
function spawnCli(args: readonly string[]) {
  const { command, args: argv } = cliCommand(args);
  return spawn(command, argv, { env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
}

/** Waits `ms`, then SIGKILLs the process unless it is already gone; resolves with its outcome. */
async function killAfter(child: ReturnType<typeof spawn>, ms: number): Promise<ProcessResult> {
  const done = collect(child);
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  const result = await done;
  clearTimeout(timer);
  return result;
}

/** How long a command takes uninterrupted, on a copy of the data directory, to draw kill moments within it. */
async function timeOnCopy(dir: string, args: (copy: string) => string[]): Promise<number> {
  const copy = join(tmp(), "copy");
  cpSync(dir, copy, { recursive: true });
  const started = performance.now();
  const result = await runCli(args(copy));
  expect(result.code, result.stderr).toBe(0);
  return performance.now() - started;
}

const texts = (prefix: string, n: number) => new Map(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, `${prefix} chunk ${i} on subject ${i % 13} with detail ${(i * 7919) % 1000}`]));

describe("SIGKILL during maintenance restarts into a consistent store with nothing acknowledged lost", () => {
  test("during reindex: the old model keeps serving after the kill, and the resumed reindex finishes", async () => {
    const random = makeRandom(SEED + 1);
    const dir = tmp();
    const chunks = texts("r", 600);
    const seed = await openStore(dir);
    await seed.indexMany([...chunks].map(([chunk_id, text]) => ({ chunk_id, text })));
    await seed.close();

    // Killed at a random point of the copy, shortly after a batch was saved (or inside the next one).
    const stopAt = 25 + Math.floor(random() * 550);
    const child = spawnTs("test/fixtures/reindex-worker.ts", [dir, "32", "25"]);
    const result = collect(child);
    child.stdout!.on("data", (d: Buffer) => {
      const done = Math.max(...[...d.toString().matchAll(/"done":(\d+)/g)].map((m) => Number(m[1])));
      if (done >= stopAt) setTimeout(() => child.kill("SIGKILL"), random() * 40);
    });
    const killed = await result;
    expect(killed.signal, `stopAt ${stopAt}: ${killed.stderr}`).toBe("SIGKILL");
    expect(killed.stdout).not.toContain("finished");

    const old = await recovered(dir);
    expect((await old.status()).reindex?.done).toBeGreaterThanOrEqual(stopAt);
    await expectPresent(old, chunks, 20);
    await old.close();

    const resumed = await runCli(["reindex", "--embedder", "hash:32", "--batch", "25", "--data-dir", dir]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/Re-embedded \d+ chunks \(resumed\) from hash:64 to hash:32.*the store is consistent/s);
    const store = await recovered(dir, { embedder: new HashEmbedder(32) });
    await expectPresent(store, chunks, 20);
    await store.close();
  });

  test("during ingest of changed files: each file is wholly its old or its new version, and ingesting again finishes the change", async () => {
    const random = makeRandom(SEED + 2);
    const dir = tmp();
    const docs = join(tmp(), "docs");
    mkdirSync(docs);
    const version = (v: number, f: number) =>
      Array.from({ length: 40 }, (_, p) => `Version ${v} of file ${f}, paragraph ${p}: ${"words about the subject at hand ".repeat(8 + ((p * v) % 5))}`).join("\n\n");
    const files = Array.from({ length: 8 }, (_, f) => join(docs, `file-${f}.md`));
    files.forEach((path, f) => writeFileSync(path, version(1, f)));
    expect((await runCli(["ingest", docs, "--data-dir", dir, "--embedder", "hash:64"])).code).toBe(0);
    files.forEach((path, f) => writeFileSync(path, version(2, f)));
    const sha256 = (v: number, f: number) => createHash("sha256").update(version(v, f)).digest("hex");
    const duration = await timeOnCopy(dir, (copy) => ["ingest", docs, "--data-dir", copy, "--embedder", "hash:64"]);
    const killed = await killAfter(spawnCli(["ingest", docs, "--data-dir", dir, "--embedder", "hash:64"]), duration * (0.15 + 0.5 * random()));
    expect(killed.signal, killed.stdout).toBe("SIGKILL");
    expect(killed.stderr).not.toMatch(/Error/);

    const store = await recovered(dir);
    for (const [f, path] of files.entries()) {
      const chunks = await store.documentChunks(path);
      const hashes = [...new Set(chunks.map((c) => c.metadata.sha256))];
      expect(hashes.length, `${path} holds chunks of more than one version`).toBe(1);
      expect([sha256(1, f), sha256(2, f)]).toContain(hashes[0]);
      const v = hashes[0] === sha256(1, f) ? 1 : 2;
      expect(chunks.map((c) => Number(c.metadata.chunk_index)).sort((a, b) => a - b)).toEqual(Array.from({ length: chunks.length }, (_, i) => i));
      expect(chunks.every((c) => c.metadata.chunk_count === chunks.length && c.text.includes(`Version ${v} of file ${f},`) && !c.text.includes(`Version ${3 - v}`))).toBe(true);
    }
    await store.close();

    const again = await runCli(["ingest", docs, "--data-dir", dir, "--embedder", "hash:64"]);
    expect(again.code, again.stderr).toBe(0);
    const finished = await recovered(dir);
    for (const [f, path] of files.entries()) expect((await finished.documentChunks(path)).every((c) => c.metadata.sha256 === sha256(2, f))).toBe(true);
    await finished.close();
  });

  test("during GC: deleted chunks stay deleted, the others stay searchable", async () => {
    const random = makeRandom(SEED + 3);
    const dir = tmp();
    const all = texts("g", 5000);
    const store = await openStore(dir);
    await store.indexMany([...all].slice(0, 1000).map(([chunk_id, text]) => ({ chunk_id, text })));
    for (let i = 1000; i < all.size; i += 1000) await store.indexMany([...all].slice(i, i + 1000).map(([chunk_id, text]) => ({ chunk_id, text })));
    const doomed = [...all.keys()].filter((_, i) => i % 10 !== 0);
    await store.delete({ chunk_ids: doomed });
    await store.close();
    const survivors = new Map([...all].filter(([id]) => !doomed.includes(id)));

    const duration = await timeOnCopy(dir, (copy) => ["gc", "--data-dir", copy, "--embedder", "hash:64"]);
    const killed = await killAfter(spawnCli(["gc", "--data-dir", dir, "--embedder", "hash:64"]), duration * (0.15 + 0.5 * random()));
    expect(killed.signal, killed.stdout).toBe("SIGKILL");
    expect(killed.stderr).not.toMatch(/Error/);

    const after = await recovered(dir);
    expect(await after.get(doomed)).toEqual([]);
    await expectPresent(after, survivors, 20);
    const { results } = await after.search({ query: "g chunk on subject", k: 50 });
    expect(results.every((r) => survivors.has(r.chunk_id))).toBe(true);
    await after.close();
  });

  test("during an ANN index build: the store opens without the index or with a whole one, and the next build completes it", async () => {
    const random = makeRandom(SEED + 4);
    const dir = tmp();
    const CHUNKS = 2000;
    const ANN_MIN_ROWS = 1000;
    const timing = await collect(spawnTs("test/fixtures/ann-worker.ts", [join(tmp(), "timing"), String(CHUNKS), String(ANN_MIN_ROWS)]));
    const build = JSON.parse(timing.stdout.split("\n").find((line) => line.includes('"built"')) ?? "{}") as { built?: boolean; ms?: number };
    expect(build.built, timing.stderr).toBe(true);

    const child = spawnTs("test/fixtures/ann-worker.ts", [dir, String(CHUNKS), String(ANN_MIN_ROWS)]);
    const result = collect(child);
    let building = false;
    child.stdout!.on("data", (d: Buffer) => {
      if (building || !d.toString().includes('"building"')) return;
      building = true;
      // Somewhere inside the compaction and index build, as long as they took uninterrupted.
      setTimeout(() => child.kill("SIGKILL"), build.ms! * (0.05 + 0.45 * random()));
    });
    const killed = await result;
    expect(killed.signal, killed.stdout).toBe("SIGKILL");
    expect(killed.stdout).not.toContain('"built"');
    expect(killed.stderr).not.toMatch(/Error/);

    const acknowledged = new Map(
      killed.stdout
        .split("\n")
        .filter((line) => line.includes('"ack"'))
        .flatMap((line) => (JSON.parse(line) as { ids: string[] }).ids)
        .map((id) => [id, `ann worker chunk ${id} about topic ${Number(id.slice(3)) % 97}`]),
    );
    expect(acknowledged.size).toBe(CHUNKS);
    const store = await recovered(dir, { annMinRows: ANN_MIN_ROWS });
    await expectPresent(store, acknowledged, 20);
    await store.optimize();
    await store.settle();
    expect((await store.status()).lance?.index).toMatchObject({ type: expect.any(String), indexed_rows: CHUNKS });
    await expectPresent(store, acknowledged, 20);
    expect(await store.verify()).toMatchObject({ ok: true });
    await store.close();
  });
});
