import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { beforeAll, describe, expect, it } from "vitest";
import { assertBuilt } from "./helpers/cli.js";
import { ok } from "./helpers/mcp.js";
import { collect, type ProcessResult } from "./helpers/processes.js";
import { useTempDirs } from "./helpers/tmp.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const tempDir = useTempDirs();

beforeAll(assertBuilt);

/**
 * npm as a user runs it: from a folder outside the project, so the
 * project's .npmrc does not apply, and without the npm_config_* variables
 * `npm test` passes down to its children.
 */
function npm(args: readonly string[], cwd: string): Promise<ProcessResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_(config|package|lifecycle)_/i.test(key) && key !== "INIT_CWD"));
  // At the lowest priority: compiling better-sqlite3 where its prebuilt binary cannot be fetched
  // takes both cores for minutes, and the suite's timing-sensitive tests run beside it.
  return collect(spawn("nice", ["-n", "19", "npm", ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] }));
}

describe("the packed package, installed as the README says", () => {
  it("installs with plain `npm install -g --prefix <tmp>` from the npm registry alone, without the optional S3 client and transformers, and its binary answers an MCP client", async () => {
    const work = tempDir();
    // dist/ is built by `npm ci` (prepare); packing again must not rebuild it under the other tests' feet.
    const packed = await npm(["pack", "--ignore-scripts", "--pack-destination", work, ROOT], work);
    expect(packed.code, packed.stderr).toBe(0);
    const tarball = readdirSync(work).find((f) => /^retrieval-mcp-\d+\.\d+\.\d+\.tgz$/.test(f));
    expect(tarball).toBeDefined();

    const prefix = join(work, "prefix");
    const installed = await npm(["install", "-g", "--prefix", prefix, "--no-audit", "--no-fund", `./${tarball}`], work);
    expect(installed.code, installed.stderr).toBe(0);
    const bin = join(prefix, "bin", "retrieval-mcp");
    expect(existsSync(bin)).toBe(true);
    // The optional transformers provider (whose onnxruntime installer downloads from outside the registry) is not pulled in.
    expect(existsSync(join(prefix, "lib", "node_modules", "retrieval-mcp", "node_modules", "@huggingface", "transformers"))).toBe(false);

    const transport = new StdioClientTransport({ command: bin, args: ["--data-dir", join(work, "data")], stderr: "pipe" });
    let stderr = "";
    transport.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const client = new Client({ name: "install-test", version: "1" });
    await client.connect(transport);
    try {
      expect(client.getServerVersion()).toMatchObject({ name: "retrieval-mcp" });
      expect((await client.listTools()).tools).toHaveLength(6);
      // The default embedder, auto, falls back to the model that ships with the package.
      const indexed = (await client.callTool({ name: "index_chunk", arguments: { chunk_id: "t", text: "tides follow the moon" } })) as CallToolResult;
      expect(ok(indexed)).toMatchObject({ status: "committed" });
      const found = (await client.callTool({ name: "semantic_search", arguments: { query: "moon and tides", k: 1 } })) as CallToolResult;
      expect(ok(found).model).toBe("offline:universal-sentence-encoder-lite");
    } finally {
      await client.close();
    }
    expect(stderr).toContain("embedder auto: transformers:Xenova/all-MiniLM-L6-v2 is unavailable (the optional package @huggingface/transformers is not installed)");

    // The S3 client is not pulled in either: s3:// vectors say what to install, and nothing is created.
    expect(existsSync(join(prefix, "lib", "node_modules", "retrieval-mcp", "node_modules", "@aws-sdk", "client-s3"))).toBe(false);
    const s3Data = join(work, "s3-data");
    mkdirSync(s3Data);
    const s3 = await collect(spawn(bin, ["status", "--data-dir", s3Data, "--vectors", "s3://bucket/prefix"], { stdio: ["ignore", "pipe", "pipe"] }));
    expect(s3.code, s3.stderr).toBe(1);
    // The version it names is the one package.json asks for.
    const { peerDependencies } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { peerDependencies: Record<string, string> };
    expect(s3.stderr).toContain(`s3:// vectors need the optional package @aws-sdk/client-s3@${peerDependencies["@aws-sdk/client-s3"]}, which is not installed`);
  }, 900_000);
});
