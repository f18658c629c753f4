import { appendFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { CLI, assertBuilt, cleanEnv, runCli } from "./helpers/cli.js";
import { connectStdio, ok, type StdioSession } from "./helpers/mcp.js";
import { collect } from "./helpers/processes.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();
/** Waiting for the watcher, not timing it: generous for a loaded machine. */
const SETTLE = { timeout: 60_000, interval: 100 };

beforeAll(assertBuilt);

function note(topic: string): string {
  return `# ${topic}\n\n${Array.from({ length: 3 }, (_, i) => `The ${topic} line ${i} says a little about ${topic}.`).join(" ")}\n`;
}

interface Activity {
  watching: string[];
  queued: number;
  running: unknown[];
  runs: number;
  last: { by: string; indexed: number; pruned: number; error?: string } | null;
}

async function activity(s: StdioSession): Promise<Activity> {
  return ok(await s.call("embedding_status", {})).ingest as Activity;
}

/** The watcher has handled everything it saw: nothing queued or running, and at least `runs` batches done. */
async function settled(s: StdioSession, runs: number): Promise<Activity> {
  await expect.poll(async () => {
    const a = await activity(s);
    return a.queued === 0 && a.running.length === 0 && a.runs >= runs;
  }, SETTLE).toBe(true);
  return activity(s);
}

async function docIds(s: StdioSession, folder: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of ["a.md", "b.md", "c.md", "sub/d.md", "late.txt"]) {
    if (ok(await s.call("get_chunk", { doc_id: join(folder, name) })).chunks.length > 0) out.push(name);
  }
  return out;
}

describe("serve --watch", () => {
  it("indexes the folder, then follows new, changed, renamed and deleted files, a burst in few batches", async () => {
    const dataDir = tempDir();
    const folder = tempDir();
    mkdirSync(join(folder, "sub"));
    writeFileSync(join(folder, "a.md"), note("anchor"));
    writeFileSync(join(folder, "b.md"), note("buoy"));
    writeFileSync(join(folder, "sub", "d.md"), note("dinghy"));
    // A document of a file deleted while no server ran: the first pass prunes it.
    writeFileSync(join(folder, "c.md"), note("compass"));
    expect((await runCli(["ingest", folder, "--data-dir", dataDir, "--embedder", "hash:64"])).code).toBe(0);
    rmSync(join(folder, "c.md"));

    const s = await connectStdio(["--data-dir", dataDir, "--embedder", "hash:64", "--watch", folder]);
    try {
      const first = await settled(s, 1);
      expect(first).toMatchObject({ watching: [folder], last: { by: "watch", pruned: 1 } });
      expect(await docIds(s, folder)).toEqual(["a.md", "b.md", "sub/d.md"]);

      // New, changed, deleted; and a rename, which is a deletion plus a new file.
      writeFileSync(join(folder, "late.txt"), note("lantern"));
      appendFileSync(join(folder, "a.md"), "\nThe anchor now mentions a walrus.\n");
      rmSync(join(folder, "b.md"));
      renameSync(join(folder, "sub", "d.md"), join(folder, "c.md"));
      await expect.poll(() => docIds(s, folder), SETTLE).toEqual(["a.md", "c.md", "late.txt"]);
      const walrus = ok(await s.call("semantic_search", { query: "walrus", mode: "keyword", k: 1 })).results;
      expect(walrus[0]).toMatchObject({ doc_id: join(folder, "a.md") });
      const before = await settled(s, first.runs + 1);

      // A burst of 40 files is debounced into a few batches, not 40.
      for (let i = 0; i < 40; i++) writeFileSync(join(folder, `burst-${i}.md`), note(`burst${i}`));
      await expect.poll(async () => ok(await s.call("semantic_search", { query: "burst39", mode: "keyword", k: 1 })).results.length, SETTLE).toBe(1);
      const after = await settled(s, before.runs + 1);
      expect(after.runs - before.runs).toBeLessThan(10);
      for (const i of [0, 17, 39]) expect(ok(await s.call("get_chunk", { doc_id: join(folder, `burst-${i}.md`) })).chunks.length, `burst-${i}`).toBe(1);

      // Files the walk skips are not watched either, and nothing outside the formats is read.
      mkdirSync(join(folder, ".hidden"));
      writeFileSync(join(folder, ".hidden", "x.md"), note("hidden"));
      writeFileSync(join(folder, "data.json"), '{"json": "jsonword"}');
      writeFileSync(join(folder, "trigger.md"), note("trigger"));
      await expect.poll(async () => ok(await s.call("semantic_search", { query: "trigger", mode: "keyword", k: 1 })).results.length, SETTLE).toBe(1);
      expect(ok(await s.call("semantic_search", { query: "hidden jsonword", mode: "keyword", k: 5 })).results).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it("keeps the documents of a watched folder that empties all at once, as an unmounted disk would leave it", async () => {
    const dataDir = tempDir();
    const folder = tempDir();
    writeFileSync(join(folder, "a.md"), note("anchor"));
    writeFileSync(join(folder, "b.md"), note("buoy"));
    const s = await connectStdio(["--data-dir", dataDir, "--embedder", "hash:64", "--watch", folder]);
    try {
      const first = await settled(s, 1);
      expect(first.last).toMatchObject({ indexed: 2 });
      rmSync(join(folder, "a.md"));
      rmSync(join(folder, "b.md"));
      await expect.poll(() => s.stderr(), SETTLE).toContain(`watch: not removing documents under ${folder}: it is empty while documents were ingested from it`);
      await settled(s, first.runs + 1);
      expect(await docIds(s, folder)).toEqual(["a.md", "b.md"]);
    } finally {
      await s.close();
    }
  });

  it("stops a long first pass when the server stops, exiting cleanly and leaving only whole documents", async () => {
    const dataDir = tempDir();
    const folder = tempDir();
    for (let i = 0; i < 200; i++) writeFileSync(join(folder, `n${i}.md`), `${note(`topic${i}`)}\n${note(`more${i}`).repeat(8)}`);
    const child = spawn(process.execPath, [CLI, "serve", "--data-dir", dataDir, "--embedder", "hash:64", "--watch", folder], { env: cleanEnv(), stdio: ["pipe", "pipe", "pipe"] });
    const exited = collect(child);
    // Several processes may share a store: this one watches the server's first pass from outside.
    const store = await openStore(dataDir);
    try {
      await expect.poll(async () => (await store.documentIds("default", `${folder}/`)).length, SETTLE).toBeGreaterThan(0);
      child.stdin!.end();
      const { code, stderr } = await exited;
      expect(code, stderr).toBe(0);
      expect(stderr).toContain("stopping (stdin closed)");
      expect(stderr).not.toMatch(/watch: .*failed/);
      const docs = await store.documentIds("default", `${folder}/`);
      expect(docs.length).toBeLessThan(200);
      for (const doc of docs) {
        const chunks = await store.documentChunks(doc, "default");
        expect(chunks.every((c) => c.status === "committed" && c.metadata.chunk_count === chunks.length), doc).toBe(true);
      }
    } finally {
      await store.close();
    }
  });

  it("refuses a folder that does not exist, before serving", async () => {
    const missing = join(tempDir(), "nope");
    const result = await runCli(["serve", "--watch", missing, "--data-dir", tempDir(), "--embedder", "hash:64"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`--watch: ${missing} is not a folder (it does not exist).`);
  });
});
