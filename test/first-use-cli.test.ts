import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CLI, assertBuilt, cleanEnv, runCli } from "./helpers/cli.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();

beforeAll(assertBuilt);

describe("the command line as a new user meets it", () => {
  it("takes flags before the command", async () => {
    const dataDir = tempDir();
    const status = await runCli(["--data-dir", dataDir, "--embedder", "hash:64", "status"]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`data dir        ${dataDir}`);
    const search = await runCli(["--data-dir", dataDir, "search", "-k", "2", "--embedder", "hash:64", "nothing", "here"]);
    expect(search.code, search.stderr).toBe(0);
    expect(search.stdout).toMatch(/^No results/);
    const unknown = await runCli(["--data-dir", dataDir, "statu"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown command "statu"');
  });

  it("refuses an unknown --dtype as a usage error", async () => {
    const result = await runCli(["status", "--dtype", "int4", "--data-dir", tempDir()]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--dtype must be one of fp32, fp16, q8, got "int4".');
  });

  it.each([["status"], ["search", "anything"], ["verify"], ["gc"]])("%s on a data directory that does not exist says so, exits 1 and creates nothing", async (...args) => {
    const missing = join(tempDir(), "typo", "index");
    const result = await runCli([...args, "--data-dir", missing, "--embedder", "hash:64"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`The data directory ${missing} does not exist`);
    expect(result.stdout).toBe("");
    expect(existsSync(missing)).toBe(false);
    expect(existsSync(join(missing, ".."))).toBe(false);
  });

  it("says on stderr that it is an MCP server waiting for a client when stdin is a terminal", async () => {
    // `script` gives the server a pseudo-terminal as stdin, as a shell would.
    const command = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} --data-dir ${JSON.stringify(tempDir())} --embedder hash:64`;
    const child = spawn("script", ["-qec", command, "/dev/null"], { env: cleanEnv(), stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (output += d));
    const exited = new Promise((resolve) => child.once("exit", resolve));
    await expect.poll(() => output, { timeout: 30_000 }).toContain("waiting for an MCP client");
    expect(output).toMatch(/retrieval-mcp: this is an MCP server.*claude mcp add retrieval -- retrieval-mcp/s);
    child.kill("SIGTERM");
    await exited;
  });

  it("does not print the terminal hint when a client drives stdin", async () => {
    const result = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, [CLI, "--data-dir", tempDir(), "--embedder", "hash:64"], { env: cleanEnv(), stdio: ["pipe", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.once("exit", () => resolve(stderr));
      child.stdin.end();
    });
    expect(result).not.toContain("waiting for an MCP client");
  });
});
