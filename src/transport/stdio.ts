import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";

export interface StdioOptions {
  server: McpServer;
  /** Releases what the server used (the store: SQLite and Lance); runs once, after the server stopped. */
  onClose: () => Promise<void>;
  log?: (message: string) => void;
}

/**
 * On stdio, stdout belongs to JSON-RPC: one stray line from a dependency
 * (a model loader's banner, a debug print) corrupts the client's stream.
 * The transport writes to process.stdout directly, so console output can go
 * to stderr without touching the protocol.
 */
function keepConsoleOffStdout(): void {
  const toStderr = (...args: unknown[]) => console.error(...args);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
}

/**
 * Serves one client over stdin/stdout. Resolves once the session has ended
 * (stdin EOF, SIGINT, SIGTERM, or stdout gone) and everything is closed; the
 * caller then exits.
 */
export function runStdio(options: StdioOptions): Promise<void> {
  const log = options.log ?? (() => undefined);
  keepConsoleOffStdout();
  const transport = new StdioServerTransport();
  return new Promise((resolve, reject) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      // A second Ctrl-C means the user will not wait for a clean shutdown. A
      // SIGTERM meanwhile does not: MCP clients send one a moment after
      // closing stdin, while the store may still be finishing a write.
      if (stopping && signal === "SIGINT") process.exit(130);
      stop(signal);
    };
    const onEnd = () => stop("stdin closed");
    const onStdoutError = () => stop("stdout closed");

    function stop(reason: string): void {
      if (stopping) return;
      stopping = true;
      log(`stopping (${reason})`);
      process.stdin.off("end", onEnd);
      process.stdout.off("error", onStdoutError);
      void (async () => {
        try {
          // Aborts in-flight tool calls, so their embedding stops and nothing half-done is acknowledged.
          await options.server.close();
        } catch (error) {
          log(`closing the MCP session failed: ${String(error)}`);
        }
        try {
          await options.onClose();
        } catch (error) {
          log(`closing the store failed: ${String(error)}`);
        }
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        resolve();
      })();
    }

    process.stdin.once("end", onEnd);
    process.stdout.on("error", onStdoutError);
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    transport.onclose = () => stop("transport closed");
    options.server.connect(transport).catch(reject);
  });
}
