import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { CallToolResult, ContentBlock, ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import { AccessError, type Access } from "../auth/access.js";
import { StoreError, errorMessage } from "../store/errors.js";
import type { Store } from "../store/store.js";
import type { IngestActivity } from "../sync/activity.js";

export interface ToolContext {
  /** Opens the store on first use; must be memoised and shared (see lazyStore). */
  openStore: () => Promise<Store>;
  /** Failures worth the operator's attention: stderr, and this session's client as an error log notification. */
  log: (message: string) => void;
  /** This process's file ingestion (watched folders, ingest_files runs), when it does any. */
  activity?: IngestActivity;
  /** What a call did, for clients that set logging/setLevel to debug. */
  debug: (message: string) => void;
  /** What this session's credentials allow (tools/list, collections). */
  access: Access;
}

export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export type RegisterTool = (server: McpServer, context: ToolContext) => void;

/**
 * Store errors carry a message written for the caller; anything else is a
 * bug or an environment failure whose details belong in the server log, not
 * in the agent's context.
 */
export function errorResult(error: unknown, log: (message: string) => void): CallToolResult {
  if (error instanceof StoreError || error instanceof AccessError) return { isError: true, content: [{ type: "text", text: error.message }] };
  log(`tool failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return {
    isError: true,
    content: [{ type: "text", text: `The server failed unexpectedly: ${errorMessage(error)}. Nothing was acknowledged; retry, and see the server log (stderr) if it persists.` }],
  };
}

/** Opens the store, runs the work and answers with structured content plus a text rendering, or with an error result. */
export async function runTool<T extends Record<string, unknown>>(
  context: ToolContext,
  work: (store: Store) => Promise<T> | T,
  render: (output: T) => string,
  /** Content after the text rendering, e.g. a resource link per search hit. */
  more: (output: T) => ContentBlock[] = () => [],
): Promise<CallToolResult> {
  try {
    const output = await work(await context.openStore());
    return { structuredContent: output, content: [{ type: "text", text: render(output) }, ...more(output)] };
  } catch (error) {
    return errorResult(error, context.log);
  }
}
