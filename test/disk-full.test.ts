import { closeSync, mkdirSync, openSync, rmSync, statfsSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import * as lancedb from "@lancedb/lancedb";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { StoreError } from "../src/store/errors.js";
import { storageFault } from "../src/store/fs-errors.js";
import type { Store } from "../src/store/store.js";
import { assertBuilt, runCli } from "./helpers/cli.js";
import { connectInMemory, ok, textOf } from "./helpers/mcp.js";
import { mountSmallTmpfs } from "./helpers/mounts.js";
import { openStore } from "./helpers/store.js";

const SIZE_MB = 16;
const disk = mountSmallTmpfs(SIZE_MB);
afterAll(() => disk.unmount());
beforeAll(assertBuilt);

/** Fills the file system with `filler` until the kernel says ENOSPC, leaving `leaveBytes` free when asked. */
function fill(filler: string, leaveBytes = 0): void {
  const fd = openSync(filler, "a");
  try {
    if (leaveBytes > 0) {
      const { bavail, bsize } = statfsSync(filler);
      writeSync(fd, Buffer.alloc(Math.max(0, Number(bavail) * Number(bsize) - leaveBytes)));
      return;
    }
    for (const size of [1 << 16, 1 << 12, 1 << 9, 1]) {
      const block = Buffer.alloc(size, 1);
      for (;;) {
        try {
          writeSync(fd, block);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** ~4 KB of text, findable by its own word. */
const text = (id: string) => `diskfull ${id.replace(/\W/g, "")}word ${"filling the small disk with words ".repeat(110)}`;

async function expectReadable(store: Store, acknowledged: readonly string[]): Promise<void> {
  const chunks = await store.get(acknowledged);
  expect(chunks.map((c) => c.chunk_id).sort()).toEqual([...acknowledged].sort());
  for (const c of chunks) expect(c).toMatchObject({ text: text(c.chunk_id), status: "committed" });
  for (const id of [acknowledged[0]!, acknowledged.at(-1)!]) {
    for (const mode of ["keyword", "hybrid"] as const) {
      const { results } = await store.search({ query: `${id.replace(/\W/g, "")}word`, mode, k: 1 });
      expect(results[0]?.chunk_id, `${mode} search for ${id}`).toBe(id);
    }
  }
}

describe.skipIf(disk.dir === null)(disk.dir === null ? `disk full (skipped: ${disk.reason})` : `disk full, on a ${SIZE_MB} MiB tmpfs`, () => {
  test("SQLite, Lance and Node report a full disk each their own way, and all of them read as disk_full", async () => {
    const dir = join(disk.dir!, "raw");
    mkdirSync(dir);
    const db = new Database(join(dir, "raw.db"));
    db.exec("CREATE TABLE t (x BLOB)");
    const lance = await lancedb.connect(join(dir, "lance"));
    const table = await lance.createTable("t", [{ id: "a", v: [1, 2, 3] }]);
    const filler = join(disk.dir!, "raw-filler");
    fill(filler);
    const errors: unknown[] = [];
    try {
      db.prepare("INSERT INTO t VALUES (?)").run(Buffer.alloc(1 << 20));
    } catch (error) {
      errors.push(error);
    }
    await table.add(Array.from({ length: 5000 }, (_, i) => ({ id: `x${i}`, v: [i, 2, 3] }))).catch((error: unknown) => errors.push(error));
    try {
      writeFileSync(join(dir, "plain"), Buffer.alloc(1 << 16));
    } catch (error) {
      errors.push(error);
    }
    table.close();
    lance.close();
    db.close();
    rmSync(filler);
    rmSync(dir, { recursive: true });
    expect(errors.map((e) => (e as Error).message.slice(0, 60))).toHaveLength(3);
    expect(errors.map(storageFault)).toEqual(["disk_full", "disk_full", "disk_full"]);
    expect(storageFault(new Error("unrelated"))).toBeNull();
  });

  test("writes that hit ENOSPC fail as disk_full naming the path, lose nothing acknowledged, reads go on, and writing resumes once space is freed", async () => {
    const dataDir = join(disk.dir!, "data");
    const filler = join(disk.dir!, "filler");
    let fillDuringWrite = false;
    const store = await openStore(dataDir, {
      faults: {
        // Fills the disk between step 1 and the Lance write, so the later steps meet the full disk.
        afterPending: () => {
          if (fillDuringWrite) fill(`${filler}-during`);
        },
      },
    });
    const acknowledged: string[] = [];
    const batch = (n: number) => Array.from({ length: 20 }, (_, i) => ({ chunk_id: `c${n}-${i}`, text: text(`c${n}-${i}`) }));
    for (let n = 0; n < 3; n++) acknowledged.push(...(await store.indexMany(batch(n))).map((r) => r.chunk_id));

    // Leave a little room, then write until the disk is full.
    fill(filler, 512 * 1024);
    let failure: unknown = null;
    for (let n = 3; n < 200 && failure === null; n++) {
      try {
        acknowledged.push(...(await store.indexMany(batch(n))).map((r) => r.chunk_id));
      } catch (error) {
        failure = error;
      }
    }
    expect(failure).toBeInstanceOf(StoreError);
    expect(failure).toMatchObject({ code: "disk_full" });
    const message = (failure as Error).message;
    expect(message).toContain(dataDir);
    expect(message).toMatch(/no space left on the device/);
    expect(message).toMatch(/Free space on that disk/);

    // Reads keep working on the full disk: store API, MCP tools, CLI.
    await expectReadable(store, acknowledged);
    expect((await store.status()).counts.committed).toBeGreaterThanOrEqual(acknowledged.length);
    const mcp = await connectInMemory(dataDir);
    const refused = await mcp.call("index_chunk", { chunk_id: "over-mcp", text: text("over-mcp") });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(new RegExp(`data directory ${dataDir} failed: no space left on the device`));
    expect(ok(await mcp.call("semantic_search", { query: "c00word", mode: "keyword", k: 1 })).results[0].chunk_id).toBe("c0-0");
    expect(ok(await mcp.call("get_chunk", { chunk_id: "c1-1" })).chunks[0].text).toBe(text("c1-1"));
    expect(ok(await mcp.call("embedding_status", {})).total_chunks).toBeGreaterThanOrEqual(acknowledged.length);
    const cliStatus = await runCli(["status", "--json", "--data-dir", dataDir, "--embedder", "hash:64"]);
    expect(cliStatus.code, cliStatus.stderr).toBe(0);
    const cliSearch = await runCli(["search", "c23word", "--mode", "keyword", "--data-dir", dataDir, "--embedder", "hash:64"]);
    expect(cliSearch.code, cliSearch.stderr).toBe(0);
    expect(cliSearch.stdout).toContain("c2-3");
    const cliIngest = await runCli(["ingest", "README.md", "--data-dir", dataDir, "--embedder", "hash:64"]);
    expect(cliIngest.code).toBe(1);
    expect(cliIngest.stderr).toMatch(/failed: no space left on the device/);
    expect(cliIngest.stderr).not.toMatch(/^\s+at /m);

    // Space comes back: writing resumes without a restart.
    rmSync(filler);
    const after = await store.indexMany(batch(500));
    expect(after.every((r) => r.status === "committed")).toBe(true);
    acknowledged.push(...after.map((r) => r.chunk_id));
    ok(await mcp.call("index_chunk", { chunk_id: "over-mcp", text: text("over-mcp") }));
    acknowledged.push("over-mcp");

    // The disk fills between step 1 and step 2: the chunks stay pending and are committed once there is room.
    fillDuringWrite = true;
    const pending = batch(600);
    await expect(store.indexMany(pending)).rejects.toMatchObject({ code: "disk_full", message: expect.stringMatching(/saved as pending/) });
    fillDuringWrite = false;
    expect((await store.status(pending.map((p) => p.chunk_id))).chunk_states!.every((s) => s.status === "pending")).toBe(true);
    await expectReadable(store, acknowledged);
    rmSync(`${filler}-during`);

    await store.recover({ reconcile: true });
    await store.gc();
    acknowledged.push(...pending.map((p) => p.chunk_id));
    await expectReadable(store, acknowledged);
    expect(await store.verify()).toMatchObject({ ok: true, problems: [] });
    await mcp.close();
    await store.close();
    const cliVerify = await runCli(["verify", "--data-dir", dataDir, "--embedder", "hash:64"]);
    expect(cliVerify.code, cliVerify.stdout + cliVerify.stderr).toBe(0);
  });
});
