import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { LoggingMessageNotificationSchema, type CallToolResult, type LoggingMessageNotification } from "@modelcontextprotocol/sdk/types.js";
import { CLI, cleanEnv } from "./cli.js";

export interface Connected {
  client: Client;
  /** Log notifications received so far, in order. */
  logs: LoggingMessageNotification["params"][];
  /** Transport and protocol errors the client saw (a stray line on stdout is one). */
  errors: Error[];
  call: (name: string, args: Record<string, unknown>) => Promise<CallToolResult>;
  close: () => Promise<void>;
}

function wrap(client: Client, close: () => Promise<void>): Connected {
  const logs: LoggingMessageNotification["params"][] = [];
  const errors: Error[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params));
  client.onerror = (error) => void errors.push(error);
  return { client, logs, errors, call: async (name, args) => (await client.callTool({ name, arguments: args })) as CallToolResult, close };
}

/** The SDK's client over stdio to `node dist/cli.js <args>`, as an MCP host launches it. */
export async function connectStdio(args: readonly string[], env: Record<string, string> = {}): Promise<Connected & { stderr: () => string }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, ...args], env: cleanEnv(env) as Record<string, string>, stderr: "pipe" });
  let stderr = "";
  transport.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const client = new Client({ name: "stdio-test", version: "1" });
  const connected = wrap(client, () => client.close());
  await client.connect(transport);
  return { ...connected, stderr: () => stderr };
}

/** The SDK's client over Streamable HTTP, with a bearer token when given. */
export async function connectHttp(url: string, token?: string): Promise<Connected> {
  const transport = new StreamableHTTPClientTransport(new URL(url), token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : undefined);
  const client = new Client({ name: "http-test", version: "1" });
  const connected = wrap(client, () => client.close());
  await client.connect(transport);
  return connected;
}

export interface ServingProcess {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  /** SIGTERM, then the exit code. */
  stop: () => Promise<number | null>;
}

/** `node dist/cli.js serve --transport http --port 0 <args>`, resolved once it says where it listens. */
export async function serveHttp(args: readonly string[], env: Record<string, string> = {}): Promise<ServingProcess> {
  const child = spawn(process.execPath, [CLI, "serve", "--transport", "http", "--port", "0", ...args], { env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  const exited = once(child, "exit");
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      const match = /listening on (http:\/\/\S+\/mcp)/.exec(stderr);
      if (match) resolve(match[1]!);
    });
    child.once("exit", () => reject(new Error(`serve exited early: ${stderr}`)));
  });
  return {
    url,
    child,
    stderr: () => stderr,
    stop: async () => {
      child.kill("SIGTERM");
      const [code] = await exited;
      return code as number | null;
    },
  };
}
