import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

/** Fails with the fix in the message: `npm ci` builds dist through `prepare`, a fresh edit needs `npm run build`. */
export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm ci runs it through prepare) before the CLI tests.`);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without the user's RETRIEVAL_MCP_* settings, so flags alone decide. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("RETRIEVAL_MCP_")));
  return { ...env, ...extra };
}

/** The command line that runs the CLI, as another user (through runuser, which needs root) when one is named. */
export function cliCommand(args: readonly string[], user?: string): { command: string; args: string[] } {
  const node = [process.execPath, CLI, ...args];
  return user ? { command: "runuser", args: ["-u", user, "--", ...node] } : { command: node[0]!, args: node.slice(1) };
}

/** Runs `node dist/cli.js ...args` to completion, as `user` when given. */
export function runCli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; user?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const { command, args: argv } = cliCommand(args, options.user);
    const child = spawn(command, argv, { env: options.env ?? cleanEnv(), cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
