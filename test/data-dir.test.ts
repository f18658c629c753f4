import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import Database from "better-sqlite3";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { migrate } from "../src/store/migrate.js";
import { CLI, assertBuilt, cleanEnv, cliCommand, runCli, type CliResult } from "./helpers/cli.js";
import { connectInMemory, ok, textOf } from "./helpers/mcp.js";
import { mountReadOnlyView } from "./helpers/mounts.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tmp = useTempDirs();
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
beforeAll(assertBuilt);

const EMBEDDER = ["--embedder", "hash:64"];
/** Another user to be: root ignores permission bits, so only an unprivileged user meets them. */
const OTHER = "nobody";

function otherUserUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "the test must run as root to switch to another user";
  try {
    execFileSync("runuser", ["-u", OTHER, "--", process.execPath, "--version"], { stdio: "pipe" });
  } catch (error) {
    return `runuser -u ${OTHER} does not work here: ${(error as Error).message}`;
  }
  // A checkout inside a 0700 folder (mktemp -d makes them) is closed to the other user, whatever the test does.
  const reach = spawnSync("runuser", ["-u", OTHER, "--", process.execPath, "-e", "require('node:fs').accessSync(process.argv[1], require('node:fs').constants.R_OK)", CLI], { stdio: "pipe" });
  return reach.status === 0 ? null : `${OTHER} cannot read ${CLI}: a folder above the checkout is closed to other users`;
}
const noOtherUser = otherUserUnavailable();

/** A temporary directory others may enter (mkdtemp makes it 0700). */
function sharedTmp(): string {
  const dir = tmp();
  chmodSync(dir, 0o755);
  return dir;
}

/** Fails with the output when the CLI did not exit as expected; refuses raw errno text and stack traces. */
function expectCli(result: CliResult, code: number, stderr?: RegExp): void {
  expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(code);
  if (stderr) expect(result.stderr).toMatch(stderr);
  expect(result.stderr).not.toMatch(/^\s+at |^retrieval-mcp: E[A-Z]+:|attempt to write a readonly database/m);
}

async function seedWithCli(dataDir: string): Promise<void> {
  expectCli(await runCli(["ingest", "examples/corpus", "--data-dir", dataDir, ...EMBEDDER]), 0);
}

async function stdioClientAs(user: string, dataDir: string): Promise<Client> {
  const { command, args } = cliCommand(["serve", "--data-dir", dataDir, ...EMBEDDER], user);
  const client = new Client({ name: "data-dir-test", version: "1" });
  await client.connect(new StdioClientTransport({ command, args, env: cleanEnv() as Record<string, string>, stderr: "ignore" }));
  cleanups.push(() => client.close());
  return client;
}

describe("a data directory that is a file", () => {
  test("is refused with its path and what to do, by the store, the CLI and the MCP tools", async () => {
    const file = join(tmp(), "not-a-dir");
    writeFileSync(file, "some file");
    await expect(openStore(file)).rejects.toMatchObject({ code: "data_dir_invalid", message: expect.stringContaining(`${file} is a file, not a directory`) });
    await expect(openStore(join(file, "below"))).rejects.toMatchObject({ message: expect.stringContaining(`${file}, a parent of ${join(file, "below")}, is a file`) });
    for (const args of [["status"], ["search", "anything"], ["ingest", "README.md"]]) {
      expectCli(await runCli([...args, "--data-dir", file, ...EMBEDDER]), 1, new RegExp(`${file} is a file, not a directory. Point --data-dir`));
    }
    const mcp = await connectInMemory(file);
    cleanups.push(() => mcp.close());
    for (const [tool, args] of [["semantic_search", { query: "x" }], ["index_chunk", { text: "x" }], ["embedding_status", {}]] as const) {
      const result = await mcp.call(tool, args);
      expect(result.isError, tool).toBe(true);
      expect(textOf(result)).toMatch(/is a file, not a directory/);
    }
  });
});

describe.skipIf(noOtherUser !== null)(noOtherUser ? `permissions (skipped: ${noOtherUser})` : `permissions, as the user ${OTHER}`, () => {
  test("a directory this user may not write is reported with its path, the user and the fix, never as a raw EACCES", async () => {
    const parent = sharedTmp();
    const missing = join(parent, "new-store");
    expectCli(
      await runCli(["ingest", "README.md", "--data-dir", missing, ...EMBEDDER], { user: OTHER }),
      1,
      new RegExp(`Creating a new store in the data directory ${missing} failed: permission denied\\. Nothing was written\\. .*give uid \\d+ access`),
    );
    const closed = join(parent, "closed");
    mkdirSync(closed, { mode: 0o700 });
    expectCli(await runCli(["status", "--data-dir", join(closed, "store"), ...EMBEDDER], { user: OTHER }), 1, /Reading the store in the data directory .*closed\/store failed: permission denied/);
    const privateDb = join(parent, "private-db");
    await seedWithCli(privateDb);
    chmodSync(join(privateDb, "metadata.db"), 0o600);
    expectCli(await runCli(["search", "tides", "--data-dir", privateDb, ...EMBEDDER], { user: OTHER }), 1, new RegExp(`Reading the store in the data directory ${privateDb} failed: permission denied`));
  });

  test("a store this user may read but not write serves search and status read-only, through the CLI and MCP over stdio, and refuses writes with a clear error", async () => {
    const dataDir = join(sharedTmp(), "store");
    await seedWithCli(dataDir);
    // Lance writes its files readable by the owner only; sharing a store means opening it up.
    execFileSync("chmod", ["-R", "a+rX", dataDir]);
    const before = await runCli(["status", "--json", "--data-dir", dataDir, ...EMBEDDER]);

    const search = await runCli(["search", "sourdough starter", "--data-dir", dataDir, ...EMBEDDER], { user: OTHER });
    expectCli(search, 0, /opened .* read-only \(uid \d+ may not write/);
    expect(search.stdout).toMatch(/sourdough\.md#0/);
    for (const mode of ["vector", "keyword"]) {
      const result = await runCli(["search", "tides moon", "--mode", mode, "--json", "--data-dir", dataDir, ...EMBEDDER], { user: OTHER });
      expectCli(result, 0);
      expect((JSON.parse(result.stdout) as { results: { chunk_id: string }[] }).results[0]?.chunk_id).toMatch(/tides\.md#0$/);
    }
    const status = await runCli(["status", "--json", "--data-dir", dataDir, ...EMBEDDER], { user: OTHER });
    expectCli(status, 0);
    expect(JSON.parse(status.stdout)).toMatchObject({ counts: JSON.parse(before.stdout).counts, lance: { rows: JSON.parse(before.stdout).lance.rows } });
    expectCli(
      await runCli(["ingest", "README.md", "--data-dir", dataDir, ...EMBEDDER], { user: OTHER }),
      1,
      new RegExp(`The data directory ${dataDir} is open read-only .* writes, deletes and maintenance are refused; nothing was changed`),
    );

    const client = await stdioClientAs(OTHER, dataDir);
    const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallToolResult;
    expect(ok(await call("semantic_search", { query: "printing press", k: 1 })).results[0].chunk_id).toMatch(/printing-press\.md#0$/);
    expect(ok(await call("embedding_status", {})).counts).toEqual(JSON.parse(before.stdout).counts);
    for (const [tool, args] of [
      ["index_chunk", { text: "a write from a reader" }],
      ["delete_chunk", { doc_id: "anything" }],
    ] as const) {
      const refused = await call(tool, args);
      expect(refused.isError, tool).toBe(true);
      expect(textOf(refused)).toMatch(/open read-only .*refused; nothing was changed/);
    }
    const after = await runCli(["status", "--json", "--data-dir", dataDir, ...EMBEDDER]);
    expect(JSON.parse(after.stdout)).toMatchObject({ counts: JSON.parse(before.stdout).counts, chunks: JSON.parse(before.stdout).chunks });
  });

  test("a reader sees what a running owner process has just written (still in the write-ahead log)", async () => {
    const dataDir = join(sharedTmp(), "store");
    await seedWithCli(dataDir);
    const owner = await openStore(dataDir);
    await owner.index({ chunk_id: "fresh", text: "quokka photobombs the lighthouse keeper" });
    execFileSync("chmod", ["-R", "a+rX", dataDir]);
    const result = await runCli(["search", "quokka photobombs", "-k", "1", "--data-dir", dataDir, ...EMBEDDER], { user: OTHER });
    await owner.close();
    expectCli(result, 0);
    expect(result.stdout).toMatch(/\bfresh\b/);
  });

  test("a store that still needs a migration cannot be upgraded read-only, and says how to get it upgraded", async () => {
    const dataDir = join(sharedTmp(), "old");
    mkdirSync(dataDir);
    const db = new Database(join(dataDir, "metadata.db"));
    migrate(db, { target: 4 });
    db.close();
    execFileSync("chmod", ["-R", "a+rX", dataDir]);
    expectCli(
      await runCli(["status", "--data-dir", dataDir, ...EMBEDDER], { user: OTHER }),
      1,
      /needs migration V005__lexical_index(, V\d{3}__\w+)* before this version of retrieval-mcp can read it, and this process may not write it\. Open it once as a user who may write it/,
    );
  });
});

const probeDir = mkdtempSync(join(tmpdir(), "retrieval-mcp-ro-probe-"));
const readOnlyProbe = mountReadOnlyView(probeDir);
readOnlyProbe.unmount();
rmSync(probeDir, { recursive: true, force: true });

describe.skipIf(readOnlyProbe.dir === null)(readOnlyProbe.dir === null ? `read-only file system (skipped: ${readOnlyProbe.reason})` : "a store on a read-only file system", () => {
  test("opens read-only even for root: search and status work, writes name the read-only file system", async () => {
    const dataDir = join(sharedTmp(), "store");
    await seedWithCli(dataDir);
    const view = mountReadOnlyView(dataDir);
    cleanups.push(() => view.unmount());
    const search = await runCli(["search", "fermentation", "-k", "1", "--data-dir", view.dir!, ...EMBEDDER]);
    expectCli(search, 0, /read-only \(.* is on a read-only file system\)/);
    expect(search.stdout).toMatch(/fermentation\.txt#0/);
    expectCli(await runCli(["status", "--data-dir", view.dir!, ...EMBEDDER]), 0);
    expectCli(await runCli(["ingest", "README.md", "--data-dir", view.dir!, ...EMBEDDER]), 1, /is open read-only \(.*read-only file system\)/);
  });
});
