import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Store } from "./store/store.js";
import type { RegisterTool } from "./tools/context.js";
import { registerDeleteChunk } from "./tools/delete-chunk.js";
import { registerEmbeddingStatus } from "./tools/embedding-status.js";
import { registerGetChunk } from "./tools/get-chunk.js";
import { registerIndexChunk } from "./tools/index-chunk.js";
import { registerIndexChunks } from "./tools/index-chunks.js";
import { registerSemanticSearch } from "./tools/semantic-search.js";
import { answerInputErrorsInSentences } from "./tools/input-errors.js";

export interface ServerOptions {
  /**
   * Called on every tool call, never before: `initialize` and `tools/list`
   * must not wait for a model or a Lance table. Pass `lazyStore(...).get` so
   * the store opens once and every session shares it.
   */
  openStore: () => Promise<Store>;
  version: string;
  /** Diagnostics; the caller routes them to stderr. */
  log?: (message: string) => void;
}

const TOOLS: RegisterTool[] = [
  registerIndexChunk,
  registerIndexChunks,
  registerSemanticSearch,
  registerDeleteChunk,
  registerEmbeddingStatus,
  registerGetChunk,
];

const INSTRUCTIONS =
  "Durable semantic retrieval. index_chunk / index_chunks store text (with optional doc_id, collection and flat metadata); " +
  "semantic_search finds chunks by meaning and exact words; get_chunk reads whole chunks; delete_chunk removes them; embedding_status reports progress and health. " +
  "A chunk acknowledged as committed survives crashes.";

/** One MCP server (one session) over the shared store; connect it to exactly one transport. */
export function createServer(options: ServerOptions): McpServer {
  const server = new McpServer({ name: "retrieval-mcp", version: options.version }, { capabilities: { tools: {} }, instructions: INSTRUCTIONS });
  const context = { openStore: options.openStore, log: options.log ?? (() => undefined) };
  answerInputErrorsInSentences(server);
  for (const register of TOOLS) register(server, context);
  return server;
}
