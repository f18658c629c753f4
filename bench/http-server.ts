import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

export interface HttpServerProcess {
  url: string;
  /** The server's own process (node dist/cli.js), for /proc sampling. */
  pid: number;
  stop(): Promise<void>;
}

/**
 * On Linux `serve --transport http` runs itself again as a child with an
 * allocator setting (src/commands/allocator.ts): the child is the server.
 */
function servingProcess(pid: number): number {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    return children.length > 0 ? Number(children[0]) : pid;
  } catch {
    return pid;
  }
}

/** `node dist/cli.js serve --transport http` on a free port; resolves once it listens. */
export async function startHttpServer(dataDir: string, embedder: string, extraArgs: readonly string[] = []): Promise<HttpServerProcess> {
  const child = spawn(process.execPath, [CLI, "serve", "--transport", "http", "--port", "0", "--data-dir", dataDir, "--embedder", embedder, ...extraArgs], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      const match = /listening on (http:\/\/\S+\/mcp)/.exec(stderr);
      if (match) resolve(match[1]!);
    });
    child.once("exit", () => reject(new Error(`the HTTP server exited: ${stderr}`)));
  });
  return {
    url,
    pid: servingProcess(child.pid!),
    async stop() {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    },
  };
}
