import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Corpus } from "../bench/store/corpus.js";
import { postgresStoreUrl } from "./helpers/backends.js";
import { assertBuilt, cleanEnv, cliCommand, runCli } from "./helpers/cli.js";
import { connectHttp, serveHttp } from "./helpers/clients.js";
import { ok } from "./helpers/mcp.js";
import { collect } from "./helpers/processes.js";
import { S3_ENV, startS3rver, type S3Endpoint } from "./helpers/s3.js";
import { openStore } from "./helpers/store.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();
const EMBEDDER = ["--embedder", "hash:64"];
/** The store benchmark's synthetic text: Zipfian words over a large vocabulary, so scores rarely tie. */
const corpus = new Corpus(31);
const [q1, q2, q3, q4] = corpus.queries(4, 90, 7);
const QUERIES: { query: string; args: string[] }[] = [
  { query: q1!, args: ["--mode", "hybrid"] },
  { query: q2!, args: ["--mode", "vector", "-k", "8"] },
  { query: q3!, args: ["--mode", "keyword", "-k", "8"] },
  { query: q4!, args: ["--mode", "hybrid", "--collection", "notes"] },
];

beforeAll(assertBuilt);

/** An embedded store with three collections, doc ids, metadata, a rewritten chunk and a deleted one, compacted so every row is in the indexes. */
async function embeddedSource(chunks: number): Promise<string> {
  const dir = tempDir();
  const store = await openStore(dir);
  await store.indexMany(
    Array.from({ length: chunks }, (_, i) => ({
      chunk_id: `c${i}`,
      text: corpus.chunk(i),
      collection: ["default", "notes", "archive"][i % 3],
      doc_id: `doc-${i % 7}`,
      metadata: { n: i, lang: i % 2 ? "en" : "de", tags: ["a", `t${i % 4}`] },
    })),
  );
  await store.index({ chunk_id: "c4", text: "rewritten: lantern over the harbour, twice", collection: "notes", doc_id: "doc-4", metadata: { n: 4, rewritten: true } });
  expect(await store.delete({ chunk_id: "c5" })).toMatchObject({ deleted: 1 });
  await store.gc();
  await store.optimize();
  await store.close();
  return dir;
}

// RETRIEVAL_MCP_TEST_POSTGRES=off leaves these out, as the other PostgreSQL tests.
describe.skipIf("off" in inject("postgres"))("retrieval-mcp migrate", () => {
  let s3: S3Endpoint;
  beforeAll(async () => {
    s3 = await startS3rver(["vectors"]);
  });
  afterAll(() => s3?.stop());

  const env = () => cleanEnv(S3_ENV);

  async function target(): Promise<{ database: string; args: string[] }> {
    const database = await postgresStoreUrl(tempDir());
    return { database, args: ["--database", database, "--vectors", `s3://vectors/${randomUUID()}`, "--s3-endpoint", s3.url] };
  }

  interface Answer {
    rows: { chunk_id: string; collection: string; doc_id: string; text: string; metadata: unknown }[];
    scores: number[];
  }

  async function searches(storeArgs: string[]): Promise<Answer[]> {
    const out: Answer[] = [];
    for (const { query, args } of QUERIES) {
      const result = await runCli(["search", query, "--json", ...args, ...EMBEDDER, ...storeArgs], { env: env() });
      expect(result.code, result.stderr).toBe(0);
      const parsed = JSON.parse(result.stdout) as { results: { chunk_id: string; collection: string; doc_id: string; text: string; metadata: unknown; score: number }[] };
      expect(parsed.results.length).toBeGreaterThan(0);
      // Equal scores come in Lance's row order, which differs between tables: ties are ordered by id here.
      const sorted = [...parsed.results].sort((a, b) => b.score - a.score || a.chunk_id.localeCompare(b.chunk_id));
      out.push({ rows: sorted.map(({ score: _, ...row }) => row), scores: sorted.map((r) => r.score) });
    }
    return out;
  }

  /**
   * The same chunks in the same order, with their texts and metadata, and
   * the same scores within 3%. Not to the digit: the source's keyword index
   * was built before its rewrite and delete removed two rows, the copy's
   * after. Since tables have stable row ids (compaction no longer remaps
   * the index), the source's BM25 scores differ from the copy's by up to
   * 1.1%, and hybrid ones, which blend them in, by up to 1.7%, as if its
   * index still counted the removed rows among its documents.
   */
  function expectSameAnswers(got: Answer[], want: Answer[]): void {
    expect(got.map((a) => a.rows)).toEqual(want.map((a) => a.rows));
    got.forEach((answer, q) => answer.scores.forEach((score, i) => expect(Math.abs(score - want[q]!.scores[i]!)).toBeLessThanOrEqual(0.03 * Math.abs(want[q]!.scores[i]!))));
  }

  it("copies collections, doc ids, metadata and vectors into PostgreSQL and s3:// so searches answer as on the source, and refuses a second run into the filled target", async () => {
    const source = await embeddedSource(90);
    const before = await searches(["--data-dir", source]);
    const into = await target();

    const migrated = await runCli(["migrate", "--data-dir", source, ...into.args], { env: env() });
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stdout).toMatch(/Copied 89 chunks in 3 collections, with their vectors \(hash:64\)/);
    expect(migrated.stdout).toMatch(/No problems found/);

    const targetArgs = ["--data-dir", tempDir(), ...into.args];
    expectSameAnswers(await searches(targetArgs), before);
    const status = JSON.parse((await runCli(["status", "--json", ...EMBEDDER, ...targetArgs], { env: env() })).stdout) as { counts: Record<string, number> };
    expect(status.counts).toMatchObject({ committed: 89, pending: 0, tombstone: 0 });
    // The deleted chunk stayed behind, the rewritten one came in its committed version.
    const server = await serveHttp([...EMBEDDER, ...targetArgs], S3_ENV);
    try {
      const client = await connectHttp(server.url);
      const got = ok(await client.call("get_chunk", { chunk_ids: ["c4", "c5"] }));
      expect(got.missing).toEqual(["c5"]);
      expect(got.chunks[0]).toMatchObject({ text: "rewritten: lantern over the harbour, twice", collection: "notes", doc_id: "doc-4", metadata: { n: 4, rewritten: true } });
      await client.close();
    } finally {
      await server.stop();
    }

    const again = await runCli(["migrate", "--data-dir", source, ...into.args], { env: env() });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is not empty \(89 chunks, bound to hash:64\): a copy goes into an empty store only.*Nothing was copied/);
    expectSameAnswers(await searches(targetArgs), before);
    // The source is untouched, and still an embedded store.
    expect(existsSync(join(source, "metadata.db"))).toBe(true);
    expectSameAnswers(await searches(["--data-dir", source]), before);
  });

  it("resumes a copy killed half-way: the second run finishes it and the target verifies clean", async () => {
    const source = await embeddedSource(150);
    const before = await searches(["--data-dir", source]);
    const into = await target();
    // One chunk a batch: the kill surely lands after some batches and before the last.
    const { command, args } = cliCommand(["migrate", "--batch", "1", "--data-dir", source, ...into.args]);
    const child = spawn(command, args, { env: env(), stdio: ["ignore", "pipe", "pipe"] });
    const finished = collect(child);
    const db = new pg.Client({ connectionString: into.database });
    await db.connect();
    try {
      for (;;) {
        const row = (await db.query<{ value: string }>("SELECT value FROM store_settings WHERE key = 'store_copy'").catch(() => ({ rows: [] }))).rows[0];
        if (row && (JSON.parse(row.value) as { cursor: number }).cursor >= 20) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await db.end();
    }
    child.kill("SIGKILL");
    expect((await finished).signal).toBe("SIGKILL");

    const resumed = await runCli(["migrate", "--data-dir", source, ...into.args], { env: env() });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/Copied 149 chunks in 3 collections \(resumed\)/);
    expect(resumed.stdout).toMatch(/No problems found/);
    expectSameAnswers(await searches(["--data-dir", tempDir(), ...into.args]), before);
  });

  it("refuses while a server has the source open, and names what to do", async () => {
    const source = await embeddedSource(12);
    const server = await serveHttp([...EMBEDDER, "--data-dir", source]);
    try {
      const client = await connectHttp(server.url);
      // The server opens the store on its first tool call.
      expect(ok(await client.call("embedding_status", {})).counts.committed).toBe(11);
      const into = await target();
      const refused = await runCli(["migrate", "--data-dir", source, ...into.args], { env: env() });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/is open in another process \(a running server or command\)\. Stop it first.*nothing was copied/);
      await client.close();
    } finally {
      await server.stop();
    }
  });

  it("needs --database and --vectors", async () => {
    const source = tempDir();
    const noDatabase = await runCli(["migrate", "--data-dir", source, "--vectors", "s3://vectors/x"], { env: env() });
    expect(noDatabase.code).toBe(2);
    expect(noDatabase.stderr).toMatch(/migrate needs --database/);
    const noVectors = await runCli(["migrate", "--data-dir", source, "--database", "postgres://u@127.0.0.1:1/db"], { env: env() });
    expect(noVectors.code).toBe(2);
    expect(noVectors.stderr).toMatch(/migrate needs --vectors/);
  });
});
