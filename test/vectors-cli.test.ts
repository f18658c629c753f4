import { randomUUID } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, cleanEnv, runCli } from "./helpers/cli.js";
import { closedEndpoint, S3_ENV, startS3rver, type S3Endpoint } from "./helpers/s3.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();
let s3: S3Endpoint;

beforeAll(async () => {
  assertBuilt();
  s3 = await startS3rver(["vectors"]);
});
afterAll(() => s3.stop());

describe("--vectors and --s3-endpoint on the command line", () => {
  it("refuses locations and endpoints it cannot use with exit code 2 and what to write instead", async () => {
    const dir = tempDir();
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["--vectors", "gs://bucket/prefix"], {}, /directory or an s3:\/\/bucket\/prefix URI, got "gs:\/\/bucket\/prefix": gs:\/\/ storage is not supported/],
      [["--vectors", "s3://Bad_Bucket/x"], {}, /"bad_bucket" is not a bucket name|is not a bucket name/],
      [["--vectors", "s3://bucket/x?versionId=1"], {}, /without a port, user, query or fragment/],
      [["--vectors", "s3://bucket/x", "--s3-endpoint", "http://192.0.2.7:9000"], {}, /plain HTTP to another machine.*https:\/\/.*AWS_ALLOW_HTTP=true/],
      [["--vectors", "s3://bucket/x", "--s3-endpoint", "ftp://127.0.0.1"], {}, /--s3-endpoint must be an http:\/\/ or https:\/\/ URL/],
      [["--vectors", join(dir, "v"), "--s3-endpoint", "http://127.0.0.1:9000"], {}, /--s3-endpoint applies to s3:\/\/ vectors only/],
      [["--vectors", "s3://bucket/x"], { AWS_ACCESS_KEY_ID: "key-only" }, /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together: AWS_SECRET_ACCESS_KEY is missing/],
      [[], { RETRIEVAL_MCP_VECTORS: "az://container/x" }, /az:\/\/ storage is not supported/],
    ];
    for (const [flags, env, pattern] of cases) {
      const result = await runCli(["status", "--data-dir", dir, ...flags], { env: cleanEnv(env) });
      expect(result.code, flags.join(" ")).toBe(2);
      expect(result.stderr).toMatch(pattern);
    }
    expect(existsSync(join(dir, "metadata.db"))).toBe(false);
  });

  it("ingest, search, status, gc and verify run on s3:// vectors, with the location from RETRIEVAL_MCP_VECTORS too", async () => {
    const dir = tempDir();
    const docs = tempDir();
    writeFileSync(join(docs, "tides.md"), "# Tides\n\nSpring tides follow the full and new moon; neap tides the quarters.\n");
    const vectors = `s3://vectors/cli/${randomUUID()}`;
    const common = ["--data-dir", dir, "--embedder", "hash:64", "--s3-endpoint", s3.url];
    const env = cleanEnv({ ...S3_ENV, RETRIEVAL_MCP_VECTORS: vectors });

    const ingest = await runCli(["ingest", docs, ...common], { env });
    expect(ingest.code, ingest.stderr).toBe(0);
    expect(ingest.stderr.match(/vectors at s3:\/\/vectors\/cli\/\S+: the object store ignored If-None-Match/g)).toHaveLength(1);
    const search = await runCli(["search", "neap tides quarters", "--json", ...common], { env });
    expect(search.code, search.stderr).toBe(0);
    expect(JSON.parse(search.stdout).results[0].doc_id).toMatch(/tides\.md$/);
    const status = await runCli(["status", ...common], { env });
    expect(status.stdout).toMatch(new RegExp(`vectors +${vectors.replace(/[/.]/g, "\\$&")} \\(the object store ignored If-None-Match`));
    expect((await runCli(["gc", ...common], { env })).code).toBe(0);
    const verify = await runCli(["verify", ...common], { env });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(existsSync(join(dir, "lance"))).toBe(false);
  });

  it("an unreachable endpoint fails the command with exit code 1 and the flag to check, without a stack trace", async () => {
    // A folder with a file to index, so the command has to reach the vectors.
    const docs = tempDir();
    writeFileSync(join(docs, "note.md"), "Nothing reaches a closed port.\n");
    const result = await runCli(["ingest", docs, "--data-dir", tempDir(), "--embedder", "hash:64", "--vectors", "s3://vectors/x", "--s3-endpoint", await closedEndpoint()], {
      env: cleanEnv(S3_ENV),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Cannot reach the object store for s3:\/\/vectors\/x at http:\/\/127\.0\.0\.1:\d+ .*Check --s3-endpoint/);
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});
