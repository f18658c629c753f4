import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { LoggingLevelSchema, SetLevelRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { FULL_ACCESS, type Access } from "./auth/access.js";
import { logger as processLogger, type LogLevel, type LogSink, type Logger } from "./log/logger.js";
import { registerAnswerPrompt } from "./prompts/answer.js";
import { registerChunkResource } from "./resources/chunk-resource.js";
import type { Store } from "./store/store.js";
import type { IngestActivity } from "./sync/activity.js";
import type { AllowedFolder } from "./sync/allowed-paths.js";
import type { RegisterTool } from "./tools/context.js";
import { registerDeleteChunk } from "./tools/delete-chunk.js";
import { registerEmbeddingStatus } from "./tools/embedding-status.js";
import { registerGetChunk } from "./tools/get-chunk.js";
import { registerIndexChunk } from "./tools/index-chunk.js";
import { registerIndexChunks } from "./tools/index-chunks.js";
import { registerIngestFiles } from "./tools/ingest-files.js";
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
  /** Diagnostics: stderr, and this session's client as log notifications. Default: the process's logger. */
  logger?: Logger;
  /** What this session's credentials allow; default everything (stdio, a single shared HTTP token). */
  access?: Access;
  /** Folders agents may ingest from (--allow-ingest); ingest_files is listed only when there are some. */
  allowIngest?: readonly AllowedFolder[];
  /** Ingestion this process does (--watch, ingest_files), reported by embedding_status. */
  activity?: IngestActivity;
}

/** Tools that change the store; sessions with read access neither see nor call them. */
const WRITE_TOOLS: RegisterTool[] = [registerIndexChunk, registerIndexChunks, registerDeleteChunk];
const READ_TOOLS: RegisterTool[] = [registerSemanticSearch, registerEmbeddingStatus, registerGetChunk];

const INSTRUCTIONS =
  "Durable semantic retrieval. index_chunk / index_chunks store text (with optional doc_id, collection and flat metadata); " +
  "semantic_search finds chunks by meaning and exact words; get_chunk reads whole chunks; delete_chunk removes them; embedding_status reports progress and health. " +
  "A chunk acknowledged as committed survives crashes. Every hit has a chunk://collection/chunk_id URI, readable with resources/read; cite chunks by it. " +
  "The answer_from_store prompt answers a question from the store with such citations.";

/** One MCP server (one session) over the shared store; connect it to exactly one transport. */
export function createServer(options: ServerOptions): McpServer {
  const logger = options.logger ?? processLogger;
  const server = new McpServer(
    { name: "retrieval-mcp", version: options.version },
    { capabilities: { tools: {}, resources: {}, prompts: {}, logging: {} }, instructions: INSTRUCTIONS },
  );
  const access = options.access ?? FULL_ACCESS;
  const toClient = sessionSink(server);
  const context = {
    openStore: options.openStore,
    log: (message: string) => logger.log("error", message, toClient),
    debug: (message: string) => logger.log("debug", message, toClient),
    access,
    ...(options.activity ? { activity: options.activity } : {}),
  };
  answerInputErrorsInSentences(server);
  // Ingesting files changes the store: a write tool, and only where the operator allowed folders.
  const ingest = options.allowIngest && options.allowIngest.length > 0 ? [registerIngestFiles(options.allowIngest)] : [];
  for (const register of access.scope === "write" ? [...WRITE_TOOLS, ...ingest, ...READ_TOOLS] : READ_TOOLS) register(server, context);
  registerChunkResource(server, context);
  registerAnswerPrompt(server, context);
  // Log notifications start once the session is initialized and stop with it.
  let detach = (): void => undefined;
  server.server.oninitialized = () => (detach = logger.attach(toClient));
  server.server.onclose = () => detach();
  return server;
}

const SEVERITY: readonly LogLevel[] = LoggingLevelSchema.options;

/**
 * Sends log lines to this session's client from the level it asked for with
 * logging/setLevel on, `info` until it asks: debug lines (one per search)
 * are for clients that want them.
 */
function sessionSink(server: McpServer): LogSink {
  let threshold = SEVERITY.indexOf("info");
  server.server.setRequestHandler(SetLevelRequestSchema, (request) => {
    threshold = SEVERITY.indexOf(request.params.level);
    return {};
  });
  return (level, message) => {
    if (SEVERITY.indexOf(level) < threshold) return;
    // A client that went away cannot be told; logging must never fail the work it describes.
    server.server.notification({ method: "notifications/message", params: { level, logger: "retrieval-mcp", data: message } }).catch(() => undefined);
  };
}
