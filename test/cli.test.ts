import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, cleanEnv, runCli, type CliResult } from "./helpers/cli.js";
import { generations, makeRecordPending, writeOrphanLanceRow } from "./helpers/damage.js";
import { useTempDirs } from "./helpers/tmp.js";

const EMBEDDER = "hash:384";
const tempDir = useTempDirs();

beforeAll(assertBuilt);

/** Paragraphs of distinct sentences, long enough to make several chunks. */
function prose(topic: string, paragraphs: number): string {
  return Array.from(
    { length: paragraphs },
    (_, p) =>
      Array.from({ length: 6 }, (_, s) => `The ${topic} note ${p}.${s} talks about ${topic} in some detail, with enough words to fill a line or two.`).join(" "),
  ).join("\n\n");
}

function expectUsageError(result: CliResult, pattern: RegExp): void {
  expect(result.code).toBe(2);
  expect(result.stdout).toBe("");
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).toMatch(/--help/);
}

function noStackTrace(result: CliResult): void {
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

describe("retrieval-mcp CLI: help, version and usage errors", () => {
  it("prints general help listing every command", async () => {
    const result = await runCli(["--help"]);
    expect(result.code).toBe(0);
    for (const command of ["serve", "status", "search", "ingest", "gc", "verify"]) expect(result.stdout).toContain(`  ${command} `);
    expect(result.stdout).toContain("--data-dir");
    expect(result.stderr).toBe("");
  });

  it("prints help for every command", async () => {
    const expected: Record<string, string[]> = {
      serve: ["--transport", "--host", "--port", "--token", "--max-body"],
      status: ["--json"],
      search: ["-k", "--collection", "--mode", "--json"],
      ingest: ["<files or folders...>", "--collection"],
      gc: ["--data-dir"],
      verify: ["--repair"],
    };
    for (const [command, flags] of Object.entries(expected)) {
      for (const args of [[command, "--help"], ["help", command], [command, "-h"]]) {
        const result = await runCli(args);
        expect(result.code, args.join(" ")).toBe(0);
        expect(result.stdout).toContain(`Usage: retrieval-mcp ${command}`);
        for (const flag of [...flags, "--embedder", "--data-dir"]) expect(result.stdout).toContain(flag);
      }
    }
  });

  it("prints the package version", async () => {
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    const result = await runCli(["--version"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${version}\n`);
  });

  it("exits 2 with a pointer to --help on usage errors", async () => {
    const dir = tempDir();
    expectUsageError(await runCli(["frobnicate"]), /Unknown command "frobnicate"/);
    expectUsageError(await runCli(["status", "--bogus"]), /Unknown option '--bogus'/);
    expectUsageError(await runCli(["search"]), /search needs <query>/);
    expectUsageError(await runCli(["ingest"]), /ingest needs <files or folders/);
    expectUsageError(await runCli(["search", "x", "-k", "0", "--data-dir", dir]), /-k must be a whole number from 1 to 50/);
    expectUsageError(await runCli(["search", "x", "-k", "many", "--data-dir", dir]), /-k must be a whole number/);
    expectUsageError(await runCli(["search", "x", "--collection"]), /argument missing/);
    expectUsageError(await runCli(["search", "x", "--mode", "fuzzy", "--data-dir", dir]), /--mode must be one of hybrid, vector, keyword/);
    expectUsageError(await runCli(["gc", "now"]), /gc does not take the argument "now"/);
    expectUsageError(await runCli(["status", "--embedder", "nonsense", "--data-dir", dir]), /Unknown embedder "nonsense"/);
    expectUsageError(await runCli(["status", "--embedder", "hash:3", "--data-dir", dir]), /dimension from 8 to 8192/);
    expectUsageError(await runCli(["serve", "--transport", "pigeon"]), /--transport must be stdio or http/);
    expectUsageError(await runCli(["serve", "--transport", "http", "--port", "70000"]), /--port must be a whole number from 0 to 65535/);
    expectUsageError(await runCli(["serve", "--max-body", "-3"]), /--max-body/);
    expectUsageError(await runCli(["serve", "--transport", "stdio", "--port", "8080"]), /only apply to --transport http/);
    expectUsageError(await runCli(["serve", "--transport", "http", "--host", "0.0.0.0"]), /token/i);
  });

  it("takes the data directory and embedder from the environment", async () => {
    const dir = tempDir();
    const result = await runCli(["status", "--json"], { env: cleanEnv({ RETRIEVAL_MCP_DATA_DIR: dir, RETRIEVAL_MCP_EMBEDDER: "hash:96" }) });
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { data_dir: string; model: { provider: string; name: string } };
    expect(report.data_dir).toBe(dir);
    expect(report.model).toMatchObject({ provider: "hash", name: "96" });
  });
});

describe("retrieval-mcp CLI: ingest, search, status, gc", () => {
  it("ingests a folder, replaces a changed file, skips an unchanged one", async () => {
    const dataDir = tempDir();
    const docs = tempDir();
    const common = ["--data-dir", dataDir, "--embedder", EMBEDDER];
    mkdirSync(join(docs, "nested"));
    mkdirSync(join(docs, ".hidden"));
    mkdirSync(join(docs, "node_modules", "pkg"), { recursive: true });
    const alpha = join(docs, "alpha.md");
    writeFileSync(alpha, `# Zebras\n\n${prose("zebra", 6)}\n`);
    writeFileSync(join(docs, "beta.txt"), prose("volcano", 1));
    writeFileSync(join(docs, "nested", "gamma.rst"), `Glaciers\n========\n\n${prose("glacier", 1)}\n`);
    writeFileSync(join(docs, "nested", "photo.md"), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x00, 0x1a]));
    writeFileSync(join(docs, "notes.json"), `{"not": "picked up from a folder"}`);
    writeFileSync(join(docs, ".hidden", "secret.md"), prose("secret", 1));
    writeFileSync(join(docs, "node_modules", "pkg", "README.md"), prose("dependency", 1));

    const first = await runCli(["ingest", docs, ...common]);
    expect(first.stderr).toMatch(/skipped .*photo\.md: binary/);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^Files: 3 indexed, 1 skipped \(0 unchanged\), 0 failed\. Chunks: \d+ written, 0 removed\. [\d.]+ s\.\n$/);
    // A progress bar is drawn only on a terminal; a pipe gets none of its carriage returns.
    expect(first.stderr).not.toContain("\r");

    const status = JSON.parse((await runCli(["status", "--json", ...common])).stdout) as {
      chunks: number;
      counts: { pending: number; committed: number; tombstone: number };
    };
    const before = generations(dataDir);
    const alphaIds = [...before.keys()].filter((id) => id.startsWith(`${alpha}#`));
    expect(alphaIds.length).toBeGreaterThan(2);
    expect(status.chunks).toBe(before.size);
    expect(status.counts).toEqual({ pending: 0, committed: before.size, tombstone: 0 });
    expect([...before.keys()].some((id) => /secret|dependency|notes\.json/.test(id))).toBe(false);

    const zebra = await runCli(["search", "zebra note", "-k", "3", ...common]);
    expect(zebra.code).toBe(0);
    expect(zebra.stdout).toMatch(/^ 1\. [\d.-]+ {2}.*alpha\.md#\d+ {2}\(lines \d+-\d+, § Zebras\)\n {4}.*zebra/m);
    expect(zebra.stdout).toMatch(/3 results \(hybrid, model hash:384, [\d.]+ ms\)\.\n$/);
    const keyword = await runCli(["search", "zebra", "--mode", "keyword", "-k", "1", ...common]);
    expect(keyword.stdout).toMatch(/alpha\.md#\d+[\s\S]*1 result \(keyword, model hash:384/);

    // A changed, shorter file: its old chunks go, in the same transaction that writes the new ones.
    writeFileSync(alpha, "# Quokkas\n\nThe quokka is a small marsupial that lives on Rottnest Island.\n");
    const second = await runCli(["ingest", docs, ...common]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(new RegExp(`^Files: 1 indexed, 3 skipped \\(2 unchanged\\), 0 failed\\. Chunks: 1 written, ${alphaIds.length - 1} removed\\.`));
    const after = generations(dataDir);
    expect([...after.keys()].filter((id) => id.startsWith(`${alpha}#`))).toEqual([`${alpha}#0`]);
    expect(after.get(`${alpha}#0`)).toBeGreaterThan(before.get(`${alpha}#0`)!);
    for (const [id, generation] of before) if (!id.startsWith(alpha)) expect(after.get(id), id).toBe(generation);

    const quokka = JSON.parse((await runCli(["search", "quokka marsupial", "--json", ...common])).stdout) as {
      results: { chunk_id: string; text: string; doc_id: string; metadata: Record<string, unknown> }[];
    };
    expect(quokka.results[0]).toMatchObject({ chunk_id: `${alpha}#0`, doc_id: alpha, metadata: { chunk_index: 0, chunk_count: 1, heading: "Quokkas" } });
    expect(quokka.results[0]!.metadata.sha256).toMatch(/^[0-9a-f]{64}$/);
    const zebraAgain = JSON.parse((await runCli(["search", "zebra note", "-k", "50", "--json", ...common])).stdout) as { results: { text: string }[] };
    expect(zebraAgain.results.some((r) => r.text.includes("zebra"))).toBe(false);

    // Ingest ran GC for the replaced chunks: no tombstone is left waiting.
    const settled = JSON.parse((await runCli(["status", "--json", ...common])).stdout) as { counts: { tombstone: number }; lance: { rows: number } };
    expect(settled.counts.tombstone).toBe(0);

    // Nothing changed: nothing is embedded or written again.
    const third = await runCli(["ingest", docs, ...common]);
    expect(third.code).toBe(0);
    expect(third.stdout).toMatch(/^Files: 0 indexed, 4 skipped \(3 unchanged\), 0 failed\. Chunks: 0 written, 0 removed\./);
    expect(generations(dataDir)).toEqual(after);
  });

  it("ingests a named file whatever its extension and reports missing paths with exit 1", async () => {
    const dataDir = tempDir();
    const docs = tempDir();
    const common = ["--data-dir", dataDir, "--embedder", EMBEDDER];
    const log = join(docs, "server.log");
    writeFileSync(log, "2024-05-01 the cache warmed up in 40 ms\n");
    const result = await runCli(["ingest", log, join(docs, "missing.md"), "--collection", "logs", ...common]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`not found: ${join(docs, "missing.md")}`);
    expect(result.stdout).toMatch(/^Files: 1 indexed, 0 skipped \(0 unchanged\), 1 failed\./);
    const inLogs = JSON.parse((await runCli(["search", "cache warmed", "--collection", "logs", "--json", ...common])).stdout) as { results: { chunk_id: string; collection: string }[] };
    expect(inLogs.results).toEqual([expect.objectContaining({ chunk_id: `${log}#0`, collection: "logs" })]);
    const elsewhere = await runCli(["search", "cache warmed", "--collection", "default", "--json", ...common]);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stdout).toBe("");
    expect(elsewhere.stderr).toMatch(/no chunk is in collection "default" \(existing: logs\)/);
  });

  it("prints a readable status and runs gc", async () => {
    const dataDir = tempDir();
    const docs = tempDir();
    const common = ["--data-dir", dataDir, "--embedder", EMBEDDER];
    const empty = await runCli(["status", ...common]);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toContain(`data dir        ${dataDir}`);
    expect(empty.stdout).toMatch(/model +hash:384 \(not bound yet/);
    expect((await runCli(["search", "anything", ...common])).stdout).toMatch(/^No results/);

    writeFileSync(join(docs, "a.md"), prose("lighthouse", 2));
    expect((await runCli(["ingest", docs, ...common])).code).toBe(0);
    const status = await runCli(["status", ...common]);
    expect(status.stdout).toMatch(/records +\d+ committed, 0 pending, 0 tombstone/);
    expect(status.stdout).toMatch(/model +hash:384, 384-d, dot/);

    const gc = await runCli(["gc", ...common]);
    expect(gc.code).toBe(0);
    expect(gc.stdout).toMatch(/^Removed 0 tombstoned chunks from the vector table/);
    const after = JSON.parse((await runCli(["status", "--json", ...common])).stdout) as { last_gc: { ok: boolean } | null };
    expect(after.last_gc?.ok).toBe(true);
  });

  it("fails with exit 1 and the store's own message, no stack trace, on a model mismatch", async () => {
    const dataDir = tempDir();
    const docs = tempDir();
    writeFileSync(join(docs, "a.txt"), "bound to one model");
    expect((await runCli(["ingest", docs, "--data-dir", dataDir, "--embedder", EMBEDDER])).code).toBe(0);
    const result = await runCli(["search", "model", "--data-dir", dataDir, "--embedder", "hash:64"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^retrieval-mcp: The data directory .* is bound to the embedder hash:384/);
    noStackTrace(result);
  });
});

describe("retrieval-mcp CLI: reindex and auto", () => {
  it("re-embeds a store with another model, after which the default embedder (auto) opens it with the new one", async () => {
    const dataDir = tempDir();
    const docs = tempDir();
    writeFileSync(join(docs, "a.md"), prose("aqueduct", 3));
    expect((await runCli(["ingest", docs, "--data-dir", dataDir, "--embedder", EMBEDDER])).code).toBe(0);
    // No --embedder: auto defers to the model the store is bound to, and nothing is downloaded.
    const bound = await runCli(["status", "--data-dir", dataDir]);
    expect(bound.stdout).toMatch(/model +hash:384, 384-d/);

    expectUsageError(await runCli(["reindex", "--data-dir", dataDir]), /reindex needs the new model/);
    const reindex = await runCli(["reindex", "--data-dir", dataDir, "--embedder", "hash:96"]);
    expect(reindex.stderr).toBe("");
    expect(reindex.stdout).toMatch(/^Re-embedded \d+ chunks from hash:384 to hash:96, table chunks_\w+\. .*consistent\.\nRestart running servers with --embedder hash:96\.\n$/);
    expect(reindex.code).toBe(0);

    const after = await runCli(["status", "--data-dir", dataDir]);
    expect(after.stdout).toMatch(/model +hash:96, 96-d/);
    const search = await runCli(["search", "aqueduct", "--data-dir", dataDir, "--mode", "vector"]);
    expect(search.code).toBe(0);
    expect(search.stdout).toMatch(/a\.md#0/);
    const old = await runCli(["search", "aqueduct", "--data-dir", dataDir, "--embedder", EMBEDDER]);
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/bound to the embedder hash:96/);
    expect((await runCli(["reindex", "--cancel", "--data-dir", dataDir])).stdout).toBe("No reindex is in progress.\n");
  });
});

describe("retrieval-mcp CLI: verify", () => {
  it("finds an orphan Lance row and a stuck pending record, repairs both, then verifies clean", async () => {
    const dataDir = tempDir();
    const docs = tempDir();
    const common = ["--data-dir", dataDir, "--embedder", EMBEDDER];
    writeFileSync(join(docs, "a.md"), prose("harbour", 3));
    writeFileSync(join(docs, "b.md"), prose("orchard", 1));
    expect((await runCli(["ingest", docs, ...common])).code).toBe(0);

    const clean = await runCli(["verify", ...common]);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/^Checked \d+ records and \d+ Lance rows\.\n {2}No problems found\.\n$/);

    const stuck = `${join(docs, "b.md")}#0`;
    await writeOrphanLanceRow(dataDir, "ghost#0", 384);
    makeRecordPending(dataDir, stuck);

    const damaged = await runCli(["verify", ...common]);
    expect(damaged.code).toBe(1);
    expect(damaged.stdout).toMatch(/orphan_or_stale_lance_rows: 1 .*\n {4}e\.g\. ghost#0/);
    expect(damaged.stdout).toContain(`pending_records: 1`);
    expect(damaged.stdout).toContain(stuck);
    expect(damaged.stdout).toContain("retrieval-mcp verify --repair");

    // verify without --repair changes nothing.
    expect((await runCli(["verify", ...common])).code).toBe(1);

    const repaired = await runCli(["verify", "--repair", ...common]);
    expect(repaired.code).toBe(0);
    expect(repaired.stdout).toMatch(/orphan_or_stale_lance_rows: 1/);
    expect(repaired.stdout).toMatch(/After repair, checked \d+ records and \d+ Lance rows\.\n {2}No problems found\.\n$/);

    const again = await runCli(["verify", ...common]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("No problems found.");
    const hit = JSON.parse((await runCli(["search", "orchard note", "-k", "1", "--json", ...common])).stdout) as { results: { chunk_id: string }[] };
    expect(hit.results[0]?.chunk_id).toBe(stuck);
  });
});
