import { randomUUID } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { postgresServerUrl, postgresStoreUrl } from "./helpers/backends.js";
import { assertBuilt, cleanEnv, runCli } from "./helpers/cli.js";
import { S3_ENV, startS3rver, type S3Endpoint } from "./helpers/s3.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();

function docsFolder(): string {
  const docs = tempDir();
  writeFileSync(join(docs, "tides.md"), "# Tides\n\nSpring tides follow the full and new moon; neap tides the quarters.\n");
  writeFileSync(join(docs, "winds.md"), "# Winds\n\nThe mistral blows down the Rhône valley in winter and spring.\n");
  return docs;
}

describe.skipIf("off" in inject("postgres"))("--database on the command line", () => {
  let s3: S3Endpoint;
  beforeAll(async () => {
    assertBuilt();
    s3 = await startS3rver(["vectors"]);
  });
  afterAll(() => s3.stop());

  it("ingest, search, status, gc, verify and reindex keep their metadata in PostgreSQL; RETRIEVAL_MCP_DATABASE_URL says the same", async () => {
    const dir = tempDir();
    const database = await postgresStoreUrl(dir);
    const flags = ["--data-dir", dir, "--embedder", "hash:64", "--database", database];
    const ingest = await runCli(["ingest", docsFolder(), ...flags]);
    expect(ingest.code, ingest.stderr).toBe(0);
    expect(existsSync(join(dir, "metadata.db")), "no SQLite file beside the PostgreSQL store").toBe(false);

    const search = await runCli(["search", "neap tides quarters", "--json", ...flags]);
    expect(search.code, search.stderr).toBe(0);
    expect(JSON.parse(search.stdout).results[0].doc_id).toMatch(/tides\.md$/);

    // The same store through the environment variable, from a process without the flag.
    const env = cleanEnv({ RETRIEVAL_MCP_DATABASE_URL: database });
    const viaEnv = await runCli(["search", "mistral Rhône valley", "--json", "--data-dir", dir, "--embedder", "hash:64"], { env });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(JSON.parse(viaEnv.stdout).results[0].doc_id).toMatch(/winds\.md$/);

    const status = await runCli(["status", "--json", ...flags]);
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as { database: string; chunks: number; vectors: { uri: string } };
    expect(report).toMatchObject({ chunks: 2, vectors: { uri: join(dir, "lance") } });
    expect(report.database).toBe(database.replace(/:[^:@/]+@/, ":***@"));
    const human = await runCli(["status", ...flags]);
    expect(human.stdout).toMatch(/^database +postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/t_/m);
    expect(human.stdout).not.toContain(new URL(database).password);

    expect((await runCli(["gc", ...flags])).code).toBe(0);
    const verify = await runCli(["verify", ...flags]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const reindex = await runCli(["reindex", ...flags.slice(0, 2), "--embedder", "hash:32", "--database", database]);
    expect(reindex.code, reindex.stderr).toBe(0);
    const after = await runCli(["search", "neap tides quarters", "--json", "--data-dir", dir, "--database", database]);
    expect(after.code, after.stderr).toBe(0);
    expect(JSON.parse(after.stdout).results[0].doc_id).toMatch(/tides\.md$/);
  });

  it("with --vectors s3://... the store is PostgreSQL plus object storage, and nothing is written to the data directory's lance/", async () => {
    const dir = tempDir();
    const database = await postgresStoreUrl(dir);
    const vectors = `s3://vectors/pg/${randomUUID()}`;
    const flags = ["--data-dir", dir, "--embedder", "hash:64", "--database", database, "--vectors", vectors, "--s3-endpoint", s3.url];
    const env = cleanEnv(S3_ENV);
    const ingest = await runCli(["ingest", docsFolder(), ...flags], { env });
    expect(ingest.code, ingest.stderr).toBe(0);
    const search = await runCli(["search", "neap tides quarters", "--json", ...flags], { env });
    expect(search.code, search.stderr).toBe(0);
    expect(JSON.parse(search.stdout).results[0].doc_id).toMatch(/tides\.md$/);
    const status = await runCli(["status", "--json", ...flags], { env });
    expect(JSON.parse(status.stdout)).toMatchObject({ chunks: 2, vectors: { uri: vectors } });
    const verify = await runCli(["verify", ...flags], { env });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(existsSync(join(dir, "lance"))).toBe(false);
    // A replica started without --vectors would read and write other tables: refused, naming the store's location.
    const elsewhere = await runCli(["status", "--data-dir", dir, "--database", database], { env });
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toContain(`start it with --vectors ${vectors}`);
  });

  it("a URL that is not PostgreSQL's is a usage error (exit 2); an unreachable server, a wrong password or a missing store exit 1 naming --database, without a stack trace", async () => {
    const dir = tempDir();
    const notPostgres = await runCli(["status", "--data-dir", dir, "--database", "mysql://root:secret@localhost/db"]);
    expect(notPostgres.code).toBe(2);
    expect(notPostgres.stderr).toMatch(/--database must be a PostgreSQL URL such as postgres:\/\/user@host:5432\/retrieval/);
    expect(notPostgres.stderr).not.toContain("secret");
    const unparseable = await runCli(["status", "--data-dir", dir, "--database", "postgres://me:p@ss@127.0.0.1:99999/db"]);
    expect(unparseable.code).toBe(2);
    expect(unparseable.stderr).toMatch(/--database is not a valid URL: check the port \(at most 65535\).*percent-encode/);
    expect(unparseable.stderr).not.toContain("p@ss");

    const server = new URL(postgresServerUrl());
    const closed = new URL(server);
    closed.port = "1";
    const wrong = new URL(server);
    wrong.password = "wrong-password";
    const docs = docsFolder();
    for (const url of [closed, wrong]) {
      const result = await runCli(["ingest", docs, "--data-dir", dir, "--embedder", "hash:64", "--database", url.toString()]);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(/Cannot use the PostgreSQL database postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres: .*Check --database \(or RETRIEVAL_MCP_DATABASE_URL\)/);
      expect(result.stderr).not.toContain("wrong-password");
      expect(result.stderr).not.toMatch(/^\s+at /m);
    }
    // A database without a store: commands that only look create nothing and say so.
    const empty = await postgresStoreUrl(tempDir());
    const status = await runCli(["status", "--data-dir", dir, "--database", empty]);
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(/holds no retrieval-mcp store yet, so there is nothing to read\. Check --database/);
  });
});
