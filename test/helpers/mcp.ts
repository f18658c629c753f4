import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult, JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { lazyStore, type LazyStore } from "../../src/lazy-store.js";
import { createServer } from "../../src/server.js";
import type { Store } from "../../src/store/store.js";
import { CLI, cleanEnv } from "./cli.js";
import { openStore } from "./store.js";

export interface Session {
  client: Client;
  store: LazyStore;
  /** How often the server asked for the store. */
  opens: () => number;
  call: (name: string, args: Record<string, unknown>) => Promise<CallToolResult>;
  close: () => Promise<void>;
}

/** A real client and server over an in-memory pair, on a real store in `dataDir`. */
export async function connectInMemory(dataDir: string, open: () => Promise<Store> = () => openStore(dataDir)): Promise<Session> {
  let opens = 0;
  const store = lazyStore(open);
  const server = createServer({
    openStore: () => {
      opens++;
      return store.get();
    },
    version: "test",
  });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  const client = new Client({ name: "test", version: "1.0.0" });
  await client.connect(clientTransport);
  return {
    client,
    store,
    opens: () => opens,
    call: async (name, args) => (await client.callTool({ name, arguments: args })) as CallToolResult,
    close: async () => {
      await client.close();
      await server.close();
      await store.close();
    },
  };
}

export function textOf(result: CallToolResult): string {
  return result.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
}

/** The structured content of a successful call; fails loudly with the error text otherwise. */
export function ok<T = Record<string, any>>(result: CallToolResult): T {
  if (result.isError) throw new Error(`tool failed: ${textOf(result)}`);
  return result.structuredContent as T;
}

export interface StdioSession {
  client: Client;
  /**
   * Every message the server sent, in order, as the transport read it. The
   * SDK's client hands notifications to their handlers a microtask later,
   * so it drops progress that arrives in the same read as the response;
   * tests of what the server sends look here.
   */
  received: JSONRPCMessage[];
  call: (name: string, args: Record<string, unknown>) => Promise<CallToolResult>;
  /** What the server wrote to stderr so far. */
  stderr: () => string;
  close: () => Promise<void>;
}

/** The SDK's client over real stdio to `node dist/cli.js serve ...args`, as an MCP host runs it. */
export async function connectStdio(args: readonly string[]): Promise<StdioSession> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, "serve", ...args], env: cleanEnv() as Record<string, string>, stderr: "pipe" });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: "test-stdio", version: "1.0.0" });
  await client.connect(transport);
  const received: JSONRPCMessage[] = [];
  const deliver = transport.onmessage;
  transport.onmessage = (message) => {
    received.push(message);
    deliver?.(message);
  };
  return {
    client,
    received,
    call: async (name, args) => (await client.callTool({ name, arguments: args })) as CallToolResult,
    stderr: () => stderr,
    close: () => client.close(),
  };
}
